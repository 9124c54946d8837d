"""`localchain index PATH --store DIR`: build or update a search index of a file or folder.

A new DIR gets a new store; a DIR holding a store is brought up to date with PATH (only
changed text is embedded again; chunks of deleted or changed files are removed).

``--store`` may name a Qdrant index instead of a folder: ``qdrant:PATH`` (embedded) or
``qdrant+http(s)://HOST:PORT/COLLECTION`` (a server). ``--from DIR`` copies the FAISS index
folder DIR into a new Qdrant index without embedding again (then PATH, if given, updates it).
"""

from __future__ import annotations

import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from localchain.cli.options import JsonOpt, print_json

if TYPE_CHECKING:
    from localchain.retrievers.chunking import Chunker
    from localchain.retrievers.store import IndexReport

__all__ = ["index"]


class ChunkerChoice(str, Enum):
    window = "window"
    sentence = "sentence"
    paragraph = "paragraph"
    separator = "separator"
    tokens = "tokens"


class IndexKind(str, Enum):
    auto = "auto"
    flat = "flat"
    hnsw = "hnsw"
    ivf = "ivf"


class Metric(str, Enum):
    cosine = "cosine"
    l2 = "l2"


class Keywords(str, Enum):
    default = "default"
    book = "book"


def make_chunker(
    kind: ChunkerChoice, *, size: int, overlap: int, separator: str, tokens: int, title: bool
) -> Chunker:
    """The chunker the command-line options describe."""
    from localchain.retrievers.chunking import (
        ParagraphChunker,
        SentenceChunker,
        SentenceWindowChunker,
        SeparatorChunker,
        TokenChunker,
    )

    if kind is ChunkerChoice.window:
        return SentenceWindowChunker(size=size, overlap=overlap, prepend_title=title)
    if kind is ChunkerChoice.sentence:
        return SentenceChunker(prepend_title=title)
    if kind is ChunkerChoice.paragraph:
        return ParagraphChunker(prepend_title=title)
    if kind is ChunkerChoice.separator:
        return SeparatorChunker(separator, prepend_title=title)
    return TokenChunker(
        chunk_size=tokens, chunk_overlap=min(overlap, tokens - 1), prepend_title=title
    )


def index(
    path: Annotated[
        Path | None, typer.Argument(help="File or folder to index.", show_default=False)
    ] = None,
    store: Annotated[
        str,
        typer.Option(
            "--store",
            help="Index to create or update: a folder, qdrant:PATH or "
            "qdrant+http(s)://HOST:PORT/COLLECTION.",
        ),
    ] = "",
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="DIR",
            help="Copy this FAISS index folder into a new Qdrant --store (no re-embedding).",
        ),
    ] = None,
    chunker: Annotated[
        ChunkerChoice | None,
        typer.Option("--chunker", help="How to split text (new stores; default window)."),
    ] = None,
    size: Annotated[int, typer.Option("--size", min=1, help="Sentences per window.")] = 3,
    overlap: Annotated[
        int, typer.Option("--overlap", min=0, help="Sentences (or tokens) windows share.")
    ] = 1,
    separator: Annotated[str, typer.Option("--separator", help="For --chunker separator.")] = ".",
    tokens: Annotated[int, typer.Option("--tokens", min=2, help="For --chunker tokens.")] = 200,
    title: Annotated[
        bool, typer.Option("--title/--no-title", help="Start every chunk with its file's title.")
    ] = False,
    glob: Annotated[
        list[str] | None, typer.Option("--glob", help="File pattern(s) in a folder (**/*).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Pattern(s) of files to leave out.")
    ] = None,
    kind: Annotated[
        IndexKind, typer.Option("--index", help="FAISS index kind (folder stores).")
    ] = IndexKind.auto,
    metric: Annotated[Metric, typer.Option("--metric", help="Vector similarity.")] = Metric.cosine,
    keywords: Annotated[
        Keywords | None,
        typer.Option(
            "--bm25",
            help="Keyword index of a new store: default (stems, query feedback) or book "
            "(the book's tokenizer and BM25).",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bars (default: on a terminal)."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Index a file or folder for `localchain retrieve` (dense + BM25, in a folder or Qdrant)."""
    from localchain.retrievers.bm25 import BOOK_BM25
    from localchain.retrievers.faiss_store import FaissSettings
    from localchain.retrievers.loaders import SkippedFilesWarning
    from localchain.retrievers.qdrant_connect import is_qdrant_store
    from localchain.retrievers.store import MANIFEST, Index

    if not store:
        raise typer.BadParameter("name the index to create or update", param_hint="--store")
    qdrant = is_qdrant_store(store)
    if source is not None:
        if not qdrant:
            raise typer.BadParameter(
                "--from copies a FAISS folder into Qdrant: give --store qdrant:PATH or "
                "qdrant+http://HOST:PORT/COLLECTION",
                param_hint="--from",
            )
        _copy(source, store, json_output and path is None)
        if path is None:
            return
    elif path is None:
        raise typer.BadParameter("give the file or folder to index (or --from DIR)")
    if qdrant and metric is not Metric.cosine:
        raise typer.BadParameter("a Qdrant index is cosine", param_hint="--metric")
    if qdrant and keywords is Keywords.book:
        raise typer.BadParameter(
            "a Qdrant index keeps BM25 in the engine with the default tokenizer; "
            "the book's BM25 needs a folder store",
            param_hint="--bm25",
        )

    load_options: dict[str, Any] = {}
    if glob:
        load_options["glob"] = glob
    if exclude:
        load_options["exclude"] = exclude
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedFilesWarning)
        if _exists(store, qdrant, MANIFEST):
            opened = Index.open(store)
            if chunker is not None:
                wanted = make_chunker(
                    chunker,
                    size=size,
                    overlap=overlap,
                    separator=separator,
                    tokens=tokens,
                    title=title,
                )
                if type(wanted) is not type(opened.chunker) or wanted != opened.chunker:
                    raise typer.BadParameter(
                        f"{store} chunks with {opened.manifest.chunker.kind} "
                        f"{opened.manifest.chunker.settings}; index into a new --store to "
                        "change how text is split",
                        param_hint="--chunker",
                    )
            try:
                if keywords is not None:
                    is_book = all(getattr(opened.bm25, k) == v for k, v in BOOK_BM25.items())
                    if is_book != (keywords is Keywords.book):
                        built = "book" if is_book else "default"
                        raise typer.BadParameter(
                            f"{store} has the {built} BM25 index; index into a new --store to "
                            "change it",
                            param_hint="--bm25",
                        )
                report = opened.update(path, progress=progress, **load_options)
            finally:
                opened.close()
        else:
            report = Index.build(
                path,
                store,
                chunker=make_chunker(
                    chunker or ChunkerChoice.window,
                    size=size,
                    overlap=overlap,
                    separator=separator,
                    tokens=tokens,
                    title=title,
                ),
                faiss=FaissSettings(kind=kind.value, metric=metric.value),
                bm25=BOOK_BM25 if keywords is Keywords.book else None,
                progress=progress,
                **load_options,
            )
    for warning in caught:
        if not issubclass(warning.category, SkippedFilesWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
    _report(report, json_output)


def _exists(store: str, qdrant: bool, manifest: str) -> bool:
    if not qdrant:
        return (Path(store) / manifest).exists()
    from localchain.retrievers.qdrant_index import QdrantIndex

    return QdrantIndex.exists(store)


def _copy(source: Path, store: str, json_output: bool) -> None:
    from localchain.retrievers.qdrant_index import QdrantIndex

    report = QdrantIndex.copy_from(source, store)
    if json_output:
        print_json(report.model_dump())
        return
    print(f"copied {report.path} into {report.store}: {report.total} chunks, none re-embedded")


def _report(report: IndexReport, json_output: bool) -> None:
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s):", file=sys.stderr)
        for skipped in report.skipped:
            print(f"  {skipped.path}: {skipped.reason}", file=sys.stderr)
    if json_output:
        print_json(report.model_dump())
        return
    print(
        f"indexed {report.path} into {report.store}: {report.added} added, "
        f"{report.removed} removed, {report.unchanged} unchanged; {report.total} chunks"
    )
