"""Input a command cannot use is refused at the command line, in one line on stderr with
exit code 2, before anything loads: bytes that are not UTF-8 (on stdin, in argv, in a
``--queries`` file) and session names no store can keep."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_process import localchain

# Each command that takes a question, with what it calls it and the options it needs; the
# store does not exist: the input is refused before any store is opened.
COMMANDS = {
    "ask": (["ask"], "question"),
    "agent": (["agent"], "question"),
    "retrieve": (["retrieve", "--store", "nowhere"], "query"),
    "rag ask": (["rag", "ask", "--store", "nowhere"], "question"),
}


def refused(result: object) -> str:
    """The one line a refused command wrote on stderr (stdout stays empty)."""
    assert result.returncode == 2, result.stderr.decode()  # type: ignore[attr-defined]
    assert result.stdout == b""  # type: ignore[attr-defined]
    lines = result.stderr.decode().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_stdin_that_is_not_utf8(command: str, tmp_path: Path) -> None:
    args, what = COMMANDS[command]
    result = localchain(*args, "-", stdin=b"Who directed it? caf\xe9\n", cwd=tmp_path)
    assert refused(result) == (f"error: the {what} read from stdin is not valid UTF-8 (byte "
                               "0xe9 on line 1, offset 20); pass UTF-8 text")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_argument_that_is_not_utf8(command: str, tmp_path: Path) -> None:
    args, what = COMMANDS[command]
    result = localchain(*args, b"\xff caf\xc3\xa9", cwd=tmp_path)  # ask $'\xff café'
    assert refused(result) == (f"error: the {what} is not valid UTF-8 (byte 0xff at offset 0); "
                               "pass UTF-8 text")


def test_a_strict_utf8_stdin_is_refused_the_same(tmp_path: Path) -> None:
    # In a UTF-8 locale Python's stdin is strict: reading it would raise UnicodeDecodeError.
    result = localchain("ask", "-", stdin=b"\xff", cwd=tmp_path,
                        env={"PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"})
    assert refused(result).startswith("error: the question read from stdin is not valid UTF-8")


def test_system_prompt_that_is_not_utf8(tmp_path: Path) -> None:
    for command in (["ask", "hi"], ["chat"]):
        result = localchain(*command, "--system", b"be k\xefnd", cwd=tmp_path)
        assert refused(result) == ("error: --system is not valid UTF-8 (byte 0xef at offset 4); "
                                   "pass UTF-8 text")


@pytest.mark.parametrize("command", ["retrieve", "rag ask"])
def test_a_queries_file_that_is_not_utf8(command: str, tmp_path: Path) -> None:
    (tmp_path / "queries.txt").write_bytes(b"Who directed it?\nWhen was it \xff released?\n")
    args, _ = COMMANDS[command]
    result = localchain(*args, "--queries", "queries.txt", cwd=tmp_path)
    assert refused(result) == ("error: --queries queries.txt is not valid UTF-8 (byte 0xff on "
                               "line 2, offset 29); pass UTF-8 text")
    missing = localchain(*args, "--queries", "absent.txt", cwd=tmp_path)
    assert refused(missing) == "error: --queries absent.txt: No such file or directory"


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_question_is_one_line_too(command: str, tmp_path: Path) -> None:
    args, what = COMMANDS[command]
    assert refused(localchain(*args, "-", stdin=b"  \n", cwd=tmp_path)) == (
        f"error: the {what} is empty")


@pytest.mark.parametrize(
    ("name", "why"),
    [("   ", "a session id must be a non-empty string, got '   '"),
     ("x" * 201, "a session id must be at most 200 characters, got 201")],
    ids=["blank", "201 characters"],
)  # fmt: skip
def test_chat_session_names_no_store_can_keep(name: str, why: str, tmp_path: Path) -> None:
    result = localchain("chat", "--session", name, "--sessions", "s.db", stdin=b"",
                        cwd=tmp_path)
    assert refused(result) == f"error: --session: {why}"
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_chat_session_name_that_is_not_utf8(tmp_path: Path) -> None:
    result = localchain("chat", "--session", b"caf\xe9", stdin=b"", cwd=tmp_path)
    assert refused(result) == ("error: the session name given to --session is not valid UTF-8 "
                               "(byte 0xe9 at offset 3); pass UTF-8 text")
