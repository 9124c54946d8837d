"""localchain.memory: what a chatbot remembers, and where sessions are stored.

Memories (the book's three and a hybrid): :class:`BufferMemory`, :class:`WindowMemory`,
:class:`SummaryMemory`, :class:`SummaryBufferMemory`. Stores: :class:`InMemorySessionStore`
and :class:`SQLiteSessionStore`; their histories are LangChain ``BaseChatMessageHistory``
objects, usable with ``RunnableWithMessageHistory``.

Example:
    >>> from localchain.memory import WindowMemory, memory_from_name
    >>> memory_from_name("window", k=3)
    WindowMemory(k=3)
"""

from typing import Any

from localchain.memory.base import Memory, format_transcript
from localchain.memory.buffer import BufferMemory
from localchain.memory.history import (
    InMemoryHistory,
    InMemorySessionStore,
    SessionHistory,
    SessionInfo,
    SessionStore,
)
from localchain.memory.sqlite import SQLiteHistory, SQLiteSessionStore, default_sessions_path
from localchain.memory.summary import SUMMARY_PROMPT, SummaryBufferMemory, SummaryMemory
from localchain.memory.window import WindowMemory

__all__ = [
    "MEMORY_TYPES",
    "SUMMARY_PROMPT",
    "BufferMemory",
    "InMemoryHistory",
    "InMemorySessionStore",
    "Memory",
    "SQLiteHistory",
    "SQLiteSessionStore",
    "SessionHistory",
    "SessionInfo",
    "SessionStore",
    "SummaryBufferMemory",
    "SummaryMemory",
    "WindowMemory",
    "default_sessions_path",
    "format_transcript",
    "memory_from_name",
]

MEMORY_TYPES: dict[str, type[Memory]] = {
    cls.memory_type: cls
    for cls in (BufferMemory, WindowMemory, SummaryMemory, SummaryBufferMemory)
}
"""Memory classes by their short name (``buffer``, ``window``, ``summary``, ``summary-buffer``)."""


def memory_from_name(name: str, **options: Any) -> Memory:
    """A memory by short name, as the CLI's ``--memory`` option selects it.

    Options that do not apply to the chosen type are ignored (``k`` for a buffer).

    Example:
        >>> memory_from_name("summary-buffer", max_tokens=300).max_tokens
        300
    """
    cls = MEMORY_TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown memory {name!r}; choose one of {', '.join(MEMORY_TYPES)}")
    accepted = {
        "window": {"k"},
        "summary": {"llm", "prompt", "max_summary_tokens"},
        "summary-buffer": {"max_tokens", "llm", "prompt", "max_summary_tokens", "token_counter"},
    }.get(name, set())
    return cls(**{k: v for k, v in options.items() if k in accepted and v is not None})
