"""LangChain's standard vector-store suite (langchain-tests) run against FaissStore and
QdrantStore.

Each test gets a new, empty store over the suite's own deterministic fake embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from qdrant_client import QdrantClient

from localchain.retrievers.faiss_store import FaissSettings, FaissStore
from localchain.retrievers.qdrant_store import QdrantStore


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


class TestQdrantStore(VectorStoreIntegrationTests):
    """QdrantStore over Qdrant's local mode (in memory): the same contract as FaissStore."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[QdrantStore]:  # type: ignore[override]
        store = QdrantStore(self.get_embeddings(), QdrantClient(":memory:"))
        yield store
        store.close()
