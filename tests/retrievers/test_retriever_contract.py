"""Behaviour every localchain retriever shares, applied to each one (BM25, dense, hybrid,
rerank, and the same over Qdrant): LangChain's Runnable interface, scores and ranks in
metadata, copies, per-call k, empty queries refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from localchain.errors import EmptyQueryError
from localchain.retrievers.bm25 import BM25Retriever
from localchain.retrievers.dense import DenseRetriever
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.qdrant_search import QdrantBM25Retriever, QdrantHybridRetriever
from localchain.retrievers.rerank import Reranker, RerankRetriever

QUERY = "how precise was the science"


class ByLength(Reranker):
    """A deterministic stand-in reranker: shorter passages first."""

    def score(self, query, documents):
        return [-float(len(d.page_content)) for d in documents]


def _bm25(store, chunks):
    return BM25Retriever.from_documents(chunks, k=2)


def _dense(store, chunks):
    return DenseRetriever(store=store, k=2)


def _hybrid(store, chunks):
    return HybridRetriever(
        retrievers={"dense": _dense(store, chunks), "bm25": _bm25(store, chunks)}, k=2
    )


def _rerank(store, chunks):
    return RerankRetriever(base=_hybrid(store, chunks), reranker=ByLength(), shortlist_k=5, k=2)


def _qdrant_bm25(store, chunks):
    return QdrantBM25Retriever(store=store, k=2)


def _qdrant_dense(store, chunks):
    return DenseRetriever(store=store, k=2)


def _qdrant_hybrid(store, chunks):
    return QdrantHybridRetriever(store=store, k=2)


def _qdrant_rerank(store, chunks):
    return RerankRetriever(
        base=_qdrant_hybrid(store, chunks), reranker=ByLength(), shortlist_k=5, k=2
    )


MAKERS: dict[str, Callable[..., BaseRetriever]] = {
    "bm25": _bm25,
    "dense": _dense,
    "hybrid": _hybrid,
    "rerank": _rerank,
}
# The same retrievers over a Qdrant collection (local mode) holding the same vectors.
QDRANT_MAKERS: dict[str, Callable[..., BaseRetriever]] = {
    "qdrant-bm25": _qdrant_bm25,
    "qdrant-dense": _qdrant_dense,
    "qdrant-hybrid": _qdrant_hybrid,
    "qdrant-rerank": _qdrant_rerank,
}


@pytest.fixture(params=sorted(MAKERS) + sorted(QDRANT_MAKERS))
def retriever(request, book_store, book_chunks) -> BaseRetriever:
    if request.param in QDRANT_MAKERS:
        return QDRANT_MAKERS[request.param](request.getfixturevalue("book_qdrant"), book_chunks)
    return MAKERS[request.param](book_store, book_chunks)


def test_is_a_langchain_retriever_with_scores_and_ranks(retriever) -> None:
    assert isinstance(retriever, BaseRetriever)
    hits = retriever.invoke(QUERY)
    assert 1 <= len(hits) <= 2
    assert [h.metadata["rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.metadata["score"] for h in hits]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert all(h.id and h.metadata["source"].endswith("interstellar.txt") for h in hits)


def test_batch_and_async_agree_with_invoke(retriever) -> None:
    import asyncio

    one = [h.id for h in retriever.invoke(QUERY)]
    assert [[h.id for h in hits] for hits in retriever.batch([QUERY, QUERY])] == [one, one]
    assert [h.id for h in asyncio.run(retriever.ainvoke(QUERY))] == one


def test_per_call_k(retriever) -> None:
    assert len(retriever.invoke("Interstellar film", k=1)) == 1


def test_results_are_copies(retriever) -> None:
    first = retriever.invoke(QUERY)
    first[0].metadata["score"] = -1.0
    first[0].page_content = "changed"
    again = retriever.invoke(QUERY)
    assert again[0].metadata["score"] != -1.0 and again[0].page_content != "changed"


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_refused(retriever, query: str) -> None:
    with pytest.raises(EmptyQueryError):
        retriever.invoke(query)


def test_composes_with_pipe(retriever) -> None:
    chain = retriever | (lambda docs: [d.page_content for d in docs])
    assert isinstance(chain.invoke(QUERY)[0], str)


def test_documents_keep_their_ids(retriever, book_chunks) -> None:
    ids = {c.id for c in book_chunks}
    assert all(isinstance(h, Document) and h.id in ids for h in retriever.invoke(QUERY))
