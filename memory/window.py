"""Windowed buffer: only the last ``k`` exchanges go into the prompt.

The prompt stays small and flat in size; anything older than ``k`` exchanges is out of the
model's view (it stays in the session's history).

Example:
    >>> from localchain.memory import WindowMemory
    >>> memory = WindowMemory(k=2)
    >>> for q, a in [("My name is Maarten, I am 33.", "Hi!"), ("3 + 3?", "6"), ("Name?", "Maarten")]:
    ...     _ = memory.save_turn(q, a)
    >>> "33" in memory.chat_history
    False
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage

from localchain.memory.base import Memory
from localchain.memory.history import SessionHistory

__all__ = ["WindowMemory"]


class WindowMemory(Memory):
    """The last ``k`` exchanges (a human message and the answer to it), verbatim.

    Example:
        >>> WindowMemory(k=2).k
        2
    """

    memory_type = "window"

    def __init__(self, k: int = 2, history: SessionHistory | None = None) -> None:
        if not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive number of exchanges, got {k!r}")
        super().__init__(history)
        self.k = k

    @property
    def messages(self) -> list[BaseMessage]:
        return self.history.messages[self.start :][-2 * self.k :]

    def load(self) -> dict[str, Any]:
        return {**super().load(), "window": self.k}

    def __repr__(self) -> str:
        return f"WindowMemory(k={self.k})"
