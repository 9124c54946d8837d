"""The ``localchain`` command line: ask, chat, agent, index, retrieve, rag, eval, serve,
topics, models, config.

Errors go to stderr with exit code 1 (2 for bad usage); ``--json`` output goes to stdout.

Every command module imports only typer and the option declarations at the top; what a
command runs on (llama.cpp, LangChain, FAISS, torch, Ragas) is imported inside it, so
``--help`` and ``config`` start in under a second (docs/benchmarks.md, section 10).
"""

from __future__ import annotations

import sys

import typer

from localchain.cli.agent import agent
from localchain.cli.ask import ask
from localchain.cli.chat import chat
from localchain.cli.config import config
from localchain.cli.eval import eval_command
from localchain.cli.index import index
from localchain.cli.model_info import models
from localchain.cli.options import InputError
from localchain.cli.rag import rag_app
from localchain.cli.retrieve import retrieve
from localchain.cli.serve import serve
from localchain.cli.topics import topics
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
app.command()(index)
app.command()(retrieve)
app.add_typer(rag_app, name="rag")
app.command()(agent)
app.command("eval")(eval_command)
app.command()(serve)
app.command()(topics)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it).

    Typer reports usage errors itself (exit code 2); input the command cannot use (text
    that is not UTF-8, an unusable session name) is one ``error:`` line and exit code 2;
    localchain's own errors are printed to stderr as one line and give exit code 1.
    """
    try:
        app(args=argv, prog_name="localchain")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except LocalchainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _entry() -> None:
    sys.exit(main())
