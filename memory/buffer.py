"""Conversation buffer: the whole conversation goes into the prompt.

Instant (no extra model calls) and it forgets nothing, but every turn adds tokens; when the
context fills, the oldest exchange is dropped from the model's view (the user is told).

Example:
    >>> from localchain.memory import BufferMemory
    >>> memory = BufferMemory()
    >>> _ = memory.save_turn("Hi! My name is Maarten. What is 1 + 1?", "Hi Maarten! 2.")
    >>> print(memory.chat_history)
    Human: Hi! My name is Maarten. What is 1 + 1?
    AI: Hi Maarten! 2.
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage

from localchain.memory.base import Memory

__all__ = ["BufferMemory"]


class BufferMemory(Memory):
    """Every exchange, verbatim.

    Example:
        >>> BufferMemory().messages
        []
    """

    memory_type = "buffer"

    @property
    def messages(self) -> list[BaseMessage]:
        return self.history.messages[self.start :]
