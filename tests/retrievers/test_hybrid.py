"""Reciprocal rank fusion: the book's parity case, weights, the rank constant, thresholds."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from localchain.retrievers.bm25 import BOOK_BM25, BM25Retriever
from localchain.retrievers.dense import MINILM_RELEVANCE_THRESHOLD, DenseRetriever
from localchain.retrievers.hybrid import HybridRetriever, reciprocal_rank_fusion

BOOK_QUERY = "how precise was the science"


@pytest.fixture
def parts(book_store, book_chunks):
    return {
        "dense": DenseRetriever(store=book_store, k=4),
        "bm25": BM25Retriever.from_documents(book_chunks, k=4, **BOOK_BM25),
    }


def test_plain_rrf_puts_kip_thorne_first(parts) -> None:
    hits = HybridRetriever(retrievers=parts, k=3).invoke(BOOK_QUERY)
    assert "Kip Thorne" in hits[0].page_content
    fusion = hits[0].metadata["fusion"]
    assert fusion["dense"]["rank"] == 2 and fusion["bm25"]["rank"] == 2
    assert hits[0].metadata["score"] == pytest.approx(2 / 62)
    assert (
        round(fusion["bm25"]["score"], 3) == 1.373 and round(fusion["dense"]["score"], 3) == 0.333
    )
    # The "2014 epic science fiction film" sentence: first in BM25, lower in dense.
    assert "2014 epic science fiction film" in hits[1].page_content
    assert "distance" not in hits[0].metadata


def test_weights_and_rank_constant_can_favour_dense(parts) -> None:
    # With k=60 a document found by both lists wins unless dense weighs 61 times more:
    # w_d / 61 > (w_d + w_b) / 62. With rank_constant=1, a weight of 3 is enough.
    weighted = HybridRetriever(retrievers=parts, weights={"dense": 3.0}, k=1)
    assert "Kip Thorne" in weighted.invoke(BOOK_QUERY)[0].page_content
    sharp = weighted.model_copy(update={"rank_constant": 1.0})
    assert "astronomers" in sharp.invoke(BOOK_QUERY)[0].page_content


def test_zero_weight_turns_a_retriever_off(parts) -> None:
    only_bm25 = HybridRetriever(retrievers=parts, weights={"dense": 0.0}, k=2).invoke(BOOK_QUERY)
    assert "2014 epic" in only_bm25[0].page_content


def test_with_thresholds_an_unanswerable_query_returns_nothing(parts) -> None:
    parts["dense"].score_threshold = MINILM_RELEVANCE_THRESHOLD
    hybrid = HybridRetriever(retrievers=parts, k=3)
    assert hybrid.invoke("What is the mass of the moon?") == []
    assert len(hybrid.invoke(BOOK_QUERY)) == 3


def test_stop_word_query_still_searches_dense(parts) -> None:
    hits = HybridRetriever(retrievers=parts, k=2).invoke("what was it about?")
    assert len(hits) == 2 and set(hits[0].metadata["fusion"]) == {"dense"}


def test_rrf_function_ties_and_duplicates() -> None:
    a = [Document("x", id="x"), Document("y", id="y"), Document("x", id="x")]
    b = [Document("y", id="y"), Document("x", id="x")]
    fused = reciprocal_rank_fusion({"a": a, "b": b}, rank_constant=1)
    # x: 1/2 + 1/3; y: 1/3 + 1/2 -> a tie, broken by the first list's order.
    assert [d.id for d in fused] == ["x", "y"]
    assert fused[0].metadata["fusion"]["a"]["rank"] == 1  # the repeat at rank 3 is ignored
    assert reciprocal_rank_fusion({}) == []


def test_larger_rank_constant_flattens_scores() -> None:
    docs = [Document(str(i), id=str(i)) for i in range(3)]
    sharp = reciprocal_rank_fusion({"a": docs}, rank_constant=1)
    flat = reciprocal_rank_fusion({"a": docs}, rank_constant=1000)
    ratio = lambda hits: hits[0].metadata["score"] / hits[-1].metadata["score"]
    assert ratio(sharp) > ratio(flat) > 1


def test_validation(parts) -> None:
    with pytest.raises(ValueError, match="at least one"):
        HybridRetriever(retrievers={})
    with pytest.raises(ValueError, match="unknown retrievers"):
        HybridRetriever(retrievers=parts, weights={"sparse": 1.0})
    with pytest.raises(ValueError, match="negative"):
        HybridRetriever(retrievers=parts, weights={"bm25": -1.0})


def test_fuses_stock_langchain_retrievers_too(parts) -> None:
    from langchain_core.retrievers import BaseRetriever

    class Fixed(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return [Document("A fixed answer.", id="fixed")]

    hits = HybridRetriever(retrievers={**parts, "fixed": Fixed()}, k=20).invoke(BOOK_QUERY)
    assert "fixed" in {h.id for h in hits}
