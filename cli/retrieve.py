"""`localchain retrieve "query" --store DIR`: search an index built by `localchain index`."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated, Any

import typer
from langchain_core.documents import Document

from localchain.cli.options import (
    JsonOpt,
    ModelOpt,
    NCtxOpt,
    NoThresholdOpt,
    StoreOpt,
    ThresholdOpt,
    read_question,
    relevance_cut,
    settings_from_options,
)
from localchain.retrievers.store import Index

__all__ = ["ModeChoice", "ModeOpt", "hits_as_json", "retrieve"]


class ModeChoice(str, Enum):
    dense = "dense"
    bm25 = "bm25"
    hybrid = "hybrid"
    rerank = "rerank"


ModeOpt = Annotated[ModeChoice, typer.Option("--mode", help="Search method.")]


def hits_as_json(hits: list[Document]) -> list[dict[str, Any]]:
    """Hits as JSON-ready dicts: rank, score, id, text, metadata (with the source path)."""
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
    query: Annotated[str, typer.Argument(help="What to search for; '-' reads it from stdin.")],
    store: StoreOpt,
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
    query = read_question(query, name="query")
    cut = relevance_cut(threshold, no_threshold)
    judge: Any = reranker
    if mode is ModeChoice.rerank and reranker == "llm":
        from localchain.models.registry import load_chat_model
        from localchain.retrievers.llm_rerank import LLMReranker

        settings = settings_from_options(model=model, n_ctx=n_ctx)
        judge = LLMReranker(llm=load_chat_model(settings=settings, temperature=0))
    retriever = Index.open(store).retriever(
        mode.value,
        k=k,
        threshold=cut,
        reranker=judge,
        shortlist_k=shortlist,  # type: ignore[arg-type]
    )
    hits = retriever.invoke(query)
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
