"""Session stores: one suite for the in-memory and SQLite stores, then SQLite's own cases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from localchain.errors import SessionStoreError
from localchain.memory import InMemorySessionStore, SessionStore, SQLiteHistory, SQLiteSessionStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    if request.param == "memory":
        return InMemorySessionStore()
    return SQLiteSessionStore(tmp_path / "sessions.db")


def turn(n: int) -> list:
    return [HumanMessage(f"question {n}"), AIMessage(f"answer {n}")]


def test_messages_and_state_round_trip(store: SessionStore) -> None:
    history = store.history("alice")
    history.commit(turn(1), {"summary": "one", "start": 0})
    history.commit(turn(2), {"summary": "two"})
    again = store.history("alice")
    assert [m.content for m in again.messages] == ["question 1", "answer 1", "question 2", "answer 2"]
    assert [m.type for m in again.messages] == ["human", "ai", "human", "ai"]
    assert again.state == {"summary": "two", "start": 0}


def test_sessions_are_separate_and_listed_most_recent_first(store: SessionStore) -> None:
    store.history("a").commit(turn(1))
    store.history("b").commit(turn(1) + turn(2))
    store.history("a").commit(turn(2))
    infos = store.sessions()
    assert [(i.session_id, i.messages) for i in infos] == [("a", 4), ("b", 4)]
    assert store.latest() == "a"
    assert store.exists("b") and not store.exists("c")
    assert store.history("c").messages == []


def test_state_returned_is_a_copy(store: SessionStore) -> None:
    history = store.history("a")
    history.commit([], {"nested": {"x": 1}})
    history.state["nested"]["x"] = 99
    assert history.state == {"nested": {"x": 1}}


def test_copy_and_delete(store: SessionStore) -> None:
    store.history("src").commit(turn(1), {"summary": "s"})
    store.history("dst").commit(turn(7))
    store.copy("src", "dst")
    assert [m.content for m in store.history("dst").messages] == ["question 1", "answer 1"]
    assert store.history("dst").state == {"summary": "s"}
    store.history("dst").commit(turn(2))
    assert len(store.history("src").messages) == 2  # a copy, not an alias
    store.delete("src")
    assert not store.exists("src") and store.exists("dst")
    store.delete("never-existed")


def test_clear_forgets_messages_and_state(store: SessionStore) -> None:
    history = store.history("a")
    history.commit(turn(1), {"summary": "s"})
    history.clear()
    assert history.messages == [] and history.state == {}


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201])
def test_bad_session_ids(store: SessionStore, bad: str) -> None:
    with pytest.raises(ValueError, match="session id"):
        store.history(bad)


def test_failed_commit_stores_nothing(store: SessionStore) -> None:
    history = store.history("a")
    history.commit(turn(1), {"summary": "kept"})
    with pytest.raises(TypeError):
        history.commit(turn(2), {"summary": object()})  # not JSON: fails mid-commit
    assert len(history.messages) == 2
    assert history.state == {"summary": "kept"}


# langchain-core 1.x marks it deprecated in favour of LangGraph, but users still use it.
@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")
def test_works_with_runnable_with_message_history(store: SessionStore) -> None:
    seen: list[int] = []

    def echo(value: dict) -> AIMessage:
        seen.append(len(value["history"]))
        return AIMessage(f"you said {value['input']}")

    chain = RunnableWithMessageHistory(
        RunnableLambda(echo),
        store.history,
        input_messages_key="input",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "lc"}}
    chain.invoke({"input": "one"}, config)
    chain.invoke({"input": "two"}, config)
    assert seen == [0, 2]
    assert [m.content for m in store.history("lc").messages] == [
        "one", "you said one", "two", "you said two",
    ]


def test_history_in_a_chain_without_the_deprecated_wrapper(store: SessionStore) -> None:
    # LangChain 1.x deprecates RunnableWithMessageHistory; docs/memory.md shows this instead.
    chain = RunnableLambda(lambda value: AIMessage(
        f"you said {value['input']} after {len(value['history'])} messages"))
    history = store.history("lc")

    def ask(text: str) -> str:
        answer = chain.invoke({"history": history.messages, "input": text})
        history.add_messages([HumanMessage(text), answer])  # one commit: the whole turn
        return answer.text

    assert ask("one") == "you said one after 0 messages"
    assert ask("two") == "you said two after 2 messages"
    assert [m.text for m in store.history("lc").messages] == [
        "one", "you said one after 0 messages", "two", "you said two after 2 messages",
    ]


# -- SQLite only ------------------------------------------------------------------------


def test_sqlite_history_is_made_from_a_session_id_and_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chats.db"
    SQLiteHistory("alice", path).add_user_message("Hi! My name is Maarten.")
    assert [m.text for m in SQLiteHistory("alice", str(path)).messages] == [
        "Hi! My name is Maarten."]
    assert SQLiteSessionStore(path).history("alice").messages[0].text == "Hi! My name is Maarten."
    store = SQLiteSessionStore(path)
    assert SQLiteHistory("alice", store).store is store
    monkeypatch.setenv("LOCALCHAIN_SESSIONS", str(tmp_path / "default.db"))
    assert SQLiteHistory("bob").store.path == tmp_path / "default.db"
    # The order of the old constructor, or no path, is a TypeError that says what to pass.
    with pytest.raises(TypeError, match=r"session id first: SQLiteHistory\(session_id, path\)"):
        SQLiteHistory(store, "alice")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a str or a path.*or a SQLiteSessionStore, not int"):
        SQLiteHistory("alice", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 200 characters"):
        SQLiteHistory("x" * 201, path)




def run_python(code: str, env_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, env={"DB": str(env_path), "PATH": ""},
    )


def test_a_new_process_continues_the_session(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SQLiteSessionStore(db).history("alice").commit(turn(1), {"summary": "Alice said hi"})
    result = run_python(
        """
        import os
        from langchain_core.messages import HumanMessage, AIMessage
        from localchain.memory import SQLiteSessionStore
        history = SQLiteSessionStore(os.environ["DB"]).history("alice")
        print(history.state["summary"], len(history.messages))
        history.commit([HumanMessage("q2"), AIMessage("a2")])
        """,
        db,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Alice said hi 2"
    assert [m.content for m in SQLiteSessionStore(db).history("alice").messages][-1] == "a2"


def test_a_crash_mid_commit_leaves_the_previous_turn(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SQLiteSessionStore(db).history("alice").commit(turn(1), {"summary": "before"})
    # The child dies (no cleanup, no rollback) after writing the state and some messages
    # of a turn, inside the transaction.
    result = run_python(
        """
        import os, sqlite3
        from langchain_core.messages import HumanMessage, AIMessage
        from localchain.memory import SQLiteSessionStore
        class Dying(sqlite3.Connection):
            def executemany(self, sql, rows):
                super().executemany(sql, list(rows)[:1])
                os._exit(9)
        connect = sqlite3.connect
        sqlite3.connect = lambda *args, **kwargs: connect(*args, factory=Dying, **kwargs)
        SQLiteSessionStore(os.environ["DB"]).history("alice").commit(
            [HumanMessage("q2"), AIMessage("a2")], {"summary": "after"})
        """,
        db,
    )
    assert result.returncode == 9, result.stderr
    history = SQLiteSessionStore(db).history("alice")
    assert [m.content for m in history.messages] == ["question 1", "answer 1"]
    assert history.state == {"summary": "before"}


def test_corrupt_file_is_a_clear_error_and_is_not_touched(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"this is not a database at all" * 100)
    before = db.read_bytes()
    store = SQLiteSessionStore(db)
    with pytest.raises(SessionStoreError, match="not a localchain session database"):
        store.history("a").messages
    with pytest.raises(SessionStoreError):
        store.history("a").commit(turn(1))
    assert db.read_bytes() == before


def test_a_database_deleted_mid_session_gets_its_schema_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "s.db"
    history = SQLiteSessionStore(db).history("a")
    history.commit(turn(1), {"summary": "one"})
    db.unlink()  # SQLite makes a new empty file at the next connection
    history.commit(turn(2), {"summary": "two"})
    assert [m.content for m in history.messages] == ["question 2", "answer 2"]
    assert history.state == {"summary": "two"}
    assert f"{db} was deleted or emptied; starting a new session database" in caplog.text
    db.write_bytes(b"")  # emptied in place: the same
    assert history.messages == [] and history.store.sessions() == []


def test_a_chatbot_keeps_talking_after_its_database_is_deleted(chat, tmp_path: Path) -> None:
    from localchain.chains import Chatbot
    from localchain.memory import BufferMemory

    db = tmp_path / "chats.db"
    bot = Chatbot(chat, BufferMemory(), session_id="s", store=SQLiteSessionStore(db))
    bot.chat("Hi, I am Maarten.")
    db.unlink()
    answer = bot.chat("What is my name?")
    assert answer.strip()
    stored = SQLiteSessionStore(db).history("s").messages
    assert [m.content for m in stored][:1] == ["What is my name?"] and len(stored) == 2


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(SessionStoreError, match="tables localchain did not create"):
        SQLiteSessionStore(db).sessions()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SQLiteSessionStore(db).sessions()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SessionStoreError, match="newer localchain"):
        SQLiteSessionStore(db).sessions()


def test_locked_database_times_out_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = SQLiteSessionStore(db, timeout=0.2)
    store.history("a").commit(turn(1))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SessionStoreError, match="locked by another program"):
            store.history("a").commit(turn(2))
    finally:
        holder.rollback()
        holder.close()
    assert [m.content for m in store.history("a").messages] == ["question 1", "answer 1"]
    store.history("a").commit(turn(2))  # usable again once the lock is gone
    assert len(store.history("a").messages) == 4


def test_default_path_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from localchain.memory import default_sessions_path

    assert default_sessions_path() == tmp_path / "data" / "localchain" / "sessions.db"
    monkeypatch.setenv("LOCALCHAIN_SESSIONS", str(tmp_path / "mine.db"))
    assert SQLiteSessionStore().path == tmp_path / "mine.db"


def test_bad_timeout() -> None:
    with pytest.raises(ValueError, match="timeout"):
        SQLiteSessionStore("x.db", timeout=0)
