"""LangChain's standard retriever suite (langchain-tests) run against localchain's BM25,
dense (FAISS over the bundled MiniLM) and hybrid retrievers, over the book's 15
Interstellar chunks."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from localchain.retrievers.bm25 import BM25Retriever
from localchain.retrievers.chunking import SeparatorChunker
from localchain.retrievers.dense import DenseRetriever
from localchain.retrievers.embeddings import default_embeddings
from localchain.retrievers.faiss_store import FaissStore
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.loaders import load_documents

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"
# Several chunks hold these words, so BM25 (which returns only matching chunks) has three.
QUERY = "Interstellar film science"


@cache
def _chunks() -> tuple[Document, ...]:
    return tuple(SeparatorChunker(".").split_documents(load_documents(INTERSTELLAR).documents))


@cache
def _store() -> FaissStore:
    # Built once: a retriever only reads it.
    return FaissStore.from_documents(list(_chunks()), default_embeddings())


class TestBM25Retriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[BM25Retriever]:
        return BM25Retriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"documents": list(_chunks())}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestDenseRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[DenseRetriever]:
        return DenseRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": _store()}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestHybridRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        dense = DenseRetriever(store=_store())
        return {"retrievers": {"dense": dense, "bm25": BM25Retriever(list(_chunks()))}}

    @property
    def retriever_query_example(self) -> str:
        return QUERY
