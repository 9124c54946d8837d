"""`localchain chat`: talk to the model in a terminal, with memory and saved sessions."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from localchain.cli.options import (
    ModelOptions,
    SystemOpt,
    check_text,
    session_name,
    with_model_options,
)
from localchain.cli.stores import ModeChoice

if TYPE_CHECKING:
    from rich.console import Console

    from localchain.cli.repl import Repl
    from localchain.memory import SessionStore


class MemoryKind(str, Enum):
    buffer = "buffer"
    window = "window"
    summary = "summary"
    summary_buffer = "summary-buffer"


# Shared by `chat` and `serve`, which keep sessions with the same memories.
WindowKOpt = Annotated[int, typer.Option("--k", min=1, help="Exchanges kept by --memory window.")]
HistoryTokensOpt = Annotated[
    int,
    typer.Option("--history-tokens", min=1, help="Verbatim budget of --memory summary-buffer."),
]
SessionsFileOpt = Annotated[
    Path | None,
    typer.Option("--sessions", help="Session database (default: LOCALCHAIN_SESSIONS or "
                 "~/.local/share/localchain/sessions.db)."),
]


@with_model_options
def chat(
    memory: Annotated[
        MemoryKind, typer.Option("--memory", help="What the model remembers of the conversation.")
    ] = MemoryKind.buffer,
    k: WindowKOpt = 2,
    history_tokens: HistoryTokensOpt = 512,
    session: Annotated[
        str | None, typer.Option("--session", help="Continue (or start) the session with this id.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--continue", help="Continue the most recent session.")
    ] = False,
    sessions_file: SessionsFileOpt = None,
    system: SystemOpt = None,
    model_options: ModelOptions = ModelOptions(),
    rag: Annotated[
        str | None,
        typer.Option("--rag", help="Answer from this index (`localchain index`: a folder, "
                     "qdrant:PATH or qdrant+http://HOST:PORT/COLLECTION), citing sources; "
                     "follow-ups are rewritten with the conversation."),
    ] = None,
    rag_mode: Annotated[
        ModeChoice, typer.Option("--rag-mode", help="Search method for --rag.")
    ] = ModeChoice.hybrid,
) -> None:
    """Chat with the model in the terminal; /help lists the commands."""
    if session is not None and resume:
        raise typer.BadParameter("give --session or --continue, not both")
    if session is not None:
        session = session_name(session, "--session")
    if system is not None:
        check_text(system, "--system")
    from rich.console import Console
    from rich.markup import escape

    from localchain.chains.chat import Chatbot
    from localchain.chains.rag_chat import RagChatbot
    from localchain.cli.model_info import describe_model
    from localchain.cli.repl import Repl
    from localchain.cli.stores import open_store_retriever
    from localchain.errors import SessionStoreError
    from localchain.memory import InMemorySessionStore, memory_from_name
    from localchain.models.registry import load_chat_model

    console = Console(highlight=False, soft_wrap=True)
    settings = model_options.settings()
    llm = load_chat_model(settings=settings)
    store = _open_store(sessions_file, console)
    session_id = session
    if resume:
        session_id = _latest(store, console)
    repl_holder: list[Repl] = []
    bot_options: dict[str, Any] = {
        "system_prompt": system,
        "session_id": session_id,
        "store": store,
        "on_notice": lambda text: repl_holder[0].notice(text),
    }
    remembered = memory_from_name(memory.value, k=k, max_tokens=history_tokens)
    if rag is None:
        bot = Chatbot(llm, remembered, **bot_options)
    else:
        retriever = open_store_retriever(rag, rag_mode, llm=llm)
        bot = RagChatbot(retriever, llm, remembered, **bot_options)
    info = describe_model(llm, settings)
    repl = Repl(bot, console=console, model_info=info, history_file=_input_history_file())
    repl_holder.append(repl)
    detail = f" k={k}" if memory is MemoryKind.window else ""
    if rag is not None:
        detail += f", rag: {escape(str(rag))} ({rag_mode.value})"
    console.print(
        f"[bold]localchain chat[/bold] - model {escape(str(info['name']))} ({info['backend']}), "
        f"memory: {memory.value}{detail}, session {escape(bot.session_id)}. /help for commands."
    )
    try:
        stored = len(bot.history)
    except SessionStoreError as err:
        console.print(f"[red]error: {escape(str(err))}[/red]")
        bot.store = InMemorySessionStore()
        bot.switch(bot.session_id)
        stored = 0
    if stored:
        console.print(f"[dim]continuing: {stored} messages in this session[/dim]")
    repl.run()


def _open_store(path: Path | None, console: Console) -> SessionStore:
    from rich.markup import escape

    from localchain.errors import SessionStoreError
    from localchain.memory import InMemorySessionStore, SQLiteSessionStore

    store = SQLiteSessionStore(path)
    try:
        store.sessions()
    except SessionStoreError as err:
        console.print(
            f"[red]error: {escape(str(err))}[/red]\n[yellow]this conversation will not be saved "
            "to disk[/yellow]"
        )
        return InMemorySessionStore()
    return store


def _latest(store: SessionStore, console: Console) -> str | None:
    latest = store.latest()
    if latest is None:
        console.print("[dim]no saved session to continue; starting a new one[/dim]")
    return latest


def _input_history_file() -> Path:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "localchain" / "input_history"
