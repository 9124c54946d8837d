"""rag_chain with scripted fake models: inputs, outputs, streaming, citations, no answer,
fitting the context, rewriting (localchain.chains.rag)."""

from __future__ import annotations

import asyncio
import doctest
from typing import Any

import pytest
from fakes import ScriptedChat, word_count
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from rag_fakes import FILMS, Recorder, fake, never_called, retriever

import localchain.chains.rag
from localchain.chains import NO_ANSWER, rag_chain
from localchain.errors import ChainInputError
from localchain.models.capabilities import Capabilities
from localchain.retrievers import BM25Retriever


def test_answer_with_a_valid_citation() -> None:
    chain = rag_chain(retriever(), fake("The film grossed over $677 million [2]."))
    result = chain.invoke("Income generated")
    assert result["question"] == "Income generated" and result["query"] == "Income generated"
    assert result["answer"] == "The film grossed over $677 million. [2]"
    assert result["citations"] == [2] and result["supported"] is True
    assert result["unsupported_reason"] is None and result["invalid_citations"] == []
    assert [s["number"] for s in result["sources"]] == [1, 2, 3]
    second = result["sources"][1]
    assert second == {
        "number": 2,
        "id": "d2",
        "text": FILMS[1].page_content,
        "metadata": {"source": "/kb/films.txt", "title": "films"},
    }
    assert result["statements"] == [
        {
            "text": "The film grossed over $677 million.",
            "citations": [2],
            "origin": "model",
            "support": 1.0,
        }
    ]


def test_prompt_holds_numbered_sources_and_the_question() -> None:
    llm = fake("ok")
    rag_chain(retriever(), llm).invoke("Income generated")
    text = llm.calls[0].messages[-1].text
    assert text.startswith("Relevant information:\n[1] Interstellar is a 2014 film")
    assert "[2] The film had a worldwide gross over $677 million\n[3] Interstellar" in text
    assert text.endswith("cite the number of each source you use, like [1]: Income generated")


def test_invalid_citation_is_removed_and_reported() -> None:
    result = rag_chain(retriever(), fake("It grossed $677 million worldwide [7].")).invoke("q?")
    assert "[7]" not in result["answer"]
    assert result["answer"] == "It grossed $677 million worldwide. [2]"  # verified: source 2
    assert result["invalid_citations"][0]["number"] == 7
    assert "there is no source 7" in result["invalid_citations"][0]["reason"]
    assert result["statements"][0]["origin"] == "inferred"


def test_wrong_source_is_replaced_by_the_supporting_one() -> None:
    result = rag_chain(retriever(), fake("Nolan directed Interstellar [3].")).invoke("Who?")
    assert result["citations"] == [1]
    assert result["invalid_citations"][0]["number"] == 3
    assert "does not support" in result["invalid_citations"][0]["reason"]


def test_verify_false_keeps_existing_numbers() -> None:
    chain = rag_chain(retriever(), fake("Nolan directed Interstellar [3] [9]."), verify=False)
    result = chain.invoke("Who?")
    assert result["citations"] == [3] and result["supported"] is True
    assert [c["number"] for c in result["invalid_citations"]] == [9]


def test_answer_without_support_is_flagged() -> None:
    result = rag_chain(retriever(), fake("Bananas are yellow fruit.")).invoke("Colour?")
    assert result["citations"] == [] and result["supported"] is False
    assert result["unsupported_reason"] == "the answer cites no source and matches none of them"


def test_echoing_the_question_is_not_support() -> None:
    result = rag_chain(retriever(), fake("When did Interstellar premiere? [3]")).invoke(
        "When did Interstellar premiere?"
    )
    assert result["supported"] is False and result["citations"] == []


def test_nothing_retrieved_means_no_answer_and_no_model_call() -> None:
    chain = rag_chain(retriever([]), never_called())
    result = chain.invoke({"question": "What is the mass of the moon?"})
    assert result["answer"] == NO_ANSWER and result["answer"].startswith("I don't know")
    assert result["sources"] == [] and result["citations"] == []
    assert result["supported"] is False and "nothing relevant" in result["unsupported_reason"]
    custom = rag_chain(retriever([]), never_called(), no_answer="I don't know.")
    assert custom.invoke("moon?")["answer"] == "I don't know."


def test_threshold_retriever_that_finds_nothing() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, require_match=True)
    result = rag_chain(bm25, never_called()).invoke("mass of the moon")
    assert result["sources"] == [] and result["answer"] == NO_ANSWER


def test_stream_yields_parts_that_add_up_to_invoke() -> None:
    answer = "Nolan directed Interstellar [1]. It grossed $677 million [2]."
    chain = rag_chain(retriever(), fake(answer, answer))
    chunks = list(chain.stream("Tell me"))
    assert list(chunks[0]) == ["question", "query"]
    assert list(chunks[1]) == ["sources"]
    answers = [c["answer"] for c in chunks if "answer" in c]
    assert len(answers) > 3  # piece by piece
    assert "citations" in chunks[-1] and "supported" in chunks[-1]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert dict(total) == chain.invoke("Tell me")
    assert total["answer"] == "Nolan directed Interstellar. [1] It grossed $677 million. [2]"


def test_batch_async_and_composition() -> None:
    chain = rag_chain(retriever(), fake("It grossed $677 million [2]."))
    results = chain.batch(["a", "b"])
    assert [r["citations"] for r in results] == [[2], [2]]
    assert asyncio.run(chain.ainvoke("c"))["citations"] == [2]

    async def collect() -> list[Any]:
        return [chunk async for chunk in chain.astream("d")]

    chunks = asyncio.run(collect())
    assert "".join(c.get("answer", "") for c in chunks) == "It grossed $677 million. [2]"
    answer_only = chain | RunnableLambda(lambda result: result["answer"])
    assert answer_only.invoke("e") == "It grossed $677 million. [2]"


def test_bad_inputs_and_prompts() -> None:
    chain = rag_chain(retriever(), fake("x"))
    with pytest.raises(ChainInputError, match="empty"):
        chain.invoke("   ")
    with pytest.raises(ChainInputError, match="question"):
        chain.invoke({"query": "x"})
    with pytest.raises(ChainInputError, match="context"):
        rag_chain(retriever(), fake("x"), prompt="Answer {question}")
    with pytest.raises(ChainInputError, match="min_support"):
        rag_chain(retriever(), fake("x"), min_support=2)


def test_custom_prompt_and_system() -> None:
    llm = fake("Nolan directed it")
    chain = rag_chain(retriever(), llm, "Q: {question}\n{context}", system="Be brief.")
    chain.invoke("Who directed it?")
    assert [m.type for m in llm.calls[0].messages] == ["system", "human"]
    assert llm.calls[0].messages[1].text.startswith("Q: Who directed it?\n[1] Interstellar")


def test_sources_that_do_not_fit_the_context_are_left_out() -> None:
    small = Capabilities(context_window=60, max_tokens=10, counter=word_count)
    long = [Document(" ".join(["word"] * 20) + f" {n}", id=str(n)) for n in range(5)]
    llm = ScriptedChat(replies=["ok"], capabilities=small)
    result = rag_chain(retriever(long), llm).invoke("q")
    assert 1 <= len(result["sources"]) < 5
    assert [s["id"] for s in result["sources"]] == [str(n) for n in range(len(result["sources"]))]


def test_rewrite_searches_for_the_rewritten_query() -> None:
    recorder = Recorder(FILMS)
    rewrite = RunnableLambda(lambda x: "  interstellar\n box office ")
    result = rag_chain(recorder.runnable, fake("It grossed $677 million"), rewrite=rewrite).invoke(
        "I loved that movie! How much money did it make?"
    )
    assert recorder.queries == ["interstellar box office"]
    assert result["query"] == "interstellar box office"
    assert result["question"] == "I loved that movie! How much money did it make?"


def test_docstring_examples() -> None:
    result = doctest.testmod(localchain.chains.rag, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
