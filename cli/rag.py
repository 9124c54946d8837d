"""`localchain rag ask "question" --store DIR`: answer from an index, citing its sources.

The answer streams to stdout, followed by the numbered sources (path and text) and the
citations; with ``--json`` one object is printed instead: question, query, answer,
citations, supported, unsupported_reason, statements, invalid_citations and sources (each
with number, id, text, score and metadata including the source path).

``--queries FILE`` answers every line of FILE with one loaded model and prints one such
object a line (``{"question": ..., "error": ...}`` for a question that failed; the exit
code is then 1).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from localchain.cli.options import (
    JsonOpt,
    ModelOptions,
    NoThresholdOpt,
    QueriesOpt,
    StoreOpt,
    ThresholdOpt,
    print_json,
    read_lines,
    read_question,
    relevance_cut,
    with_model_options,
)
from localchain.cli.stores import ModeChoice, ModeOpt, open_store_retriever

__all__ = ["open_store_retriever", "rag_app"]

rag_app = typer.Typer(
    name="rag",
    help="Answer questions from an index built by `localchain index`, with citations.",
    no_args_is_help=True,
    add_completion=False,
)


@rag_app.command("ask")
@with_model_options
def ask(
    store: StoreOpt,
    question: Annotated[
        str | None,
        typer.Argument(help="The question; '-' reads it from stdin.", show_default=False),
    ] = None,
    queries: QueriesOpt = None,
    mode: ModeOpt = ModeChoice.hybrid,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Sources to retrieve.")] = 5,
    threshold: ThresholdOpt = None,
    no_threshold: NoThresholdOpt = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Check that each cited source supports its sentence (and cite the one that does).",
        ),
    ] = True,
    rewrite: Annotated[
        bool, typer.Option("--rewrite", help="Rewrite the question into a search query first.")
    ] = False,
    model_options: ModelOptions = ModelOptions(),
    json_output: JsonOpt = False,
) -> None:
    """Answer a question from an index, citing the sources like [1]."""
    if (question is None) == (queries is None):
        raise typer.BadParameter("give a QUESTION or --queries FILE (one of them)")
    questions = read_lines(queries) if queries is not None else [read_question(question)]
    cut = relevance_cut(threshold, no_threshold)
    from localchain.chains.rag import rag_chain
    from localchain.models.registry import load_chat_model

    settings = model_options.settings()
    # The store is opened first, so a wrong --store fails before the model loads; only
    # rerank needs the model to open it.
    llm = load_chat_model(settings=settings) if mode is ModeChoice.rerank else None
    retriever = open_store_retriever(store, mode, k=k, threshold=cut, llm=llm)
    if llm is None:
        llm = load_chat_model(settings=settings)
    chain = rag_chain(retriever, llm, verify=verify, rewrite=rewrite)
    extra = {"mode": mode.value, "store": str(store)}
    if queries is not None:
        _answer_each(chain, questions, extra)
        return
    result = _answer(chain, questions[0], stream=not json_output)
    if json_output:
        print_json(_result_json(result, extra))
        return
    from localchain.chains.rag_chat import format_sources_footer

    sys.stdout.write("\n" + format_sources_footer(result, width=160) + "\n")


def _answer(chain: Any, question: str, *, stream: bool) -> dict[str, Any]:
    """Run the chain on one question; with ``stream``, the answer goes to stdout as it comes
    (and a line break after it)."""
    from langchain_core.runnables.utils import AddableDict

    result = AddableDict()
    started = False
    for chunk in chain.stream(question.strip()):
        result = result + chunk
        piece = chunk.get("answer")
        if piece and stream:
            sys.stdout.write(piece)
            sys.stdout.flush()
            started = True
    if started:
        sys.stdout.write("\n")
    return result


def _answer_each(chain: Any, questions: list[str], extra: dict[str, Any]) -> None:
    from localchain.errors import LocalchainError

    failed = 0
    for question in questions:
        try:
            result = _answer(chain, question, stream=False)
        except LocalchainError as err:  # one question that fails ends no batch
            print_json({"question": question, "error": str(err), **extra})
            failed += 1
            continue
        print_json(_result_json(result, extra))
    if failed:
        print(f"error: {failed} of {len(questions)} questions failed", file=sys.stderr)
        raise typer.Exit(1)


def _result_json(result: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**result, "sources": _sources_json(result.get("sources", [])), **extra}


def _sources_json(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sources with the retriever's score and the source path at the top level, as
    `localchain retrieve --json` shows hits."""
    return [
        {
            "number": s["number"],
            "id": s["id"],
            "text": s["text"],
            "score": s["metadata"].get("score"),
            "source": s["metadata"].get("source"),
            "metadata": s["metadata"],
        }
        for s in sources
    ]
