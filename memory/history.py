"""Session histories and stores: where a conversation and its memory state live.

A :class:`SessionHistory` is a LangChain ``BaseChatMessageHistory`` (so it works with
``RunnableWithMessageHistory``) with two additions memories need:

- ``state``: a small JSON dict kept next to the messages (the running summary, how many
  messages it covers, what was trimmed from the model's view);
- ``commit(messages, state)``: append messages and update the state in one step. Either
  all of it is stored or none of it: a crash in the middle of a turn leaves the previous
  complete state.

A :class:`SessionStore` hands out histories by session id. This module has the in-memory
store; :mod:`localchain.memory.sqlite` keeps sessions on disk.

Example:
    >>> from localchain.memory import InMemorySessionStore
    >>> store = InMemorySessionStore()
    >>> history = store.history("alice")
    >>> history.add_user_message("Hi! My name is Maarten.")
    >>> [m.content for m in store.history("alice").messages]
    ['Hi! My name is Maarten.']
"""

from __future__ import annotations

import copy
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

__all__ = [
    "InMemoryHistory",
    "InMemorySessionStore",
    "SessionHistory",
    "SessionInfo",
    "SessionStore",
    "check_session_id",
]


def check_session_id(session_id: str) -> str:
    """A usable session id, or ``ValueError`` saying why not.

    Example:
        >>> check_session_id("  trip-planning ")
        'trip-planning'
    """
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError(f"a session id must be a non-empty string, got {session_id!r}")
    session_id = session_id.strip()
    if len(session_id) > 200:
        raise ValueError(f"a session id must be at most 200 characters, got {len(session_id)}")
    return session_id


class SessionHistory(BaseChatMessageHistory, ABC):
    """The messages of one session plus the memory state kept with them.

    Example:
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> history = InMemorySessionStore().history("alice")
        >>> history.commit([HumanMessage("Hi, I am Alice."), AIMessage("Hello Alice!")],
        ...                {"summary": "The user is Alice."})
        >>> len(history.messages), history.state
        (2, {'summary': 'The user is Alice.'})
    """

    session_id: str

    @property
    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A copy of the memory state stored with the messages (JSON values)."""

    @abstractmethod
    def commit(
        self, messages: Sequence[BaseMessage], state: Mapping[str, Any] | None = None
    ) -> None:
        """Append ``messages`` and merge ``state`` into the stored state, atomically."""

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages in one atomic write (LangChain's bulk hook)."""
        self.commit(messages)


class InMemoryHistory(SessionHistory):
    """A session kept in this process only.

    Example:
        >>> history = InMemoryHistory("demo")
        >>> history.commit([], {"summary": "The user is called Maarten."})
        >>> history.state["summary"]
        'The user is called Maarten.'
    """

    def __init__(self, session_id: str = "default") -> None:
        self.session_id = check_session_id(session_id)
        self._messages: list[BaseMessage] = []
        self._state: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.updated = datetime.now(timezone.utc)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        with self._lock:
            return list(self._messages)

    @property
    def state(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._state)

    def commit(
        self, messages: Sequence[BaseMessage], state: Mapping[str, Any] | None = None
    ) -> None:
        # A JSON round trip: the same values (and the same TypeError) as the SQLite store.
        update = json.loads(json.dumps(dict(state or {})))
        with self._lock:
            # Build the new values first, then swap them in: nothing half-applied is visible.
            self._messages = [*self._messages, *messages]
            self._state = {**self._state, **update}
            self.updated = datetime.now(timezone.utc)

    def clear(self) -> None:
        with self._lock:
            self._messages, self._state = [], {}
            self.updated = datetime.now(timezone.utc)


@dataclass(frozen=True)
class SessionInfo:
    """One stored session, as listed by :meth:`SessionStore.sessions`.

    Example:
        >>> store = InMemorySessionStore()
        >>> store.history("trip").add_user_message("Plan a trip to Lisbon.")
        >>> info = store.sessions()[0]
        >>> info.session_id, info.messages
        ('trip', 1)
    """

    session_id: str
    messages: int
    updated: datetime


class SessionStore(ABC):
    """Histories by session id.

    Example:
        >>> import os, tempfile
        >>> from localchain.memory import SQLiteSessionStore
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     store = SQLiteSessionStore(os.path.join(folder, "sessions.db"))
        ...     store.history("alice").add_user_message("Hi!")
        ...     store.copy("alice", "alice-2")
        ...     print(sorted(info.session_id for info in store.sessions()), store.exists("bob"))
        ['alice', 'alice-2'] False
    """

    @abstractmethod
    def history(self, session_id: str) -> SessionHistory:
        """The history of ``session_id`` (created empty if new)."""

    @abstractmethod
    def sessions(self) -> list[SessionInfo]:
        """Every session with at least one message or some state, most recent first."""

    def latest(self) -> str | None:
        """The most recently updated session id, or ``None`` when there is none."""
        sessions = self.sessions()
        return sessions[0].session_id if sessions else None

    def exists(self, session_id: str) -> bool:
        """Whether ``session_id`` has been stored."""
        return any(s.session_id == session_id for s in self.sessions())

    @abstractmethod
    def copy(self, source: str, target: str) -> None:
        """Store a copy of ``source`` (messages and state) as ``target``, replacing it."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Remove a session; no error if it does not exist."""


class InMemorySessionStore(SessionStore):
    """Sessions kept in this process (lost when it exits).

    Example:
        >>> store = InMemorySessionStore()
        >>> store.history("a").add_ai_message("hello")
        >>> store.copy("a", "b")
        >>> store.history("b").messages[0].content
        'hello'
    """

    def __init__(self) -> None:
        self._histories: dict[str, InMemoryHistory] = {}
        self._lock = threading.Lock()

    def history(self, session_id: str) -> InMemoryHistory:
        session_id = check_session_id(session_id)
        with self._lock:
            return self._histories.setdefault(session_id, InMemoryHistory(session_id))

    def sessions(self) -> list[SessionInfo]:
        with self._lock:
            histories = list(self._histories.values())
        infos = [
            SessionInfo(h.session_id, len(h.messages), h.updated)
            for h in histories
            if h.messages or h.state
        ]
        return sorted(infos, key=lambda info: info.updated, reverse=True)

    def copy(self, source: str, target: str) -> None:
        original = self.history(source)
        duplicate = InMemoryHistory(target)
        duplicate.commit(original.messages, original.state)
        with self._lock:
            self._histories[duplicate.session_id] = duplicate

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._histories.pop(check_session_id(session_id), None)
