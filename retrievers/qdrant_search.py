"""Keyword and hybrid retrievers that search inside Qdrant (a :class:`~.qdrant_store.QdrantStore`).

:class:`QdrantBM25Retriever` asks the collection's BM25 sparse vectors;
:class:`QdrantHybridRetriever` asks dense and BM25 in one query, fused by reciprocal rank in
the engine. Both behave as :class:`~.bm25.BM25Retriever` and :class:`~.hybrid.HybridRetriever`
do: ``score`` and ``rank`` in each hit's metadata, ``invoke(query, k=...)`` per call, only
documents sharing a term on the BM25 side, :class:`~localchain.errors.EmptyQueryError` for an
empty query. (Fused hits carry no per-retriever ``fusion`` ranks: the engine does not return
them.)

Example:
    >>> from qdrant_client import QdrantClient
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> from localchain.retrievers.qdrant_store import Feedback, QdrantStore
    >>> store = QdrantStore(default_embeddings(), QdrantClient(":memory:"))
    >>> _ = store.add_texts(["Cats purr.", "Dogs bark at night.", "Birds sing."])
    >>> [d.page_content for d in QdrantBM25Retriever(store=store).invoke("why do dogs bark")]
    ['Dogs bark at night.']
    >>> QdrantHybridRetriever(store=store, k=1).invoke("a barking dog")[0].page_content
    'Dogs bark at night.'
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from localchain.errors import EmptyQueryError
from localchain.retrievers.qdrant_store import Feedback, QdrantStore

__all__ = ["QdrantBM25Retriever", "QdrantHybridRetriever"]


def _bm25_default(name: str) -> Any:
    from localchain.retrievers.bm25 import BM25Retriever

    return BM25Retriever.model_fields[name].default


def _check(query: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise EmptyQueryError(str(query), "the query is empty; ask with some words")
    return query


class _FeedbackSettings(BaseModel):
    """RM3 query feedback on the BM25 side, with :class:`~.bm25.BM25Retriever`'s defaults."""

    feedback_docs: int = Field(default_factory=lambda: _bm25_default("feedback_docs"), ge=0)
    """RM3 query feedback on the BM25 side, as :class:`~.bm25.BM25Retriever`'s (default 5;
    ``0`` turns it off): the query is expanded from this many best BM25 hits."""
    feedback_terms: int = Field(default_factory=lambda: _bm25_default("feedback_terms"), ge=1)
    """Expansion terms (BM25Retriever's default, 30)."""
    feedback_query_weight: float = Field(
        default_factory=lambda: _bm25_default("feedback_query_weight"), ge=0, le=1
    )
    """Share of the expanded query's weight kept by the original terms (0.4)."""

    def _feedback(self) -> Feedback | None:
        if not self.feedback_docs:
            return None
        return Feedback(self.feedback_docs, self.feedback_terms, self.feedback_query_weight)


class QdrantBM25Retriever(_FeedbackSettings, BaseRetriever):
    """BM25 over a Qdrant collection's sparse vectors (IDF computed by the engine).

    Example:
        >>> from qdrant_client import QdrantClient
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> store = QdrantStore(default_embeddings(), QdrantClient(":memory:"))
        >>> _ = store.add_texts(["Interstellar premiered in 2014.", "Tenet came out in 2020."])
        >>> QdrantBM25Retriever(store=store, k=1).invoke("when did interstellar premiere")[0].metadata["rank"]
        1
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: QdrantStore
    """The collection searched."""
    k: int = Field(default=4, ge=1)
    """Most hits per query."""
    filter: Any = None
    """A metadata filter dict (see :func:`.qdrant_points.qdrant_filter`) for every search."""

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: Any = None,
    ) -> list[Document]:
        terms = self.store.encoding.terms(_check(query), self.store.tokenizer)
        if not terms:
            raise EmptyQueryError(
                query,
                "no search terms are left after dropping stop words and punctuation; "
                "include a content word, or use dense retrieval for such queries",
            )
        return self.store.sparse_search(
            terms,
            k or self.k,
            filter if filter is not None else self.filter,
            feedback=self._feedback(),
        )


class QdrantHybridRetriever(_FeedbackSettings, BaseRetriever):
    """Dense + BM25 fused by reciprocal rank inside Qdrant (one query: prefetch + RRF).

    Scores are ``sum 1 / (rank_constant + rank)`` over the two lists, as
    :class:`~.hybrid.HybridRetriever` computes them; with ``score_threshold`` the dense side
    drops hits below it, so an unanswerable query returns ``[]``.

    Example:
        >>> from qdrant_client import QdrantClient
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> store = QdrantStore(default_embeddings(), QdrantClient(":memory:"))
        >>> _ = store.add_texts(["Cats purr.", "Dogs bark."])
        >>> round(QdrantHybridRetriever(store=store).invoke("dogs")[0].metadata["score"], 4)
        0.0328
        >>> round(2 / (60 + 1), 4)  # first in both lists
        0.0328
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: QdrantStore
    """The collection searched."""
    k: int = Field(default=4, ge=1)
    """Fused hits returned."""
    fetch_k: int = Field(default=20, ge=1)
    """Hits each side contributes before fusing."""
    rank_constant: int = Field(default=60, ge=1)
    """RRF's k (60, as in :class:`~.hybrid.HybridRetriever`)."""
    score_threshold: float | None = None
    """Dense cosine below which a hit does not enter the fusion; ``None`` keeps all."""
    filter: Any = None
    """A metadata filter dict for every search."""

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: Any = None,
    ) -> list[Document]:
        vector = self.store.embeddings.embed_query(_check(query))
        return self.store.hybrid_search(
            query,
            vector,
            k or self.k,
            fetch_k=self.fetch_k,
            rank_constant=self.rank_constant,
            filter=filter if filter is not None else self.filter,
            score_threshold=self.score_threshold,
            feedback=self._feedback(),
        )
