"""Chatbot on the real embedded model: the book's memory parity cases and the hard edges."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from localchain import ContextOverflowError, LlamaCppChat
from localchain.chains import DEFAULT_SYSTEM_PROMPT, Chatbot
from localchain.memory import (
    BufferMemory,
    SQLiteSessionStore,
    SummaryBufferMemory,
    SummaryMemory,
    WindowMemory,
)

NAME_AND_SUM = "Hi! My name is Maarten. What is 1 + 1?"
NAME_AGE_AND_SUM = "Hi! My name is Maarten and I am 33 years old. What is 1 + 1?"


def test_buffer_keeps_the_name(chat) -> None:
    bot = Chatbot(chat, BufferMemory())
    first = bot.chat(NAME_AND_SUM)
    answer = bot.chat("What is my name?")
    assert bot.last_turn is not None
    assert bot.last_turn.prompt == [
        SystemMessage(DEFAULT_SYSTEM_PROMPT),
        HumanMessage(NAME_AND_SUM),
        AIMessage(first),
        HumanMessage("What is my name?"),
    ]
    assert "Maarten" in answer
    assert bot.memory.chat_history.startswith(f"Human: {NAME_AND_SUM}\nAI: ")


def test_window_of_two_forgets_the_age(chat) -> None:
    bot = Chatbot(chat, WindowMemory(k=2))
    bot.chat(NAME_AGE_AND_SUM)
    bot.chat("What is 3 + 3?")
    name = bot.chat("What is my name?")
    assert "Maarten" in name  # the first exchange is still one of the last two
    assert any("33 years old" in m.text for m in bot.last_turn.prompt)
    age = bot.chat("What is my age?")
    prompt = bot.last_turn.prompt
    assert [m.type for m in prompt] == ["system", "human", "ai", "human", "ai", "human"]
    assert prompt[1] == HumanMessage("What is 3 + 3?")
    assert not any("33" in m.text for m in prompt)
    assert "33" not in age
    assert len(bot.history) == 8  # the record keeps all four exchanges


def test_summary_mentions_maarten_and_replaces_the_transcript(chat) -> None:
    bot = Chatbot(chat, SummaryMemory())
    bot.chat(NAME_AND_SUM)
    summary = bot.memory.load()["summary"]
    assert "Maarten" in summary and "1 + 1" in summary  # the first question is answerable
    answer = bot.chat("What is my name?")
    prompt = bot.last_turn.prompt
    assert len(prompt) == 2 and prompt[1] == HumanMessage("What is my name?")
    assert prompt[0].text == f"{DEFAULT_SYSTEM_PROMPT}\n\nSummary of the conversation so far:\n{summary}"
    assert "Maarten" in answer
    assert bot.memory.summary_calls == 2


def test_summary_may_use_another_model(chat) -> None:
    prompts: list[str] = []
    summarizer = RunnableLambda(lambda p: prompts.append(p.to_string()) or "The user is Maarten.")
    bot = Chatbot(chat, SummaryMemory(llm=summarizer))
    bot.chat(NAME_AND_SUM)
    assert len(prompts) == 1 and NAME_AND_SUM in prompts[0]
    assert bot.memory.summary == "The user is Maarten."
    assert "The user is Maarten." in bot.prompt_for("hi")[0].text


@pytest.fixture(scope="module")
def small_context() -> LlamaCppChat:
    return LlamaCppChat(temperature=0, max_tokens=32, n_ctx=512, seed=42)


LONG = "Please remember this sentence about apples, pears and plums. " * 5


def test_long_conversation_drops_old_exchanges_and_says_so(small_context) -> None:
    told: list[str] = []
    bot = Chatbot(small_context, BufferMemory(), on_notice=told.append)
    assert small_context.context_window == 512
    for n in range(10):
        bot.chat(f"{n}. {LONG}")
        assert small_context.count_tokens(bot.last_turn.prompt) + 32 <= 512
    assert told and all("oldest exchange was dropped" in t for t in told)
    assert len(bot.history) == 20  # dropped from view, not from the record
    assert bot.last_turn.prompt[1].text.startswith(("6.", "7.", "8.", "9."))


def test_long_conversation_with_summary_buffer_folds(small_context) -> None:
    told: list[str] = []
    bot = Chatbot(small_context, SummaryBufferMemory(max_tokens=200), on_notice=told.append)
    for n in range(4):
        bot.chat(f"{n}. {LONG}")
    assert any("folded into the summary" in t for t in told)
    assert bot.memory.summary
    assert small_context.count_tokens(bot.prompt_for("next")) < 512


def test_message_longer_than_the_context(small_context) -> None:
    bot = Chatbot(small_context, BufferMemory())
    bot.chat("Hello")
    with pytest.raises(ContextOverflowError) as err:
        bot.chat(LONG * 10)
    assert err.value.n_ctx == 512
    assert len(bot.history) == 2  # the earlier exchange is kept


@pytest.mark.parametrize(
    "make_memory",
    [
        BufferMemory,
        lambda: WindowMemory(k=2),
        SummaryMemory,
        lambda: SummaryBufferMemory(max_tokens=120),
    ],
    ids=["buffer", "window", "summary", "summary-buffer"],
)
def test_a_message_that_cannot_fit_changes_nothing_remembered(
    small_context, make_memory, tmp_path: Path
) -> None:
    """A rejected long message must not shrink the memory first (it used to drop every
    remembered exchange from view, and the loss was saved)."""
    store = SQLiteSessionStore(tmp_path / "chats.db")
    told: list[str] = []
    bot = Chatbot(small_context, make_memory(), session_id="s", store=store, on_notice=told.append)
    for n in range(3):
        bot.chat(f"Fact {n}: my number is {n}.")
    seen, state, stored = bot.memory.messages, dict(bot.memory.history.state), bot.history
    told.clear()
    with pytest.raises(ContextOverflowError) as err:
        bot.chat(LONG * 10)
    assert err.value.prompt_tokens >= err.value.n_ctx == 512
    assert told == []  # nothing dropped or folded
    assert bot.memory.messages == seen and dict(bot.memory.history.state) == state
    assert bot.history == stored
    with pytest.raises(ContextOverflowError):
        list(bot.stream(LONG * 10))
    assert bot.memory.messages == seen
    # What was saved is what was remembered: a new process sees the same.
    again = Chatbot(small_context, make_memory(), session_id="s",
                    store=SQLiteSessionStore(tmp_path / "chats.db"))  # fmt: skip
    assert again.memory.messages == seen and again.history == stored


def test_cancelled_turn_stores_nothing_and_frees_the_model(chat) -> None:
    bot = Chatbot(chat, BufferMemory())
    pieces = bot.stream("Count from one to twenty.")
    next(pieces)
    pieces.close()
    assert bot.history == [] and bot.last_turn is None
    assert "Paris" in bot.chat("What is the capital of France? Answer with one word.")
    assert len(bot.history) == 2


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_message(chat, text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        Chatbot(chat).chat(text)


def test_stream_equals_chat_and_records_usage(chat) -> None:
    bot = Chatbot(chat, BufferMemory())
    streamed = "".join(bot.stream("What is 2 + 2?")).strip()
    assert streamed == bot.last_turn.output
    assert bot.last_turn.usage["input_tokens"] > 0 and bot.last_turn.usage["output_tokens"] > 0


async def test_achat(chat) -> None:
    answer = await Chatbot(chat).achat("What is the capital of France? Answer with one word.")
    assert "Paris" in answer


def test_system_prompt_is_kept_with_the_session(chat, tmp_path: Path) -> None:
    store = SQLiteSessionStore(tmp_path / "s.db")
    bot = Chatbot(chat, session_id="pirate", store=store)
    bot.system_prompt = "You are a pirate."
    again = Chatbot(chat, session_id="pirate", store=SQLiteSessionStore(tmp_path / "s.db"))
    assert again.system_prompt == "You are a pirate."
    assert again.prompt_for("hi")[0] == SystemMessage("You are a pirate.")
    with pytest.raises(ValueError, match="must not be empty"):
        bot.system_prompt = " "


def test_reset_and_switch(chat) -> None:
    bot = Chatbot(chat, BufferMemory(), session_id="one")
    bot.chat("Hi! My name is Maarten.")
    bot.switch("two")
    assert bot.history == [] and bot.session_id == "two"
    bot.switch("one")
    assert len(bot.history) == 2
    bot.reset()
    assert bot.history == []


def test_a_new_process_continues_the_conversation(chat, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    code = f"""
        from localchain import LlamaCppChat
        from localchain.chains import Chatbot
        from localchain.memory import BufferMemory, SQLiteSessionStore
        llm = LlamaCppChat(temperature=0, max_tokens=48, n_ctx=2048, seed=42)
        bot = Chatbot(llm, BufferMemory(), session_id="maarten", store=SQLiteSessionStore({str(db)!r}))
        print(bot.chat({NAME_AND_SUM!r}))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    bot = Chatbot(chat, BufferMemory(), session_id="maarten", store=SQLiteSessionStore(db))
    assert [m.text for m in bot.history] == [NAME_AND_SUM, result.stdout.strip()]
    assert "Maarten" in bot.chat("What is my name?")
    assert bot.last_turn.prompt[1] == HumanMessage(NAME_AND_SUM)
