"""What every memory does: decide what of a session the model sees, and save turns.

A memory is a policy over a :class:`~localchain.memory.history.SessionHistory`. The
history keeps every message (``/history`` shows them all); the memory decides which of
them, or what summary of them, goes into the prompt (:attr:`Memory.messages`, or as text
:attr:`Memory.chat_history`). When a prompt does not fit the model's context,
:meth:`Memory.shrink` makes room the memory's way (drop the oldest exchange from view, or
fold it into the summary) and says what it did.

Example:
    >>> from localchain.memory import WindowMemory
    >>> memory = WindowMemory(k=1)
    >>> memory.save_turn("Hi! My name is Maarten.", "Hello Maarten!")
    []
    >>> memory.save_turn("What is 3 + 3?", "6")
    []
    >>> print(memory.chat_history)
    Human: What is 3 + 3?
    AI: 6
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from localchain.memory.history import InMemoryHistory, SessionHistory

__all__ = ["Memory", "format_transcript"]


def format_transcript(messages: Sequence[BaseMessage]) -> str:
    """The book's ``Human: ...`` / ``AI: ...`` lines for a list of messages.

    Example:
        >>> print(format_transcript([HumanMessage("Hi"), AIMessage("Hello!")]))
        Human: Hi
        AI: Hello!
    """
    names = {"human": "Human", "ai": "AI", "system": "System"}
    return "\n".join(f"{names.get(m.type, m.type)}: {m.text}" for m in messages)


class Memory(ABC):
    """Base class of the memories; bound to one session history at a time.

    A memory implements :attr:`messages`, what the model sees of the history; saving,
    shrinking and the text form come with the base class.

    Example:
        >>> class LastAnswerMemory(Memory):
        ...     memory_type = "last-answer"
        ...     @property
        ...     def messages(self):
        ...         return self.history.messages[-1:]
        >>> memory = LastAnswerMemory()
        >>> memory.save_turn("What is 3 + 3?", "6")
        []
        >>> print(memory.chat_history)
        AI: 6
    """

    memory_type: ClassVar[str]
    """Short name used by the CLI (``buffer``, ``window``, ...)."""

    def __init__(self, history: SessionHistory | None = None) -> None:
        self.history: SessionHistory = history if history is not None else InMemoryHistory()

    def bind(self, history: SessionHistory) -> None:
        """Use ``history`` from now on (a chatbot binds its session's history)."""
        self.history = history

    @property
    def start(self) -> int:
        """Index of the first stored message the model may still see (earlier ones were
        dropped from view to fit the context; they stay in the history)."""
        return int(self.history.state.get("start", 0))

    @property
    @abstractmethod
    def messages(self) -> list[BaseMessage]:
        """The messages that go into the prompt, oldest first (a summary comes first, as a
        system message)."""

    @property
    def chat_history(self) -> str:
        """:attr:`messages` as the text a hand-written prompt's ``{chat_history}`` gets."""
        return format_transcript(self.messages)

    def load(self) -> dict[str, Any]:
        """What the memory holds now: ``chat_history`` text, the ``messages`` the model
        sees, and per memory type extras (``window``, ``summary``)."""
        return {"chat_history": self.chat_history, "messages": self.messages}

    def save_turn(self, human: str, ai: str) -> list[str]:
        """Store one exchange (atomically, with any state change); returns notices for the
        user, e.g. that older turns were folded into the summary."""
        self.history.commit([HumanMessage(human), AIMessage(ai)])
        return []

    def shrink(self) -> str | None:
        """Make the prompt smaller by one step of this memory's policy. Returns what was
        done, for the user, or ``None`` when there is nothing left to remove."""
        stored = self.history.messages
        first_visible = len(stored) - len(self.messages)
        if len(stored) - first_visible < 2:
            return None
        self.history.commit([], {"start": first_visible + 2})
        return "the context was full: the oldest exchange was dropped from the model's view"

    def clear(self) -> None:
        """Forget the session: messages and memory state."""
        self.history.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @staticmethod
    def _summary_message(summary: str) -> list[BaseMessage]:
        if not summary.strip():
            return []
        return [SystemMessage(f"Summary of the conversation so far:\n{summary.strip()}")]
