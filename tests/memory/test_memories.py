"""Memory policies: one suite for all four, then what each one does differently.

A scripted summarizer (it records its prompts) drives the logic; the real-model cases are
in tests/chains/test_chat.py.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import SystemMessage
from langchain_core.runnables import RunnableLambda

from localchain.memory import (
    BufferMemory,
    InMemoryHistory,
    Memory,
    SQLiteSessionStore,
    SummaryBufferMemory,
    SummaryMemory,
    WindowMemory,
    memory_from_name,
)


class Summarizer:
    """Answers ``summary#N`` and keeps every prompt it was given."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, prompt) -> str:  # a StringPromptValue
        self.prompts.append(prompt.to_string())
        return f"summary#{len(self.prompts)}"

    @property
    def runnable(self) -> RunnableLambda:
        return RunnableLambda(self)


def make(kind: str) -> Memory:
    llm = Summarizer().runnable
    return {
        "buffer": lambda: BufferMemory(),
        "window": lambda: WindowMemory(k=2),
        "summary": lambda: SummaryMemory(llm=llm),
        "summary-buffer": lambda: SummaryBufferMemory(max_tokens=20, llm=llm),
    }[kind]()


KINDS = ["buffer", "window", "summary", "summary-buffer"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_exchange_is_stored_whatever_the_model_sees(kind: str) -> None:
    memory = make(kind)
    for n in range(5):
        memory.save_turn(f"question {n}", f"answer {n}")
    assert len(memory.history.messages) == 10
    assert memory.history.messages[0].content == "question 0"


@pytest.mark.parametrize("kind", KINDS)
def test_load_and_chat_history_agree_with_messages(kind: str) -> None:
    memory = make(kind)
    memory.save_turn("Hi! My name is Maarten.", "Hello Maarten!")
    loaded = memory.load()
    assert loaded["messages"] == memory.messages
    assert loaded["chat_history"] == memory.chat_history
    assert memory.chat_history  # something is remembered after one exchange


@pytest.mark.parametrize("kind", KINDS)
def test_clear(kind: str) -> None:
    memory = make(kind)
    memory.save_turn("a", "b")
    memory.clear()
    assert memory.messages == [] and memory.history.messages == []


@pytest.mark.parametrize("kind", KINDS)
def test_state_survives_in_a_sqlite_session(kind: str, tmp_path) -> None:
    store = SQLiteSessionStore(tmp_path / "s.db")
    memory = make(kind)
    memory.bind(store.history("s"))
    for n in range(3):
        memory.save_turn(f"question {n}", f"answer {n}")
    again = make(kind)
    again.bind(SQLiteSessionStore(tmp_path / "s.db").history("s"))
    assert again.messages == memory.messages


@pytest.mark.parametrize("kind", KINDS)
def test_shrink_makes_the_prompt_smaller_until_it_cannot(kind: str) -> None:
    memory = make(kind)
    if isinstance(memory, SummaryBufferMemory):
        memory.max_tokens = 10_000  # keep everything verbatim so there is something to fold
    for n in range(3):
        memory.save_turn(f"question {n}", f"answer {n}")
    sizes = [len(memory.chat_history)]
    while (notice := memory.shrink()) is not None:
        assert "context was full" in notice
        sizes.append(len(memory.chat_history))
        assert len(sizes) < 10
    if kind != "summary":  # the summary memory has nothing verbatim to give up
        assert len(sizes) > 1
    assert len(memory.history.messages) == 6  # shrinking never deletes the record


def test_buffer_keeps_everything_in_the_books_format() -> None:
    memory = BufferMemory()
    memory.save_turn("Hi! My name is Maarten. What is 1 + 1?", "Hi Maarten! 1 + 1 = 2.")
    memory.save_turn("What is my name?", "Your name is Maarten.")
    assert memory.chat_history == (
        "Human: Hi! My name is Maarten. What is 1 + 1?\n"
        "AI: Hi Maarten! 1 + 1 = 2.\n"
        "Human: What is my name?\n"
        "AI: Your name is Maarten."
    )


def test_window_k2_drops_the_first_exchange_after_the_third() -> None:
    memory = WindowMemory(k=2)
    memory.save_turn("Hi! My name is Maarten and I am 33 years old. What is 1 + 1?", "2")
    memory.save_turn("What is 3 + 3?", "6")
    assert "33 years old" in memory.chat_history
    memory.save_turn("What is my name?", "Maarten")
    assert "33" not in memory.chat_history
    assert memory.chat_history.startswith("Human: What is 3 + 3?")
    assert memory.load()["window"] == 2


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_window_rejects_bad_k(k) -> None:
    with pytest.raises(ValueError, match="k must be"):
        WindowMemory(k=k)


def test_window_shrink_drops_from_what_is_visible() -> None:
    memory = WindowMemory(k=2)
    for n in range(4):
        memory.save_turn(f"q{n}", f"a{n}")
    memory.shrink()
    assert memory.chat_history == "Human: q3\nAI: a3"


def test_summary_is_rewritten_from_current_summary_and_new_lines() -> None:
    summarizer = Summarizer()
    memory = SummaryMemory(llm=summarizer.runnable)
    memory.save_turn("Hi! My name is Maarten. What is 1 + 1?", "2")
    memory.save_turn("What is my name?", "Maarten")
    first, second = summarizer.prompts
    assert "Current summary:\n(empty)" in first
    assert "Human: Hi! My name is Maarten. What is 1 + 1?\nAI: 2" in first
    assert "Current summary:\nsummary#1" in second and "Human: What is my name?" in second
    assert "Maarten. What is 1 + 1" not in second  # old lines come through the summary only
    assert memory.summary == "summary#2" and memory.load()["summary"] == "summary#2"
    assert memory.messages == [SystemMessage("Summary of the conversation so far:\nsummary#2")]
    assert memory.summary_calls == 2


def test_summary_prompt_is_configurable_and_checked() -> None:
    summarizer = Summarizer()
    memory = SummaryMemory(llm=summarizer.runnable, prompt="OLD={summary} NEW={new_lines}")
    memory.save_turn("hi", "hello")
    assert summarizer.prompts == ["OLD=(empty) NEW=Human: hi\nAI: hello"]
    with pytest.raises(ValueError, match="exactly"):
        SummaryMemory(prompt="Summarize {new_lines}")


def test_summary_without_llm_explains() -> None:
    memory = SummaryMemory()
    notices = memory.save_turn("hi", "hello")
    assert "needs an llm" in notices[0]
    assert memory.chat_history == "Human: hi\nAI: hello"  # kept verbatim, not lost


def test_failing_summarizer_keeps_the_exchange_and_catches_up_later() -> None:
    calls: list[str] = []

    def flaky(prompt) -> str:
        calls.append(prompt.to_string())
        if len(calls) == 1:
            raise ConnectionError("server down")
        return "caught up"

    memory = SummaryMemory(llm=RunnableLambda(flaky))
    notices = memory.save_turn("first", "one")
    assert "not updated" in notices[0] and "server down" in notices[0]
    assert "Human: first" in memory.chat_history
    memory.save_turn("second", "two")
    assert "Human: first" in calls[1] and "Human: second" in calls[1]
    assert memory.summary == "caught up" and memory.summarized == 4
    assert memory.messages == [SystemMessage("Summary of the conversation so far:\ncaught up")]


def test_empty_summary_answer_does_not_erase_the_summary() -> None:
    answers = iter(["Maarten is the user.", ""])
    memory = SummaryMemory(llm=RunnableLambda(lambda _: next(answers)))
    memory.save_turn("I am Maarten", "hi")
    memory.save_turn("ok", "ok")
    assert memory.summary == "Maarten is the user."


def test_summary_buffer_folds_only_beyond_its_budget() -> None:
    summarizer = Summarizer()
    # One word, one token: the budget holds about two short exchanges.
    memory = SummaryBufferMemory(
        max_tokens=12, llm=summarizer.runnable, token_counter=lambda t: len(t.split())
    )
    assert memory.save_turn("one two", "three") == []
    assert memory.save_turn("four five", "six") == []
    assert summarizer.prompts == []  # within budget: no summarizer call
    notices = memory.save_turn("seven eight", "nine")
    assert notices == ["1 older exchange was folded into the summary"]
    assert len(summarizer.prompts) == 1 and "Human: one two" in summarizer.prompts[0]
    assert memory.chat_history == (
        "System: Summary of the conversation so far:\nsummary#1\n"
        "Human: four five\nAI: six\nHuman: seven eight\nAI: nine"
    )
    assert memory.load()["max_tokens"] == 12


def test_summary_buffer_counts_with_the_local_tokenizer(chat) -> None:
    memory = SummaryBufferMemory(max_tokens=50, llm=chat)
    assert memory.count_tokens("Hello world") == chat.get_num_tokens("Hello world")
    assert SummaryBufferMemory(max_tokens=5).count_tokens("x" * 40) == 11


def test_memory_from_name() -> None:
    assert isinstance(memory_from_name("buffer", k=3), BufferMemory)
    assert memory_from_name("window", k=3).k == 3
    assert memory_from_name("summary-buffer", max_tokens=77).max_tokens == 77
    with pytest.raises(ValueError, match="unknown memory 'vector'"):
        memory_from_name("vector")


def test_bind_moves_memory_to_another_session() -> None:
    memory = BufferMemory()
    memory.save_turn("a", "b")
    memory.bind(InMemoryHistory("other"))
    assert memory.messages == []
