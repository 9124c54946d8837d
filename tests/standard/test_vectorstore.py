"""LangChain's standard vector-store suite (langchain-tests) run against FaissStore.

Each test gets a new, empty store over the suite's own deterministic fake embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from localchain.retrievers.faiss_store import FaissSettings, FaissStore


class TestFaissStore(VectorStoreIntegrationTests):
    """The default flat cosine index."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[FaissStore]:  # type: ignore[override]
        yield FaissStore(self.get_embeddings())


class TestFaissStoreHNSW(VectorStoreIntegrationTests):
    """An HNSW index with L2 distance: deletions are tombstones, scores minus distances."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[FaissStore]:  # type: ignore[override]
        yield FaissStore(self.get_embeddings(), FaissSettings(kind="hnsw", metric="l2"))
