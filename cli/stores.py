"""Opening an index (`localchain index`) for the commands that search it.

A store argument is a folder (FAISS + BM25 files), ``qdrant:PATH`` or
``qdrant+http(s)://HOST:PORT/COLLECTION`` (:mod:`localchain.retrievers.qdrant_connect`).

``--mode bm25`` reads only the keyword index: it needs neither FAISS vectors nor the
embedding model, whose import alone (torch, sentence-transformers) is most of a CLI call's
start-up (docs/benchmarks.md, section 10).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

__all__ = ["ModeChoice", "ModeOpt", "open_store_retriever"]


class ModeChoice(str, Enum):
    """Values of ``--mode``: how a store is searched."""

    dense = "dense"
    bm25 = "bm25"
    hybrid = "hybrid"
    rerank = "rerank"


ModeOpt = Annotated[ModeChoice, typer.Option("--mode", help="Search method.")]


def open_store_retriever(
    store: str | Path,
    mode: ModeChoice = ModeChoice.hybrid,
    *,
    k: int = 5,
    threshold: float | str | None = "auto",
    reranker: Any = "llm",
    shortlist_k: int = 20,
    llm: Any = None,
) -> BaseRetriever:
    """The store (a folder or a Qdrant store argument) as a retriever in ``mode``.

    For ``rerank``: ``reranker`` is a name (``llm``, ``cohere``, ``cross-encoder:PATH``) or a
    :class:`~localchain.retrievers.Reranker`; with ``llm``, the chat model ``llm`` judges
    (None: the embedded model).

    Example:
        >>> open_store_retriever(Path("films.store"), ModeChoice.bm25, k=3)  # doctest: +SKIP
    """
    from localchain.retrievers.qdrant_connect import is_qdrant_store

    if mode is ModeChoice.bm25 and not is_qdrant_store(store):
        return _keyword_index(Path(store), k)
    from localchain.retrievers.store import open_retriever

    if mode is ModeChoice.rerank and reranker == "llm" and llm is not None:
        from localchain.retrievers.llm_rerank import LLMReranker

        reranker = LLMReranker(llm=llm)
    return open_retriever(
        store,
        mode=mode.value,  # type: ignore[arg-type]
        k=k,
        threshold=threshold,  # type: ignore[arg-type]
        reranker=reranker,
        shortlist_k=shortlist_k,
    )


def _keyword_index(store: Path, k: int) -> BaseRetriever:
    # What Index.open reads for the BM25 side, without the FAISS side and the embedding
    # model it checks (loading it costs seconds and BM25 never uses it). Pinned like
    # Index.open, so a writer finishing an update cannot remove the generation being read.
    from localchain.retrievers.bm25 import BM25Retriever
    from localchain.retrievers.store_manifest import generation_folder, read_manifest, reader_pin

    folder = store.resolve()
    with reader_pin(folder):
        manifest = read_manifest(folder)
        bm25 = BM25Retriever.load(folder / generation_folder(manifest.generation) / "bm25.json")
    return bm25.model_copy(update={"k": k})
