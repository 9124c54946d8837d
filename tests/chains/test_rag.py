"""rag_chain with scripted fake models: inputs, outputs, streaming, citations, no answer,
fitting the context, rewriting (localchain.chains.rag)."""

from __future__ import annotations

import asyncio
import doctest
from typing import Any

import pytest
from fakes import ScriptedChat, word_count
from langchain_core.documents import Document
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
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
            "checked": True,
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
    assert result["citations"] == [3] and result["supported"] is False
    assert result["unsupported_reason"] == (
        "1 of 1 statement not supported: 'Nolan directed Interstellar.' "
        "cites [3] with support 0.33 < 0.5"
    )
    assert [c["number"] for c in result["invalid_citations"]] == [9]


def test_answer_without_support_is_flagged() -> None:
    result = rag_chain(retriever(), fake("Bananas are yellow fruit.")).invoke("Colour?")
    assert result["citations"] == [] and result["supported"] is False
    assert result["unsupported_reason"] == "the answer cites no source and matches none of them"


def test_one_unsupported_claim_makes_the_whole_answer_unsupported() -> None:
    # The claim cites a source that shares one of its four content words (support 0.25):
    # the check drops the citation, and no source supports the claim, so it is left uncited.
    answer = "Nolan directed Interstellar [1]. Tokyo has fourteen million inhabitants [2]."
    result = rag_chain(retriever(), fake(answer)).invoke("Who directed it?")
    assert result["answer"] == (
        "Nolan directed Interstellar. [1] Tokyo has fourteen million inhabitants."
    )
    assert result["citations"] == [1]
    assert [s["citations"] for s in result["statements"]] == [[1], []]
    assert result["supported"] is False
    assert result["unsupported_reason"] == (
        "1 of 2 statements not supported: 'Tokyo has fourteen million inhabitants.' "
        "cites no source (best support 0.25 < 0.5)"
    )


def test_an_uncited_claim_beside_a_cited_one_is_unsupported() -> None:
    # The answer `localchain rag ask "What is the population of Tokyo?"` gave over the
    # docs/ folder: an invented figure, uncited, next to a sentence copied from a source.
    answer = (
        "The population of Tokyo is approximately 3.1 million people (2022). "
        "The film had a worldwide gross over $677 million [2]."
    )
    result = rag_chain(retriever(), fake(answer)).invoke("What is the population of Tokyo?")
    assert result["citations"] == [2]
    assert result["statements"][0]["citations"] == []
    assert result["supported"] is False
    reason = result["unsupported_reason"]
    assert reason.startswith("1 of 2 statements not supported: 'The population of Tokyo is")
    assert reason.endswith("cites no source (best support 0.14 < 0.5)")


def test_a_cited_claim_below_the_support_threshold_is_unsupported() -> None:
    # verify=False keeps the model's citation, but its support (1 of 3 content words) is
    # still measured, and it is below min_support.
    answer = "Nolan directed Interstellar [1]. It premiered in Tokyo during 1999 [3]."
    result = rag_chain(retriever(), fake(answer), verify=False).invoke("Who directed it?")
    assert result["answer"] == (
        "Nolan directed Interstellar. [1] It premiered in Tokyo during 1999. [3]"
    )
    assert result["citations"] == [1, 3]
    assert [s["support"] for s in result["statements"]] == [1.0, 0.333]
    assert result["supported"] is False
    assert result["unsupported_reason"] == (
        "1 of 2 statements not supported: 'It premiered in Tokyo during 1999.' "
        "cites [3] with support 0.33 < 0.5"
    )
    strict = rag_chain(retriever(), fake(answer), verify=False, min_support=0.3)
    assert strict.invoke("Who directed it?")["supported"] is True


class CutOffChat(ScriptedChat):
    """Streams its reply, then reports stopping at the token limit, as llama.cpp does."""

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any):
        yield from super()._stream(messages, stop, run_manager, **kwargs)
        last = AIMessageChunk("", response_metadata={"finish_reason": "length"})
        yield ChatGenerationChunk(message=last)


def test_a_sentence_cut_off_at_the_token_limit_does_not_count() -> None:
    # The answer the embedded model gave for "How much money did the film gross
    # worldwide?" with 48 answer tokens: a cited sentence, then the start of another.
    answer = "The film had a worldwide gross over $677 million [2]. The film was originally"
    question = "How much money did the film gross worldwide?"
    result = rag_chain(retriever(), CutOffChat(replies=[answer])).invoke(question)
    assert result["answer"] == (
        "The film had a worldwide gross over $677 million. [2] The film was originally"
    )
    assert result["supported"] is True and result["unsupported_reason"] is None
    assert [(s["citations"], s["checked"]) for s in result["statements"]] == [
        ([2], True),
        ([], False),
    ]
    # A model that finished on its own wrote the fragment as its claim.
    finished = rag_chain(retriever(), fake(answer)).invoke(question)
    assert finished["supported"] is False
    assert "'The film was originally' cites no source" in finished["unsupported_reason"]


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
    assert total["supported"] is True and total["unsupported_reason"] is None


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
