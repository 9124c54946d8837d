"""The local LLM reranker on the real embedded GGUF, and what each pipeline returns for the
book's query "how precise was the science" (the table in docs/retrievers.md, "Reranking")."""

from __future__ import annotations

import pytest
from fakes import ScriptedChat

from localchain.errors import BackendResponseError, ConfigError
from localchain.models.capabilities import Capabilities
from localchain.retrievers.bm25 import BOOK_BM25, BM25Retriever
from localchain.retrievers.dense import DenseRetriever
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.llm_rerank import LLMReranker
from localchain.retrievers.rerank import RerankRetriever

BOOK_QUERY = "how precise was the science"


@pytest.fixture(scope="module")
def judge(chat_small):
    return LLMReranker(llm=chat_small)


@pytest.fixture(scope="module")
def chat_small():
    from localchain.models import LlamaCppChat

    return LlamaCppChat(temperature=0, max_tokens=4, n_ctx=1024, seed=42)


def _top(docs) -> str:
    text = docs[0].page_content
    for key in ("astronomers", "Kip Thorne", "2014 epic science fiction film", "Double Negative"):
        if key in text:
            return key
    return text[:40]


@pytest.mark.slow
def test_what_each_pipeline_returns_for_the_book_query(book_store, book_chunks, judge) -> None:
    bm25 = BM25Retriever.from_documents(book_chunks, k=3, **BOOK_BM25)
    dense = DenseRetriever(store=book_store, k=3)
    hybrid = HybridRetriever(retrievers={"dense": dense, "bm25": bm25}, k=3)
    # Three documents keep the real-model part short: the hybrid top 3 holds all candidates.
    reranked = RerankRetriever(base=hybrid, reranker=judge, shortlist_k=3, k=3)
    results = {
        name: r.invoke(BOOK_QUERY)
        for name, r in {
            "bm25": bm25,
            "dense": dense,
            "hybrid": hybrid,
            "hybrid+llm": reranked,
        }.items()
    }
    report = {
        name: (_top(hits), round(hits[0].metadata["score"], 3)) for name, hits in results.items()
    }
    print("\npipeline -> top 1 for", repr(BOOK_QUERY), report)
    assert report["bm25"] == ("2014 epic science fiction film", 1.789)
    assert report["dense"] == ("astronomers", 0.476)
    assert report["hybrid"] == ("Kip Thorne", round(2 / 62, 3))
    # Measured: SmolLM2-135M answers "yes" for the Kip Thorne sentence and "no" for the
    # astronomers sentence, so the LLM reranker does not bring the astronomers back to first.
    assert report["hybrid+llm"] == ("Kip Thorne", 1.0)
    judged = {_top([d]): d.metadata["score"] for d in results["hybrid+llm"]}
    assert judged["astronomers"] == 0.0


@pytest.mark.slow
def test_score_method_and_model_lock(book_store, chat_small) -> None:
    reranker = LLMReranker(llm=chat_small, method="score")
    retriever = RerankRetriever(
        base=DenseRetriever(store=book_store, k=1), reranker=reranker, shortlist_k=1, k=1
    )
    # Two threads share one llama.cpp context: the model lock makes them queue.
    first, second = retriever.batch([BOOK_QUERY, "Income generated"])
    for hits in (first, second):
        assert 0.0 <= hits[0].metadata["score"] <= 1.0
        assert hits[0].metadata["score"] * 10 == int(hits[0].metadata["score"] * 10)


def scripted(*answers: str | Exception) -> ScriptedChat:
    """A chat model that answers from a script (no call past it) and says it decodes under
    grammars."""
    return ScriptedChat(
        replies=list(answers), after_last="fail", capabilities=Capabilities(grammar=True)
    )


def test_prompt_grammar_and_passage_cut(book_chunks) -> None:
    llm = scripted("no", "yes")
    reranker = LLMReranker(llm=llm, max_passage_chars=60)
    hits = reranker.rerank(BOOK_QUERY, book_chunks[:2])
    assert [h.metadata["retrieval_rank"] for h in hits] == [2, 1]
    call = llm.calls[0]
    assert call.kwargs["grammar"] == 'root ::= "yes" | "no"' and call.kwargs["temperature"] == 0
    passage = call.messages[1].text.split("Passage: ")[1].split("\n\n")[0]
    assert passage == book_chunks[0].page_content[:60]
    scored = LLMReranker(llm=scripted("7"), method="score")
    assert scored.judge("q", "p") == 0.7


@pytest.mark.parametrize(
    "answer, method, match",
    [
        ("maybe", "yesno", "expected yes or no"),
        ("11", "score", "0-10"),
        (RuntimeError("context full"), "yesno", "RuntimeError: context full"),
    ],
)
def test_judge_failures_are_typed(answer, method, match) -> None:
    with pytest.raises(BackendResponseError, match=match):
        LLMReranker(llm=scripted(answer), method=method).judge("q", "p")


def test_a_judge_without_grammar_support_is_refused_before_any_call() -> None:
    from langchain_core.language_models import FakeListChatModel

    llm = FakeListChatModel(responses=["yes"])
    with pytest.raises(ConfigError, match="needs a chat model that decodes under a grammar"):
        LLMReranker(llm=llm).judge("q", "p")
    assert llm.i == 0  # never asked
