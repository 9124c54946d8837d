"""`localchain retrieve "query" --store DIR`: search an index built by `localchain index`.

``--queries FILE`` searches every line of FILE with one opened index and prints one JSON
object a line: ``{"query": ..., "hits": [...]}``, or ``{"query": ..., "error": ...}`` for
a query that could not be searched (the exit code is then 1).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from localchain.cli.options import (
    JsonOpt,
    ModelOpt,
    NCtxOpt,
    NoThresholdOpt,
    QueriesOpt,
    StoreOpt,
    ThresholdOpt,
    print_json,
    read_lines,
    read_question,
    relevance_cut,
    settings_from_options,
)
from localchain.cli.stores import ModeChoice, ModeOpt, open_store_retriever

if TYPE_CHECKING:
    from langchain_core.documents import Document

__all__ = ["ModeChoice", "ModeOpt", "hits_as_json", "retrieve"]


def hits_as_json(hits: list[Document]) -> list[dict[str, Any]]:
    """Hits as JSON-ready dicts: rank, score, id, text, metadata (with the source path).

    Example:
        >>> from langchain_core.documents import Document
        >>> hit = hits_as_json([Document("Cats purr.", id="c1", metadata={"source": "cats.md"})])[0]
        >>> hit["rank"], hit["id"], hit["text"], hit["source"]
        (1, 'c1', 'Cats purr.', 'cats.md')
    """
    return [
        {
            "rank": doc.metadata.get("rank", i),
            "score": doc.metadata.get("score"),
            "id": doc.id,
            "text": doc.page_content,
            "source": doc.metadata.get("source"),
            "metadata": doc.metadata,
        }
        for i, doc in enumerate(hits, 1)
    ]


def retrieve(
    store: StoreOpt,
    query: Annotated[
        str | None,
        typer.Argument(help="What to search for; '-' reads it from stdin.", show_default=False),
    ] = None,
    queries: QueriesOpt = None,
    mode: ModeOpt = ModeChoice.hybrid,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Hits to return.")] = 5,
    threshold: ThresholdOpt = None,
    no_threshold: NoThresholdOpt = False,
    reranker: Annotated[
        str,
        typer.Option("--reranker", help="For --mode rerank: llm, cohere or cross-encoder:PATH."),
    ] = "llm",
    shortlist: Annotated[
        int, typer.Option("--shortlist", min=1, help="Hybrid hits reranked (--mode rerank).")
    ] = 10,
    model: ModelOpt = None,
    n_ctx: NCtxOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Search an index: dense (FAISS), bm25 (keywords), hybrid (both, fused) or rerank."""
    if (query is None) == (queries is None):
        raise typer.BadParameter("give a QUERY or --queries FILE (one of them)")
    lines = read_lines(queries) if queries is not None else [read_question(query, name="query")]
    cut = relevance_cut(threshold, no_threshold)
    llm = None
    if mode is ModeChoice.rerank and reranker == "llm":
        from localchain.models.registry import load_chat_model

        settings = settings_from_options(model=model, n_ctx=n_ctx)
        llm = load_chat_model(settings=settings, temperature=0)
    retriever = open_store_retriever(
        store, mode, k=k, threshold=cut, reranker=reranker, shortlist_k=shortlist, llm=llm
    )
    if queries is not None:
        _search_each(retriever, lines)
        return
    hits = retriever.invoke(lines[0])
    if json_output:
        sys.stdout.write(json.dumps(hits_as_json(hits), ensure_ascii=False, default=str) + "\n")
        return
    if not hits:
        print("no relevant hits")
        return
    for hit in hits_as_json(hits):
        score = hit["score"]
        shown = f"{score:.3f}" if isinstance(score, float) else str(score)
        text = " ".join(str(hit["text"]).split())
        print(f"{hit['rank']}. [{shown}] {hit['source']}\n   {text[:300]}")


def _search_each(retriever: Any, queries: list[str]) -> None:
    from localchain.errors import LocalchainError

    failed = 0
    for query in queries:
        try:
            hits = retriever.invoke(query)
        except LocalchainError as err:  # one query that cannot be searched ends no batch
            print_json({"query": query, "error": str(err)})
            failed += 1
            continue
        print_json({"query": query, "hits": hits_as_json(hits)})
    if failed:
        print(f"error: {failed} of {len(queries)} queries failed", file=sys.stderr)
        raise typer.Exit(1)
