"""Query rewriting, sub-queries, multi-query and multi-hop retrieval with scripted fake models
(localchain.chains.rag_query)."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda
from rag_fakes import FILMS, fake

import localchain.chains.rag_query
from localchain.chains import MultiHopRetriever, MultiQueryRetriever, query_rewriter, sub_queries
from localchain.retrievers import BM25Retriever


def test_query_rewriter_plain_and_with_history() -> None:
    llm = fake('Search query: "Where do dolphins live"\nextra', "Interstellar premiere date", "")
    rewrite = query_rewriter(llm)
    assert rewrite.invoke("I saw a dolphin. Where do they live?") == "Where do dolphins live"
    condensed = rewrite.invoke(
        {
            "question": "When did it premiere?",
            "chat_history": "Human: Who directed Interstellar?\nAI: Nolan.",
        }
    )
    assert condensed == "Interstellar premiere date"
    assert rewrite.invoke("Dolphins, please?") == "dolphins"  # empty rewrite: keywords


def test_unusable_rewrites_fall_back_to_the_words() -> None:
    refusal = "I'm sorry, but as an AI I cannot browse the internet."
    rewrite = query_rewriter(fake(refusal, "When did it premiere?", "Human: Who directed it?"))
    assert rewrite.invoke("I watched Interstellar, how much money did it make?") == (
        "watched interstellar money did make"
    )
    history = "Human: Who directed Interstellar?\nAI: Christopher Nolan directed it."
    follow_up = {"question": "When did it premiere?", "chat_history": history}
    expected = "did premiere directed interstellar"
    assert rewrite.invoke(follow_up) == expected  # unresolved "it"
    assert rewrite.invoke(follow_up) == expected  # a copy of the conversation


def test_a_reply_to_the_user_is_not_a_query_even_when_it_shares_a_word() -> None:
    message = (
        "I watched Interstellar with my kids last night and we all loved the black hole. "
        "Anyway, how much money did it gross worldwide?"
    )
    apology = (
        "I'm sorry for the confusion, but I can help you with that. The message is: "
        "I watched Interstellar with my kids last year"
    )
    checked = localchain.chains.rag_query.checked_query({"question": message}, apology)
    assert checked == localchain.chains.rag_query.keyword_query(message)
    assert "sorry" not in checked.lower() and "gross" in checked
    for reply in ("Sure, here is a query: Interstellar gross", "Certainly! Interstellar gross"):
        assert localchain.chains.rag_query.checked_query({"question": message}, reply) != reply
    query = "Interstellar worldwide gross"
    assert localchain.chains.rag_query.checked_query({"question": message}, query) == query


def test_sub_queries_parse_lines() -> None:
    llm = fake(
        "1. Tenet budget\n- Dunkirk budget\n\nTenet budget\n* cooking pasta\nDunkirk cast\nx"
    )
    assert sub_queries(llm, n=3).invoke("Compare the budgets of Tenet and Dunkirk") == [
        "Tenet budget",
        "Dunkirk budget",
        "Dunkirk cast",
    ]
    with pytest.raises(ValueError):
        sub_queries(llm, n=0)


def test_multi_query_fuses_with_rrf() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=2)
    generator = RunnableLambda(lambda q: ["worldwide gross", "premiered Los Angeles"])
    multi = MultiQueryRetriever(retriever=bm25, generator=generator, k=3, include_original=False)
    docs = multi.invoke("money and premiere")
    assert {d.id for d in docs} >= {"d2", "d3"}
    assert docs[0].metadata["rank"] == 1 and "fusion" in docs[0].metadata
    by_id = {d.id: d for d in docs}
    assert by_id["d2"].metadata["queries"] == ["worldwide gross"]
    assert multi.queries("Money?") == ["worldwide gross", "premiered Los Angeles"]
    with pytest.raises(ValueError, match="llm"):
        MultiQueryRetriever(retriever=bm25)


def test_multi_query_with_a_model_includes_the_question() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    llm = fake("Nolan film\nbaking\npremiere")
    multi = MultiQueryRetriever(retriever=bm25, llm=llm, n_queries=3)
    assert multi.queries("Nolan film premiere") == ["Nolan film premiere", "Nolan film", "premiere"]


def test_multi_hop_searches_again_on_what_was_found() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    asked: list[dict[str, Any]] = []

    def follow(value: dict[str, Any]) -> str:
        asked.append(value)
        return "film worldwide gross"

    hops = MultiHopRetriever(retriever=bm25, follow_up=RunnableLambda(follow), hops=3)
    docs = hops.invoke("How much money did the Christopher Nolan movie make?")
    assert [d.id for d in docs] == ["d1", "d2"]
    assert [d.metadata["hop"] for d in docs] == [1, 2]
    assert docs[1].metadata["hop_query"] == "film worldwide gross"
    assert "Christopher Nolan" in asked[0]["found"]
    assert len(asked) == 2  # the third hop would repeat the query: stopped


def test_multi_hop_with_a_model_and_budget() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    hops = MultiHopRetriever(retriever=bm25, llm=fake("premiered Los Angeles"), hops=1)
    assert [d.id for d in hops.invoke("Nolan film")] == ["d1"]  # one hop: no model call
    llm = fake("Query: Interstellar premiered Los Angeles")
    two = MultiHopRetriever(retriever=bm25, llm=llm, hops=2)
    assert [d.id for d in two.invoke("Nolan film")] == ["d1", "d3"]
    wandering = MultiHopRetriever(retriever=bm25, llm=fake("Bake bread at 200 C"), hops=2)
    assert [d.id for d in wandering.invoke("Nolan film")] == ["d1"]


def test_docstring_examples() -> None:
    result = doctest.testmod(localchain.chains.rag_query, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_follow_ups_rewriter_searches_a_first_question_as_asked() -> None:
    from langchain_core.language_models import FakeListChatModel

    model = FakeListChatModel(responses=["Interstellar premiere date"])
    rewrite = query_rewriter(model, first=False)
    assert rewrite.invoke("Income generated") == "Income generated"
    assert model.i == 0  # no model call for a first question
    history = "Human: Who directed Interstellar?\nAI: Christopher Nolan."
    assert rewrite.invoke({"question": "When did it premiere?", "chat_history": history}) == (
        "Interstellar premiere date"
    )
