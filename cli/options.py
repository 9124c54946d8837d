"""Options shared by the CLI commands, and JSON output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from localchain.models.registry import resolve_settings
from localchain.settings import Settings

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="GGUF path (or model name for a remote backend)."),
]
BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="llamacpp, openai or cohere.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (selects openai).")
]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", "-t", help="Sampling temperature.")
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="Most tokens per answer.")]
NCtxOpt = Annotated[int | None, typer.Option("--n-ctx", help="Context window in tokens.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]
TemplateOpt = Annotated[
    str | None,
    typer.Option("--chat-template", help="Built-in template name or Jinja text (local models)."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")
]


def settings_from_options(**options: Any) -> Settings:
    """Settings from CLI options; options not given fall through to env and TOML."""
    return resolve_settings(**{k: v for k, v in options.items() if v is not None})


def print_json(data: dict[str, Any]) -> None:
    """Write one JSON object and a newline to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def read_question(question: str) -> str:
    """The QUESTION argument, read from stdin when it is ``-``; an empty one is a usage error."""
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise typer.BadParameter("the question is empty", param_hint="QUESTION")
    return question

