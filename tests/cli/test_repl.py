"""`localchain chat` used as a person uses it: piped scripts, and typing in a terminal."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pexpect

MODEL_ARGS = ["--n-ctx", "2048", "--max-tokens", "48"]


def chat(*args: str, cwd: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    return subprocess.run(
        [sys.executable, "-m", "localchain", "chat", *args], cwd=cwd, input=stdin, text=True,
        capture_output=True, env=environ, timeout=300,
    )


def test_piped_session_with_commands(tmp_path: Path) -> None:
    script = "Hi! My name is Maarten.\n/history\n/memory\n/foo\n/reset\n/history\n/exit\n"
    result = chat(*MODEL_ARGS, cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SmolLM2-135M-Instruct.Q4_1" in out and "memory: buffer" in out
    assert out.count("bot> ") == 1
    assert "human: Hi! My name is Maarten." in out
    assert "memory: buffer" in out and "Human: Hi! My name is Maarten." in out  # /memory
    assert "unknown command /foo; /help lists the commands" in out
    assert "conversation cleared" in out and "(no messages yet)" in out


def test_eof_ends_the_session_and_empty_lines_are_skipped(tmp_path: Path) -> None:
    result = chat(*MODEL_ARGS, cwd=tmp_path, stdin="\n   \nWhat is 2 + 2?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("bot> ") == 1


def test_multi_line_messages(tmp_path: Path) -> None:
    script = 'first line \\\nsecond line\n"""\nthird\nfourth\n"""\n/history\n'
    result = chat(*MODEL_ARGS, cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("bot> ") == 2
    assert "human: first line \nsecond line" in result.stdout
    assert "human: third\nfourth" in result.stdout


def test_window_memory_option_and_help(tmp_path: Path) -> None:
    script = "/help\nHi! My name is Maarten.\nWhat is 3 + 3?\n/memory\n"
    result = chat("--memory", "window", "--k", "1", *MODEL_ARGS, cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "memory: window k=1" in out
    for command in ("/reset", "/memory", "/history", "/save NAME", "/load NAME", "/model",
                    "/system TEXT", "/exit"):
        assert command in out
    shown = out[out.rindex("memory: window") :]
    assert "Human: What is 3 + 3?" in shown and "Maarten" not in shown


def test_context_full_drops_the_oldest_exchange_and_says_so(tmp_path: Path) -> None:
    long_line = "Please remember this sentence about apples and pears. " * 6
    script = "".join(f"{n}. {long_line}\n" for n in range(1, 7)) + "/memory\n/history\n"
    result = chat("--n-ctx", "256", "--max-tokens", "16", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("bot> ") == 6
    assert "the oldest exchange was dropped from the model's view" in out
    seen = out[out.rindex("memory: buffer") : out.index("human: 1.")]
    assert "Human: 6." in seen and "Human: 1." not in seen
    assert "human: 1." in out  # /history still has it


def test_message_longer_than_the_context_keeps_the_session(tmp_path: Path) -> None:
    script = "Hello\n" + "word " * 400 + "\nWhat is 2 + 2?\n/history\n"
    result = chat("--n-ctx", "256", "--max-tokens", "16", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "does not fit the context" in result.stdout
    assert result.stdout.count("bot> ") == 2
    assert result.stdout.count("human: ") == 2


def test_save_load_and_continue_across_processes(tmp_path: Path) -> None:
    db = ["--sessions", str(tmp_path / "s.db")]
    first = chat(*db, *MODEL_ARGS, cwd=tmp_path,
                 stdin="Hi! My name is Maarten. What is 1 + 1?\n/system You are terse.\n/save maarten\n")
    assert first.returncode == 0, first.stderr
    assert "saved as maarten" in first.stdout
    loaded = chat(*db, *MODEL_ARGS, cwd=tmp_path, stdin="/load maarten\n/system\n/load nobody\n")
    assert "loaded maarten (2 messages)" in loaded.stdout
    assert "You are terse." in loaded.stdout
    assert "no session named 'nobody'" in loaded.stdout
    resumed = chat(*db, "--continue", *MODEL_ARGS, cwd=tmp_path, stdin="/history\n/sessions\n")
    assert "session maarten" in resumed.stdout and "continuing: 2 messages" in resumed.stdout
    assert "human: Hi! My name is Maarten. What is 1 + 1?" in resumed.stdout
    named = chat(*db, "--session", "maarten", *MODEL_ARGS, cwd=tmp_path, stdin="/history\n")
    assert "human: Hi! My name is Maarten." in named.stdout


def test_unusable_input_is_refused_and_the_chat_goes_on(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    script = ("/save " + "x" * 201 + "\n/load " + "y" * 201 + "\n/save    \n"
              "What is 2 + 2? caf\udce9\n/save fine\n/history\n/exit\n")
    result = subprocess.run(
        [sys.executable, "-m", "localchain", "chat", "--sessions", str(tmp_path / "s.db"),
         *MODEL_ARGS], cwd=tmp_path, input=script.encode("utf-8", "surrogateescape"),
        capture_output=True, env=environ, timeout=300,
    )  # fmt: skip
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "error: /save: a session id must be at most 200 characters, got 201" in out
    assert "error: /load: a session id must be at most 200 characters, got 201" in out
    assert "error: usage: /save NAME" in out
    assert ("error: the message is not valid UTF-8 (byte 0xe9 at offset 18); pass UTF-8 text; "
            "the line was ignored") in out
    assert "bot> " not in out  # the undecodable line never reached the model
    assert "saved as fine" in out and "(no messages yet)" in out


def test_corrupt_session_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"garbage, not sqlite" * 50)
    before = db.read_bytes()
    result = chat("--sessions", str(db), *MODEL_ARGS, cwd=tmp_path, stdin="What is 2 + 2?\n/save x\n")
    assert result.returncode == 0, result.stderr
    assert "not a localchain session database" in result.stdout
    assert "will not be saved to disk" in result.stdout
    assert result.stdout.count("bot> ") == 1
    assert db.read_bytes() == before


def test_bad_options(tmp_path: Path) -> None:
    result = chat("--memory", "vector", cwd=tmp_path, stdin="")
    assert result.returncode == 2 and "vector" in result.stderr
    result = chat("--session", "a", "--continue", cwd=tmp_path, stdin="")
    assert result.returncode == 2 and "not both" in result.stderr


# -- in a terminal -----------------------------------------------------------------------


# prompt_toolkit draws "you> " with cursor moves, so the trailing space is not in the output.
PROMPT = "you>"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    environ["TERM"] = "xterm"
    child = pexpect.spawn(
        sys.executable, ["-m", "localchain", "chat", "--sessions", str(tmp_path / "s.db"),
                         *MODEL_ARGS, *args],
        cwd=str(tmp_path), env=environ, encoding="utf-8", timeout=180, dimensions=(50, 200),
    )
    child.expect(PROMPT)
    return child


def ask(child: pexpect.spawn, text: str) -> str:
    child.sendline(text)
    child.expect("\n")  # the line is accepted; what follows is the reply, then a new prompt
    child.expect(PROMPT)
    return ANSI.sub("", child.before)


def test_typing_in_a_terminal_save_restart_load(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    ask(child, "Hi! My name is Maarten. What is 1 + 1?")
    answer = ask(child, "What is my name?")
    assert "bot> " in answer and "Maarten" in answer.split("bot> ", 1)[1]
    assert "saved as maarten" in ask(child, "/save maarten")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    child = spawn(tmp_path)
    assert "loaded maarten (4 messages)" in ask(child, "/load maarten")
    answer = ask(child, "What is my name?")
    assert "Maarten" in answer.split("bot> ", 1)[1]
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_ctrl_c_cancels_the_answer_not_the_session(tmp_path: Path) -> None:
    child = spawn(tmp_path, "--max-tokens", "400")
    child.sendline("Write a very long story about a dragon and a knight.")
    child.expect("bot> ")
    child.expect(r"\w+ \w+ \w+")  # it is answering
    child.sendintr()
    child.expect("cancelled; this exchange was not kept")
    child.expect(PROMPT)
    assert "(no messages yet)" in ask(child, "/history")
    answer = ask(child, "What is the capital of France? Answer with one word.")
    assert "Paris" in answer
    child.send("half a line")
    child.sendintr()  # at the prompt: clears the line, does not exit
    child.expect("\n")
    child.expect(PROMPT)
    assert "human: What is the capital of France?" in ask(child, "/history")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_locked_database_mid_session(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    ask(child, "What is 2 + 2?")
    holder = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        out = ask(child, "/save later")
        assert "locked by another program" in out
    finally:
        holder.rollback()
        holder.close()
    assert "saved as later" in ask(child, "/save later")
    assert "2 messages" in ask(child, "/sessions")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
