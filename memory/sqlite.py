"""Sessions in a SQLite file: a chatbot resumed in a new process continues the conversation.

Each :meth:`SQLiteHistory.commit` is one ``BEGIN IMMEDIATE`` transaction: the messages of a
turn and the memory state after it are stored together or not at all. The schema is
versioned with ``PRAGMA user_version`` and changed only by appending a migration.

Failures say what happened and lose nothing: a file that is not a session database, or
one locked by another program past the timeout, raises
:class:`~localchain.errors.SessionStoreError`; sessions already stored are untouched.

The default file is ``$LOCALCHAIN_SESSIONS`` if set, else
``$XDG_DATA_HOME/localchain/sessions.db`` (``~/.local/share/localchain/sessions.db``).

Example:
    >>> from localchain.memory import SQLiteSessionStore
    >>> store = SQLiteSessionStore(tmp_path / "chats.db")             # doctest: +SKIP
    >>> store.history("alice").add_user_message("Hi! My name is Maarten.")  # doctest: +SKIP
    >>> SQLiteSessionStore(tmp_path / "chats.db").history("alice").messages  # doctest: +SKIP
    [HumanMessage(content='Hi! My name is Maarten.', ...)]
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from localchain.errors import SessionStoreError
from localchain.memory.history import SessionHistory, SessionInfo, SessionStore, check_session_id

__all__ = ["SQLiteHistory", "SQLiteSessionStore", "default_sessions_path"]

logger = logging.getLogger(__name__)


def default_sessions_path() -> Path:
    """Where the REPL keeps sessions unless told otherwise.

    Example:
        >>> default_sessions_path().name
        'sessions.db'
    """
    explicit = os.environ.get("LOCALCHAIN_SESSIONS")
    if explicit:
        return Path(explicit).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "localchain" / "sessions.db"


def _m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE messages (
            session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        )"""
    )


# Append-only: a released database is upgraded by running the migrations after its version.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_initial]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class SQLiteSessionStore(SessionStore):
    """Sessions in one SQLite file, safe to open from several processes.

    Args:
        path: The database file (created with its folder if missing). ``None``: the
            default from :func:`default_sessions_path`.
        timeout: Seconds to wait for another writer before giving up.

    Example:
        >>> store = SQLiteSessionStore("chats.db")                      # doctest: +SKIP
        >>> store.latest()                                               # doctest: +SKIP
        'trip-planning'
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 5.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be greater than 0, got {timeout}")
        self.path = Path(path).expanduser() if path is not None else default_sessions_path()
        self.timeout = timeout
        self._migrated = False

    def __repr__(self) -> str:
        return f"SQLiteSessionStore({str(self.path)!r})"

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction (``BEGIN IMMEDIATE`` when ``write``), with errors
        turned into :class:`SessionStoreError`. Commits on success, rolls back otherwise."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise SessionStoreError(str(self.path), f"cannot open: {err}") from err
        try:
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                reason = f"locked by another program (waited {self.timeout:g} s)"
            else:
                reason = str(err)
            raise SessionStoreError(str(self.path), reason) from err
        except sqlite3.DatabaseError as err:
            raise SessionStoreError(
                str(self.path), f"not a localchain session database or damaged ({err})"
            ) from err
        finally:
            db.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        # Checked on every connection, not once: a file deleted or emptied since (SQLite then
        # opens a new empty one) gets its schema back instead of failing every later call.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if self._migrated and version == 0:
            logger.warning("%s was deleted or emptied; starting a new session database", self.path)
        if version > len(MIGRATIONS):
            raise SessionStoreError(
                str(self.path),
                f"written by a newer localchain (schema {version}, this one knows "
                f"{len(MIGRATIONS)}); upgrade localchain",
            )
        if version < len(MIGRATIONS):
            db.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated meanwhile.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0 and self._has_foreign_tables(db):
                    raise sqlite3.DatabaseError("it has tables localchain did not create")
                for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                    migration(db)
                    db.execute(f"PRAGMA user_version = {number}")
                db.commit()
            except BaseException:
                db.rollback()
                raise
        self._migrated = True

    @staticmethod
    def _has_foreign_tables(db: sqlite3.Connection) -> bool:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] > 0

    def history(self, session_id: str) -> SQLiteHistory:
        return SQLiteHistory(session_id, self)

    def sessions(self) -> list[SessionInfo]:
        with self.connect() as db:
            rows = db.execute(
                """SELECT s.session_id, count(m.seq), s.updated FROM sessions s
                   LEFT JOIN messages m ON m.session_id = s.session_id
                   GROUP BY s.session_id ORDER BY s.updated DESC"""
            ).fetchall()
        return [SessionInfo(sid, n, datetime.fromisoformat(updated)) for sid, n, updated in rows]

    def exists(self, session_id: str) -> bool:
        with self.connect() as db:
            row = db.execute(
                "SELECT 1 FROM sessions WHERE session_id = ?", (check_session_id(session_id),)
            ).fetchone()
        return row is not None

    def copy(self, source: str, target: str) -> None:
        source, target = check_session_id(source), check_session_id(target)
        if source == target:
            return
        with self.connect(write=True) as db:
            row = db.execute(
                "SELECT state FROM sessions WHERE session_id = ?", (source,)
            ).fetchone()
            state = row[0] if row else "{}"
            db.execute("DELETE FROM sessions WHERE session_id = ?", (target,))
            now = _now()
            db.execute(
                "INSERT INTO sessions (session_id, state, created, updated) VALUES (?, ?, ?, ?)",
                (target, state, now, now),
            )
            db.execute(
                """INSERT INTO messages (session_id, seq, message)
                   SELECT ?, seq, message FROM messages WHERE session_id = ?""",
                (target, source),
            )

    def delete(self, session_id: str) -> None:
        with self.connect(write=True) as db:
            db.execute("DELETE FROM sessions WHERE session_id = ?", (check_session_id(session_id),))


class SQLiteHistory(SessionHistory):
    """One session in a SQLite file; reads always see the file's latest state.

    Args:
        session_id: The session (trimmed; 1 to 200 characters).
        path: The database file, as :class:`SQLiteSessionStore` takes it (``None``: the
            default from :func:`default_sessions_path`), or a store already open.

    Example:
        >>> import os, tempfile
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> folder = tempfile.mkdtemp()
        >>> history = SQLiteHistory("alice", os.path.join(folder, "chats.db"))
        >>> history.commit([HumanMessage("hi"), AIMessage("hello")], {"summary": ""})
        >>> SQLiteSessionStore(os.path.join(folder, "chats.db")).history("alice").messages[1].text
        'hello'
    """

    def __init__(
        self,
        session_id: str,
        path: str | os.PathLike[str] | SQLiteSessionStore | None = None,
    ) -> None:
        if isinstance(session_id, SQLiteSessionStore):
            raise TypeError(
                "SQLiteHistory takes the session id first: SQLiteHistory(session_id, path), "
                "or store.history(session_id) for a SQLiteSessionStore"
            )
        if isinstance(path, SQLiteSessionStore):
            self.store = path
        elif path is None or isinstance(path, str | os.PathLike):
            self.store = SQLiteSessionStore(path)
        else:
            raise TypeError(
                "SQLiteHistory(session_id, path): path is the database file (a str or a "
                f"path) or a SQLiteSessionStore, not {type(path).__name__}"
            )
        self.session_id = check_session_id(session_id)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        with self.store.connect() as db:
            rows = db.execute(
                "SELECT message FROM messages WHERE session_id = ? ORDER BY seq",
                (self.session_id,),
            ).fetchall()
        return messages_from_dict([json.loads(row[0]) for row in rows])

    @property
    def state(self) -> dict[str, Any]:
        with self.store.connect() as db:
            row = db.execute(
                "SELECT state FROM sessions WHERE session_id = ?", (self.session_id,)
            ).fetchone()
        return json.loads(row[0]) if row else {}

    def commit(
        self, messages: Sequence[BaseMessage], state: Mapping[str, Any] | None = None
    ) -> None:
        encoded = [json.dumps(message_to_dict(m), ensure_ascii=False) for m in messages]
        update = dict(state or {})
        with self.store.connect(write=True) as db:
            now = _now()
            row = db.execute(
                "SELECT state FROM sessions WHERE session_id = ?", (self.session_id,)
            ).fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **update}
            db.execute(
                """INSERT INTO sessions (session_id, state, created, updated) VALUES (?, ?, ?, ?)
                   ON CONFLICT(session_id) DO UPDATE SET state = excluded.state,
                   updated = excluded.updated""",
                (self.session_id, json.dumps(merged, ensure_ascii=False), now, now),
            )
            start = db.execute(
                "SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_id = ?",
                (self.session_id,),
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
                [(self.session_id, start + i, text) for i, text in enumerate(encoded)],
            )

    def clear(self) -> None:
        with self.store.connect(write=True) as db:
            db.execute("DELETE FROM messages WHERE session_id = ?", (self.session_id,))
            db.execute(
                "UPDATE sessions SET state = '{}', updated = ? WHERE session_id = ?",
                (_now(), self.session_id),
            )
