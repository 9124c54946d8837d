"""`localchain rag ask "question" --store DIR`: answer from an index, citing its sources.

The answer streams to stdout, followed by the numbered sources (path and text) and the
citations; with ``--json`` one object is printed instead: question, query, answer,
citations, supported, unsupported_reason, statements, invalid_citations and sources (each
with number, id, text, score and metadata including the source path).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.utils import AddableDict

from localchain.chains.rag import rag_chain
from localchain.chains.rag_chat import format_sources_footer
from localchain.cli.options import (
    JsonOpt,
    ModelOptions,
    NoThresholdOpt,
    QuestionArg,
    StoreOpt,
    ThresholdOpt,
    print_json,
    read_question,
    relevance_cut,
    with_model_options,
)
from localchain.cli.retrieve import ModeChoice, ModeOpt
from localchain.models.registry import load_chat_model

__all__ = ["open_store_retriever", "rag_app"]

rag_app = typer.Typer(
    name="rag",
    help="Answer questions from an index built by `localchain index`, with citations.",
    no_args_is_help=True,
    add_completion=False,
)


def open_store_retriever(
    store: Path,
    mode: ModeChoice = ModeChoice.hybrid,
    *,
    k: int = 5,
    threshold: float | str | None = "auto",
    llm: Any = None,
) -> BaseRetriever:
    """The store folder as a retriever in ``mode``; ``rerank`` reranks with ``llm``.

    Example:
        >>> open_store_retriever(Path("films.store"), ModeChoice.bm25, k=3)  # doctest: +SKIP
    """
    from localchain.retrievers.store import open_retriever

    reranker: Any = "llm"
    if mode is ModeChoice.rerank and llm is not None:
        from localchain.retrievers.llm_rerank import LLMReranker

        reranker = LLMReranker(llm=llm)
    return open_retriever(store, mode=mode.value, k=k, threshold=threshold, reranker=reranker)  # type: ignore[arg-type]


@rag_app.command("ask")
@with_model_options
def ask(
    question: QuestionArg,
    store: StoreOpt,
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
    question = read_question(question)
    cut = relevance_cut(threshold, no_threshold)
    settings = model_options.settings()
    # The store is opened first, so a wrong --store fails before the model loads; only
    # rerank needs the model to open it.
    llm = load_chat_model(settings=settings) if mode is ModeChoice.rerank else None
    retriever = open_store_retriever(store, mode, k=k, threshold=cut, llm=llm)
    if llm is None:
        llm = load_chat_model(settings=settings)
    chain = rag_chain(retriever, llm, verify=verify, rewrite=rewrite)
    result = AddableDict()
    started = False
    for chunk in chain.stream(question.strip()):
        result = result + chunk
        piece = chunk.get("answer")
        if piece and not json_output:
            sys.stdout.write(piece)
            sys.stdout.flush()
            started = True
    if json_output:
        print_json(
            {
                **result,
                "sources": _sources_json(result.get("sources", [])),
                "mode": mode.value,
                "store": str(store),
            }
        )
        return
    if started:
        sys.stdout.write("\n")
    sys.stdout.write("\n" + format_sources_footer(result, width=160) + "\n")


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
