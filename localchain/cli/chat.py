"""`localchain chat`: talk to the model in a terminal, answers streamed as they come."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from rich.console import Console

from localchain.cli.model_info import describe_model
from localchain.cli.options import (
    BackendOpt,
    BaseUrlOpt,
    MaxTokensOpt,
    ModelOpt,
    NCtxOpt,
    TemperatureOpt,
    TemplateOpt,
    settings_from_options,
)
from localchain.errors import ContextOverflowError
from localchain.models.registry import load_chat_model

HELP = """commands:
  /help    this help
  /reset   forget the conversation
  /history show the conversation so far
  /exit    leave (Ctrl-D works too)"""


def _read_line(session: object | None) -> str:
    if session is not None:
        return session.prompt("you> ")  # type: ignore[attr-defined]
    sys.stdout.write("you> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def chat(
    system: Annotated[
        str, typer.Option("--system", "-s", help="System prompt.")
    ] = "You are a helpful assistant. Answer briefly.",
    model: ModelOpt = None,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    n_ctx: NCtxOpt = None,
    chat_template: TemplateOpt = None,
) -> None:
    """Chat with the model in the terminal (the whole conversation is kept in context)."""
    console = Console(highlight=False)
    settings = settings_from_options(
        model=model, backend=backend, base_url=base_url, temperature=temperature,
        max_tokens=max_tokens, n_ctx=n_ctx, chat_template=chat_template,
    )
    llm = load_chat_model(settings=settings)
    info = describe_model(llm, settings)
    console.print(
        f"[bold]localchain chat[/bold] - model {info['name']} ({info['backend']}), "
        "memory: full buffer. /help for commands."
    )
    session = None
    if sys.stdin.isatty():
        from prompt_toolkit import PromptSession

        session = PromptSession()
    history: list[BaseMessage] = []
    while True:
        try:
            text = _read_line(session).strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not text:
            continue
        if text.startswith("/"):
            command = text.split()[0]
            if command in ("/exit", "/quit"):
                return
            if command == "/reset":
                history.clear()
                console.print("[dim]conversation cleared[/dim]")
            elif command == "/history":
                for message in history:
                    console.print(f"[bold]{message.type}:[/bold] {message.content}")
            else:
                console.print(HELP)
            continue
        history.append(HumanMessage(text))
        while True:
            parts: list[str] = []
            try:
                # "bot> " only once the model answers: an overflow is known before that.
                for chunk in llm.stream([SystemMessage(system), *history]):
                    if not parts:
                        sys.stdout.write("bot> ")
                    parts.append(str(chunk.content))
                    sys.stdout.write(str(chunk.content))
                    sys.stdout.flush()
                sys.stdout.write("\n")
                history.append(AIMessage("".join(parts)))
                break
            except ContextOverflowError:
                if len(history) <= 1:
                    console.print("[red]the message alone does not fit the context window[/red]")
                    history.pop()
                    break
                del history[:2]
                console.print("[yellow]context full: dropped the oldest exchange[/yellow]")
            except KeyboardInterrupt:
                if parts:
                    sys.stdout.write("\n")
                console.print("[dim]cancelled[/dim]")
                history.pop()
                break
