"""Docstring examples of the dense / hybrid / rerank / store / Qdrant modules run (in a temp folder:
several write files)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "embeddings",
    "faiss_index",
    "faiss_store",
    "faiss_io",
    "dense",
    "hybrid",
    "rerank",
    "llm_rerank",
    "cohere_api",
    "chunker_spec",
    "store",
    "store_manifest",
    "llamacpp_embeddings",
    "qdrant_connect",
    "qdrant_sparse",
    "qdrant_points",
    "qdrant_store",
    "qdrant_search",
    "qdrant_index",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"localchain.retrievers.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
    assert tried > 0 or name == "llamacpp_embeddings"
