"""Conversational RAG with scripted fake models: history-aware rewriting, memory, sessions and
the sources footer (localchain.chains.rag_chat)."""

from __future__ import annotations

import asyncio
import doctest
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda
from rag_fakes import FILMS, Recorder, fake, retriever

import localchain.chains.rag_chat
from localchain.chains import RagChatbot, conversational_rag_chain
from localchain.chains.rag_chat import format_sources_footer
from localchain.memory import BufferMemory, InMemorySessionStore


def test_conversational_rag_rewrites_with_history_and_remembers() -> None:
    seen: list[Any] = []

    def rewrite(value: dict[str, Any]) -> str:
        seen.append(value["chat_history"])
        return "interstellar premiere" if value["chat_history"] else value["question"]

    memory = BufferMemory()
    recorder = Recorder(FILMS)
    chain = conversational_rag_chain(
        recorder.runnable,
        fake("Nolan directed Interstellar [1].", "It premiered October 26, 2014 [3]."),
        memory,
        rewrite=RunnableLambda(rewrite),
    )
    first = chain.invoke("Who directed Interstellar?")
    assert first["citations"] == [1]
    second = chain.invoke("When did it premiere?")
    assert second["query"] == "interstellar premiere" and second["citations"] == [3]
    assert seen[0] == "" and "Human: Who directed Interstellar?" in seen[1]
    assert recorder.queries == ["Who directed Interstellar?", "interstellar premiere"]
    assert [m.text for m in memory.messages][::2] == [
        "Who directed Interstellar?",
        "When did it premiere?",
    ]


def test_conversational_rag_stream_closed_early_stores_nothing() -> None:
    memory = BufferMemory()
    chain = conversational_rag_chain(
        retriever(),
        fake("Nolan directed it [1]."),
        memory,
        rewrite=RunnableLambda(lambda v: v["question"]),
    )
    stream = chain.stream("Who?")
    next(stream)
    stream.close()
    assert memory.messages == []
    asyncio.run(chain.ainvoke("Who?"))
    assert len(memory.messages) == 2


def test_rag_chatbot_turns_sessions_and_footer() -> None:
    store = InMemorySessionStore()
    bot = RagChatbot(
        retriever(),
        fake("Nolan directed Interstellar [1].", "It premiered in 2014 [3]."),
        BufferMemory(),
        rag_options={"rewrite": RunnableLambda(lambda v: v["question"])},
        store=store,
        session_id="films",
    )
    assert bot.turn_footer() == ""
    assert bot.chat("Who directed Interstellar?") == "Nolan directed Interstellar. [1]"
    assert bot.last_result is not None and bot.last_result["citations"] == [1]
    footer = bot.turn_footer()
    assert footer.startswith("sources (cited: [1]):") and "[2] /kb/films.txt" in footer
    pieces = bot.stream("When?")
    next(pieces)
    pieces.close()  # cancelled: not stored
    assert len(store.history("films").messages) == 2
    with pytest.raises(ValueError):
        bot.chat(" ")


def test_footer_for_no_sources_and_unsupported() -> None:
    assert format_sources_footer({"sources": []}) == "no sources: nothing relevant was found"
    text = format_sources_footer(
        {
            "sources": [{"number": 1, "text": "x " * 80, "metadata": {}}],
            "citations": [],
            "supported": False,
            "unsupported_reason": "the answer cites no source",
        }
    )
    assert text.startswith("sources - unsupported: the answer cites no source:")
    assert all(len(line) <= 100 for line in text.splitlines())


def test_docstring_examples() -> None:
    result = doctest.testmod(localchain.chains.rag_chat, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
