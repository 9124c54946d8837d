"""The ``localchain`` command line: ask, chat, models, config.

Errors go to stderr with exit code 1 (2 for bad usage); ``--json`` output goes to stdout.
"""

from __future__ import annotations

import sys

import click
import typer

from localchain.cli.ask import ask
from localchain.cli.chat import chat
from localchain.cli.config import config
from localchain.cli.model_info import models
from localchain.errors import LocalchainError

__all__ = ["app", "main"]

app = typer.Typer(
    name="localchain",
    help="Chatbots, RAG and agents on a local GGUF model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(ask)
app.command()(chat)
app.command()(models)
app.command()(config)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="localchain")
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except click.ClickException as err:
        err.show(file=sys.stderr)
        return err.exit_code
    except LocalchainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def _entry() -> None:
    sys.exit(main())
