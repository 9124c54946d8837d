"""The chat REPL's loop: read a message or a slash command, stream the answer, repeat.

On a terminal it uses prompt_toolkit (line editing, input history kept across runs);
with piped stdin it reads plain lines and exits at EOF, so it can be scripted. A line
ending in ``\\`` continues on the next line; a line of ``\"\"\"`` starts and ends a block.
Ctrl-C cancels the answer being generated (the turn is not stored) or clears the line;
Ctrl-D exits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from rich.console import Console
from rich.markup import escape

from localchain.chains.chat import Chatbot
from localchain.cli.options import InputError, check_text, session_name
from localchain.errors import ContextOverflowError, LocalchainError
from localchain.memory import format_transcript
from localchain.models.capabilities import capabilities

__all__ = ["COMMANDS", "Repl"]

COMMANDS: dict[str, str] = {
    "/help": "this help",
    "/reset": "forget the current conversation",
    "/memory": "show what the model will see (system prompt + memory)",
    "/history": "show every message of the session",
    "/save NAME": "save the session as NAME (and continue in it)",
    "/load NAME": "continue the saved session NAME",
    "/sessions": "list saved sessions",
    "/model": "show the model",
    "/system TEXT": "set the system prompt (no TEXT: show it)",
    "/exit": "leave (Ctrl-D works too)",
}


class _LineReader:
    """Lines from prompt_toolkit on a terminal, else from stdin; EOFError at the end."""

    def __init__(self, history_file: Path | None) -> None:
        self.session: Any = None
        if sys.stdin.isatty() and sys.stdout.isatty():
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory, InMemoryHistory

            history: Any = InMemoryHistory()
            if history_file is not None:
                try:
                    history_file.parent.mkdir(parents=True, exist_ok=True)
                    history = FileHistory(str(history_file))
                except OSError:
                    pass  # input history is a convenience; chatting works without it
            self.session = PromptSession(history=history)

    def line(self, prompt: str) -> str:
        if self.session is not None:
            return str(self.session.prompt(prompt))
        sys.stdout.write(prompt)
        sys.stdout.flush()
        # Bytes, decoded here: a byte that is not UTF-8 must not end the chat (a strict
        # stdin raises UnicodeDecodeError); it stays a surrogate and run() refuses the line.
        buffer = getattr(sys.stdin, "buffer", None)
        raw = buffer.readline() if buffer is not None else sys.stdin.readline()
        line = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def message(self) -> str:
        """One message: a line, ``\\``-continued lines, or a ``\"\"\"`` block."""
        first = self.line("you> ")
        if first.strip() == '"""':
            lines: list[str] = []
            while (line := self.line("...> ")).strip() != '"""':
                lines.append(line)
            return "\n".join(lines)
        lines = [first]
        while lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1]
            lines.append(self.line("...> "))
        return "\n".join(lines)


class Repl:
    """Talk to a :class:`~localchain.chains.Chatbot` in a terminal.

    Example:
        >>> Repl(Chatbot(), console=Console(), model_info={"name": "demo"}).run()  # doctest: +SKIP
    """

    def __init__(
        self,
        bot: Chatbot,
        *,
        console: Console,
        model_info: dict[str, Any],
        history_file: Path | None = None,
    ) -> None:
        self.bot = bot
        self.console = console
        self.model_info = model_info
        self.history_file = history_file
        self._handlers: dict[str, Callable[[str], bool | None]] = {
            "/help": self._help,
            "/reset": self._reset,
            "/memory": self._memory,
            "/history": self._history,
            "/save": self._save,
            "/load": self._load,
            "/sessions": self._sessions,
            "/model": self._model,
            "/system": self._system,
            "/exit": lambda _: True,
            "/quit": lambda _: True,
        }

    def run(self) -> None:
        """Read and answer until ``/exit`` or end of input."""
        reader = _LineReader(self.history_file)
        while True:
            try:
                text = reader.message()
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            if not text.strip():
                continue
            try:
                check_text(text, "the message")
            except InputError as err:  # bytes that are not UTF-8 on a piped stdin
                self._error(f"{err}; the line was ignored")
                continue
            if text.lstrip().startswith("/"):
                if self._command(text.strip()):
                    return
                continue
            self._turn(text)

    # -- a turn --------------------------------------------------------------------------

    def _turn(self, text: str) -> None:
        pieces = self.bot.stream(text)
        started = False
        try:
            for piece in pieces:
                if not started:
                    # "bot> " only once the model answers: notices come before it.
                    sys.stdout.write("bot> ")
                    piece = piece.lstrip()
                    started = True
                sys.stdout.write(piece)
                sys.stdout.flush()
            if started:
                sys.stdout.write("\n")
                sys.stdout.flush()
            elif self.bot.last_turn is not None:
                self.console.print("bot> [dim](empty answer)[/dim]")
            footer = getattr(self.bot, "turn_footer", None)
            if callable(footer) and (text := footer()):
                # A RAG chatbot's sources and citations for this answer.
                self.console.print(f"[dim]{escape(text)}[/dim]")
        except KeyboardInterrupt:
            pieces.close()
            if started:
                sys.stdout.write("\n")
            self.console.print("[dim]cancelled; this exchange was not kept[/dim]")
        except ContextOverflowError as err:
            self._error(
                f"the message does not fit the context ({err.prompt_tokens} tokens, the "
                f"window is {err.n_ctx}): shorten it or start with a larger --n-ctx"
            )
        except Exception as err:  # noqa: BLE001 - one failed turn must not end the session
            if started:
                sys.stdout.write("\n")
            message = str(err) if isinstance(err, LocalchainError) else f"{type(err).__name__}: {err}"
            self._error(message)

    def notice(self, text: str) -> None:
        """Show a memory notice (passed to the chatbot as ``on_notice``)."""
        self.console.print(f"[yellow]{escape(text)}[/yellow]")

    def _error(self, text: str) -> None:
        self.console.print(f"[red]error: {escape(text)}[/red]")

    # -- slash commands ------------------------------------------------------------------

    def _command(self, line: str) -> bool:
        name, _, argument = line.partition(" ")
        handler = self._handlers.get(name.lower())
        if handler is None:
            self._error(f"unknown command {name}; /help lists the commands")
            return False
        try:
            return bool(handler(argument.strip()))
        except (LocalchainError, InputError) as err:
            self._error(str(err))
            return False
        except Exception as err:  # noqa: BLE001 - one failed command must not end the session
            self._error(f"{name} failed: {type(err).__name__}: {err}")
            return False

    def _help(self, _: str) -> None:
        width = max(len(c) for c in COMMANDS)
        lines = [f"  {escape(c.ljust(width))}  {h}" for c, h in COMMANDS.items()]
        self.console.print("commands:\n" + "\n".join(lines))
        self.console.print(
            '  end a line with \\ to continue it; \"\"\" on its own line starts and ends a block'
        )

    def _reset(self, _: str) -> None:
        self.bot.reset()
        self.console.print("[dim]conversation cleared[/dim]")

    def _memory(self, _: str) -> None:
        memory = self.bot.memory
        prompt = self.bot.prompt_for("")[:-1]
        self.console.print(
            f"[bold]memory:[/bold] {memory.memory_type} ({escape(repr(memory))}); "
            f"the model sees {len(prompt) - 1} remembered message(s)"
        )
        tokens = capabilities(self.bot.llm).count_tokens(prompt)
        if tokens is not None:
            self.console.print(f"[bold]tokens:[/bold] {tokens}")
        self.console.print(escape(format_transcript(prompt)))

    def _history(self, _: str) -> None:
        messages: list[BaseMessage] = self.bot.history
        if not messages:
            self.console.print("[dim](no messages yet)[/dim]")
        for message in messages:
            self.console.print(f"[bold]{message.type}:[/bold] {escape(message.text)}")

    def _save(self, name: str) -> None:
        if not name:
            self._error("usage: /save NAME")
            return
        name = session_name(name, "/save")
        replaced = name != self.bot.session_id and self.bot.store.exists(name)
        self.bot.store.copy(self.bot.session_id, name)
        self.bot.switch(name)
        note = " (replacing the session saved under that name)" if replaced else ""
        self.console.print(f"saved as {escape(name)}{note}")

    def _load(self, name: str) -> None:
        if not name:
            self._error("usage: /load NAME")
            return
        name = session_name(name, "/load")
        if not self.bot.store.exists(name):
            self._error(f"no session named {name!r}; /sessions lists them")
            return
        self.bot.switch(name)
        self.console.print(f"loaded {escape(name)} ({len(self.bot.history)} messages)")

    def _sessions(self, _: str) -> None:
        sessions = self.bot.store.sessions()
        if not sessions:
            self.console.print("[dim](no saved sessions)[/dim]")
        for info in sessions:
            mark = "*" if info.session_id == self.bot.session_id else " "
            self.console.print(
                f"{mark} {escape(info.session_id)}  {info.messages} messages, "
                f"{info.updated.astimezone():%Y-%m-%d %H:%M}"
            )

    def _model(self, _: str) -> None:
        for key, value in self.model_info.items():
            self.console.print(f"[bold]{key}:[/bold] {escape(str(value))}")

    def _system(self, text: str) -> None:
        if text:
            self.bot.system_prompt = text
            self.console.print("system prompt set")
        else:
            self.console.print(escape(self.bot.system_prompt))
