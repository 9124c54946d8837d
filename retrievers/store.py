"""An index on disk: dense (FAISS) and keyword (BM25) search over one corpus, in one folder.

Layout of a store folder::

    DIR/manifest.json         format, version, embedding model + dimension, chunker and
                              index settings, indexed roots, counts, current generation
    DIR/gen-000003/dense/     FaissStore files (index.faiss + docstore.json, no pickle)
    DIR/gen-000003/bm25.json  BM25Retriever file (JSON, no pickle)

Every update writes a complete new generation folder, then replaces ``manifest.json``
(atomically) to point at it, then removes the old one: a crash mid-update leaves the
previous index intact, and the next update removes what the crash left behind. Writers
take an advisory lock (``DIR/.writer.lock``; a second writer waits, see
:func:`.store_manifest.writer_lock`) and reload the store if another process updated it
meanwhile. Readers pin the generation they read (``DIR/.readers.lock``), so a writer
finishing meanwhile never removes it under them (:func:`.store_manifest.reader_pin`).

Re-indexing a changed folder embeds only what changed: chunk ids hash the source and the
text (:func:`.chunking.chunk_id`), so :func:`.chunking.diff_chunks` says which chunks are
new, which are gone and which are unchanged (their metadata, such as offsets, is refreshed
without re-embedding).

Example:
    >>> from pathlib import Path
    >>> _ = Path("kb").mkdir(), Path("kb/a.txt").write_text("The Moon orbits Earth. Mars is red.")
    >>> report = Index.build("kb", "store")
    >>> report.added, report.total
    (1, 1)
    >>> retriever = open_retriever("store", mode="hybrid", k=1)
    >>> retriever.invoke("red planet")[0].metadata["source"].endswith("a.txt")
    True
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, Field

from localchain.errors import EmptyCorpusError, IndexFormatError
from localchain.files import write_atomic
from localchain.retrievers.bm25 import BM25Retriever
from localchain.retrievers.chunker_spec import ChunkerSpec
from localchain.retrievers.chunking import Chunker, SentenceWindowChunker, diff_chunks
from localchain.retrievers.dense import DenseRetriever, default_threshold
from localchain.retrievers.embeddings import (
    default_embeddings,
    embed_matrix,
    embed_with_progress,
    embedding_identity,
)
from localchain.retrievers.faiss_io import load_faiss_store, save_faiss_store
from localchain.retrievers.faiss_store import FaissSettings, FaissStore
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.loaders import SkippedFile, load_documents
from localchain.retrievers.qdrant_connect import is_qdrant_store
from localchain.retrievers.store_manifest import (
    LOCK_FILE,
    MANIFEST,
    READERS_LOCK,
    EmbeddingInfo,
    StoreBusyError,
    StoreExistsError,
    StoreManifest,
    deleted_manifest,
    generation_folder,
    generation_folders,
    read_manifest,
    reader_pin,
    sweep,
    writer_lock,
)

__all__ = [
    "Index",
    "IndexReport",
    "Mode",
    "StoreBusyError",
    "StoreExistsError",
    "StoreManifest",
    "open_retriever",
]

Mode = Literal["dense", "bm25", "hybrid", "rerank"]
# Compact an HNSW graph when deleted nodes pass this share of the live ones.
_COMPACT_SHARE = 0.2
# A reader that finds its generation gone (possible only where the readers lock cannot be
# created, e.g. a read-only folder) reads the manifest again this many times.
_READ_ATTEMPTS = 3


class IndexReport(BaseModel):
    """What one build or update did.

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> kb, store = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()) / "store"
        >>> _ = (kb / "a.txt").write_text("The Moon orbits Earth. Mars is red.")
        >>> report = Index.build(kb, store, embeddings=DeterministicFakeEmbedding(size=16))
        >>> report.added, report.removed, report.total, report.skipped
        (1, 0, 1, [])
    """

    store: str
    path: str
    added: int = 0
    """Chunks embedded and indexed (new or changed text)."""
    removed: int = 0
    """Chunks dropped (deleted files, or changed text)."""
    unchanged: int = 0
    """Chunks kept without re-embedding."""
    total: int = 0
    """Chunks in the store afterwards."""
    skipped: list[SkippedFile] = Field(default_factory=list)
    """Files the loader could not read (binary, no text, ...)."""


class Index:
    """A store folder opened for searching and updating.

    Example:
        >>> from pathlib import Path
        >>> _ = Path("notes").mkdir(), Path("notes/n.md").write_text("# Cats\\n\\nCats purr.")
        >>> _ = Index.build("notes", "notes.store")
        >>> index = Index.open("notes.store")
        >>> _ = Path("notes/n.md").write_text("# Cats\\n\\nCats purr loudly.")
        >>> report = index.update("notes")
        >>> report.added, report.removed
        (1, 1)
        >>> index.search("what do cats do", mode="bm25", k=1)[0].page_content
        '# Cats\\n\\nCats purr loudly.'
    """

    def __init__(
        self,
        folder: Path,
        manifest: StoreManifest,
        dense: FaissStore,
        bm25: BM25Retriever,
        embeddings: Embeddings,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.dense = dense
        self.bm25 = bm25
        self.embeddings = embeddings
        self.chunker: Chunker = manifest.chunker.build(embeddings)

    # --- create / open ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        store_dir: str | Path,
        *,
        embeddings: Embeddings | None = None,
        chunker: Chunker | None = None,
        faiss: FaissSettings | None = None,
        bm25: Mapping[str, Any] | None = None,
    ) -> Index:
        """An empty store in a new (or empty) folder; fill it with :meth:`update`.

        A folder holding only lock files left by a failed build counts as empty.
        ``bm25`` sets up the keyword index: :class:`~.bm25.BM25Retriever` fields, such as
        :data:`~.bm25.BOOK_BM25` for the book's setup; the tokenizer by name, since the store
        must reopen with it. Default: BM25Retriever's defaults.

        ``store_dir`` may name a Qdrant index instead (``qdrant:PATH`` or
        ``qdrant+http://HOST:PORT/COLLECTION``; :class:`~.qdrant_index.QdrantIndex`).

        Raises:
            StoreExistsError: the folder holds a store, or other files.
            IndexFormatError: the folder holds a store whose ``manifest.json`` was deleted.
        """
        if is_qdrant_store(store_dir):
            from localchain.retrievers.qdrant_index import QdrantIndex

            if bm25:
                raise ValueError(
                    "a Qdrant index keeps BM25 in the engine with BM25Retriever's default "
                    "tokenizer; bm25= settings need a folder store"
                )
            return QdrantIndex.create(store_dir, embeddings=embeddings, chunker=chunker)
        folder = Path(store_dir)
        if (folder / MANIFEST).exists():
            raise StoreExistsError(str(folder), "already holds a store; use Index.open() to update")
        if generation_folders(folder):
            raise IndexFormatError(str(folder), deleted_manifest(folder))
        if folder.exists() and any(p.name not in _LOCKS for p in folder.iterdir()):
            raise StoreExistsError(str(folder), "is not empty; choose a new folder for the store")
        keyword = _bm25_settings(bm25)
        emb = embeddings or default_embeddings()
        name, dimension = embedding_identity(emb)
        spec = ChunkerSpec.of(chunker or SentenceWindowChunker(size=3, overlap=1))
        now = _now()
        manifest = StoreManifest(
            embedding=EmbeddingInfo(name=name, dimension=dimension),
            chunker=spec,
            faiss=faiss or FaissSettings(kind="auto"),
            bm25=keyword,
            created_at=now,
            updated_at=now,
        )
        dense = FaissStore(emb, manifest.faiss, model_name=name, dimension=dimension)
        bm25_index = BM25Retriever(allow_empty=True, **keyword)
        return cls(folder.resolve(), manifest, dense, bm25_index, emb)

    @classmethod
    def build(
        cls,
        path: str | Path,
        store_dir: str | Path,
        *,
        embeddings: Embeddings | None = None,
        chunker: Chunker | None = None,
        faiss: FaissSettings | None = None,
        bm25: Mapping[str, Any] | None = None,
        progress: bool | None = None,
        **load_options: Any,
    ) -> IndexReport:
        """Index a file or folder into a new store folder.

        Raises:
            EmptyCorpusError: nothing could be loaded from ``path``.
            StoreExistsError: ``store_dir`` already holds something (a ``FileExistsError``).
        """
        index = cls.create(
            store_dir, embeddings=embeddings, chunker=chunker, faiss=faiss, bm25=bm25
        )
        try:
            return index.update(path, progress=progress, **load_options)
        finally:
            index.close()

    @classmethod
    def open(cls, store_dir: str | Path, *, embeddings: Embeddings | None = None) -> Index:
        """Open a store; ``embeddings`` default to the bundled MiniLM.

        The manifest and the generation it names are read while pinned (see
        :func:`.store_manifest.reader_pin`), so a writer finishing an update meanwhile does
        not remove them; the embedding model is checked (and loaded) only afterwards.

        Raises:
            IndexFormatError: not a store, another format version, damaged files, or a
                manifest that disagrees with the vectors.
            EmbeddingMismatchError: ``embeddings`` are not the model the store was built with.
        """
        if is_qdrant_store(store_dir):
            from localchain.retrievers.qdrant_index import QdrantIndex

            return QdrantIndex.open(store_dir, embeddings=embeddings)
        folder = Path(store_dir).resolve()
        emb = embeddings or default_embeddings()
        for attempt in range(1, _READ_ATTEMPTS + 1):
            with reader_pin(folder):
                manifest = read_manifest(folder)
                try:
                    dense, bm25 = _read_generation(folder, manifest, emb)
                except IndexFormatError:
                    moved = read_manifest(folder).generation != manifest.generation
                    if not moved or attempt == _READ_ATTEMPTS:
                        raise
                    continue
            break
        dense.check_embeddings(emb, str(folder))
        return cls(folder, manifest, dense, bm25, emb)

    # --- update ----------------------------------------------------------------------

    def update(
        self,
        path: str | Path,
        *,
        progress: bool | None = None,
        wait: float | None = 600.0,
        **load_options: Any,
    ) -> IndexReport:
        """Bring the store up to date with ``path`` (a file or folder) and save it.

        Chunks of files under ``path`` that are gone or changed are removed, new text is
        embedded, the rest is kept. Other roots indexed into the same store are untouched.
        Leftovers of an update that was killed (a temporary manifest, old generations) are
        removed first.

        While another process updates the store, this one logs a warning and waits up to
        ``wait`` seconds (``None``: without limit).

        Raises:
            StoreBusyError: the other process still held the store after ``wait`` seconds.
        """
        with writer_lock(self.folder, timeout=wait):
            # Another process may have updated the store since this one opened it.
            self._refresh()
            sweep(self.folder, keep=self.manifest.generation)
            return self._update(Path(path).resolve(), progress, load_options)

    def _update(
        self, root: Path, progress: bool | None, load_options: dict[str, Any]
    ) -> IndexReport:
        report = IndexReport(store=self._name(), path=str(root))
        if self.folder is not None and root in self.folder.parents:
            # A store kept inside the folder it indexes must not index its own files.
            inside = self.folder.relative_to(root).as_posix()
            excluded = load_options.get("exclude", ())
            excluded = [excluded] if isinstance(excluded, str) else list(excluded)
            load_options = {**load_options, "exclude": [*excluded, f"{inside}/*"]}
        try:
            loaded = load_documents(root, progress=progress, **load_options)
            documents, report.skipped = loaded.documents, loaded.skipped
        except EmptyCorpusError:
            # A folder whose files were all deleted empties its part of a store; a new store
            # with nothing to index is a mistake worth reporting.
            if not self._count():
                raise
            documents = []
        chunks = self.chunker.split_documents(documents)
        known = self._known()
        in_scope = [i for i, meta in known.items() if _under(meta.get("source"), root)]
        diff = diff_chunks(in_scope, chunks)
        # Unchanged text whose position (offsets, page) moved: new metadata, same vector.
        moved = [c for c in diff.unchanged if known.get(c.id) != c.metadata]
        report.added, report.removed = len(diff.added), len(diff.removed)
        report.unchanged = len(diff.unchanged)
        if not (diff.added or diff.removed or moved) and str(root) in self.manifest.roots:
            report.total = self._count()
            return report  # nothing changed: no new generation
        self._apply(diff.removed, diff.added, moved, progress)
        if str(root) not in self.manifest.roots:
            self.manifest.roots.append(str(root))
        self._save()
        report.total = self._count()
        return report

    # What an update reads and writes; a Qdrant index (qdrant_index.py) overrides these.

    def _name(self) -> str:
        return str(self.folder)

    def _known(self) -> dict[str, dict[str, Any]]:
        """Chunk id -> metadata of every indexed chunk."""
        return {d.id: d.metadata for d in self.bm25.documents}  # type: ignore[misc]

    def _count(self) -> int:
        return len(self.bm25)

    def _apply(
        self,
        removed: list[str],
        added: list[Document],
        moved: list[Document],
        progress: bool | None,
    ) -> None:
        """Remove, embed and add, and refresh metadata, in the FAISS store and BM25."""
        self.dense.delete(removed)
        self.bm25.delete(removed)
        if added:
            vectors = _embed(self.embeddings, added, progress)
            self.dense.add_embeddings(added, vectors)
        self.dense.update_metadata(moved)
        self.bm25.add_documents([*added, *moved])
        if self.dense.tombstones > _COMPACT_SHARE * max(len(self.dense), 1):
            self.dense.compact()

    def save(self) -> None:
        """Write a new generation, point the manifest at it, remove the old one."""
        with writer_lock(self.folder):
            self._save()

    def _refresh(self) -> None:
        if not (self.folder / MANIFEST).is_file():
            if generation_folders(self.folder):
                raise IndexFormatError(str(self.folder), deleted_manifest(self.folder))
            return
        current = read_manifest(self.folder)
        if current.generation == self.manifest.generation:
            return
        mine, theirs = self.manifest, current
        if (mine.embedding, mine.chunker, mine.faiss) != (
            theirs.embedding,
            theirs.chunker,
            theirs.faiss,
        ):
            # Two builds of a new store raced, or the folder was rebuilt: their settings win
            # only if they are this store's.
            raise StoreExistsError(
                str(self.folder),
                f"was built meanwhile by another process, with {theirs.chunker.kind} chunks "
                f"of {theirs.embedding.name!r}; open it again to update it",
            )
        self.dense, self.bm25 = _read_generation(self.folder, current, self.embeddings)
        self.manifest = current

    def _save(self) -> None:
        old = self.manifest.generation
        new = old + 1
        if old == 0 and not (self.folder / MANIFEST).exists():
            # The manifest comes before any data: a build killed midway is then an empty
            # store to update, and data without a manifest always means a deleted manifest.
            self._write_manifest(self.manifest)
        data = self.folder / generation_folder(new)
        if data.exists():  # left by a crashed update; never referenced by the manifest
            shutil.rmtree(data)
        save_faiss_store(self.dense, data / "dense")
        self.bm25.save(data / "bm25.json")
        docs = self.bm25.documents
        manifest = self.manifest.model_copy(
            update={
                "generation": new,
                "chunks": len(docs),
                "sources": len({d.metadata.get("source") for d in docs}),
                "updated_at": _now(),
            }
        )
        self._write_manifest(manifest)
        self.manifest = manifest
        sweep(self.folder, keep=new)

    def _write_manifest(self, manifest: StoreManifest) -> None:
        write_atomic(self.folder / MANIFEST, manifest.model_dump_json(indent=2).encode("utf-8"))

    # --- search ----------------------------------------------------------------------

    def retriever(
        self,
        mode: Mode = "hybrid",
        *,
        k: int = 5,
        threshold: float | Literal["auto"] | None = "auto",
        reranker: Any = "llm",
        shortlist_k: int = 20,
    ) -> BaseRetriever:
        """A LangChain retriever over this store (see :func:`open_retriever`)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        cut = (
            default_threshold(self.dense.model_name, self.dense.settings.metric)
            if threshold == "auto"
            else threshold
        )
        dense = DenseRetriever(store=self.dense, k=k, score_threshold=cut)
        if mode == "dense":
            return dense
        if mode == "bm25":
            return self._keyword_retriever(k)
        hybrid = self._hybrid_retriever(dense, k)
        if mode == "hybrid":
            return hybrid
        if mode == "rerank":
            from localchain.retrievers.rerank import RerankRetriever, resolve_reranker

            return RerankRetriever(
                base=hybrid.model_copy(update={"k": shortlist_k}),
                reranker=resolve_reranker(reranker),
                shortlist_k=shortlist_k,
                k=k,
            )
        raise ValueError(f"mode must be dense, bm25, hybrid or rerank, not {mode!r}")

    def _keyword_retriever(self, k: int) -> BaseRetriever:
        # A copy shares the immutable BM25 snapshot; only its k differs.
        return self.bm25.model_copy(update={"k": k})

    def _hybrid_retriever(self, dense: DenseRetriever, k: int) -> BaseRetriever:
        return HybridRetriever(retrievers={"dense": dense, "bm25": self._keyword_retriever(k)}, k=k)

    def close(self) -> None:
        """Release what the index holds open (nothing for a folder; a Qdrant client)."""

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search(self, query: str, mode: Mode = "hybrid", **options: Any) -> list[Document]:
        """Search the store: ``retriever(mode, **options).invoke(query)``."""
        return self.retriever(mode, **options).invoke(query)


def open_retriever(
    store_dir: str | Path,
    mode: Mode = "hybrid",
    *,
    k: int = 5,
    threshold: float | Literal["auto"] | None = "auto",
    embeddings: Embeddings | None = None,
    reranker: Any = "llm",
    shortlist_k: int = 20,
) -> BaseRetriever:
    """Open a store folder as a LangChain retriever.

    Args:
        store_dir: a folder written by :meth:`Index.build` or ``localchain index``.
        mode: ``dense`` (FAISS), ``bm25`` (keywords), ``hybrid`` (RRF of both) or
            ``rerank`` (hybrid shortlist of ``shortlist_k``, reordered by ``reranker``).
        k: hits returned.
        threshold: dense relevance cut-off (cosine). ``"auto"`` uses the value measured for
            the store's embedding model (0.36 for all-MiniLM-L6-v2; none for unknown
            models), a number sets it, ``None`` turns it off. BM25 returns only documents
            sharing a word with the query. With both on, a query the corpus cannot answer
            ("What is the mass of the moon?" over the Interstellar text) returns ``[]``.
        embeddings: the store's embedding model (default: the bundled MiniLM).
        reranker: for ``rerank``: ``"llm"`` (the embedded GGUF model), ``"cohere"``,
            ``"cross-encoder:PATH"``, or a :class:`~.rerank.Reranker`.

    Example:
        >>> from pathlib import Path
        >>> _ = Path("films").mkdir(), Path("films/f.txt").write_text("Interstellar grossed $677 million.")
        >>> _ = Index.build("films", "films.store")
        >>> open_retriever("films.store", mode="dense").invoke("What is the mass of the moon?")
        []
    """
    index = Index.open(store_dir, embeddings=embeddings)
    return index.retriever(
        mode, k=k, threshold=threshold, reranker=reranker, shortlist_k=shortlist_k
    )


def _read_generation(
    folder: Path, manifest: StoreManifest, embeddings: Embeddings
) -> tuple[FaissStore, BM25Retriever]:
    """The data of the generation ``manifest`` names, checked against the manifest.

    The embedding model is not touched (it may take seconds to load); the caller checks it.
    """
    info = manifest.embedding
    if manifest.generation == 0:  # an empty store: no folder yet
        dense = FaissStore(
            embeddings, manifest.faiss, model_name=info.name, dimension=info.dimension
        )
        return dense, BM25Retriever(allow_empty=True, **manifest.bm25)
    data = folder / generation_folder(manifest.generation)
    dense = load_faiss_store(data / "dense", embeddings, check=False)
    if (dense.model_name, dense.dimension) != (info.name, info.dimension):
        raise IndexFormatError(
            str(folder),
            f"{MANIFEST} names {info.dimension}-dimensional vectors from {info.name!r}, but "
            f"{data.name}/dense holds {dense.dimension}-dimensional vectors from "
            f"{dense.model_name!r}; {MANIFEST} was edited or damaged",
        )
    return dense, BM25Retriever.load(data / "bm25.json")


_BM25_FIELDS = frozenset(
    ("tokenizer", "idf", "k1", "b", "epsilon", "feedback_docs", "feedback_terms",
     "feedback_query_weight", "require_match", "min_score")
)  # fmt: skip


def _bm25_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` checked: known fields, a tokenizer by name, values BM25Retriever takes."""
    chosen = dict(settings or {})
    unknown = set(chosen) - _BM25_FIELDS
    if unknown:
        known = ", ".join(sorted(_BM25_FIELDS))
        raise ValueError(f"unknown BM25 settings {sorted(unknown)}; known: {known}")
    if callable(chosen.get("tokenizer")):
        raise ValueError(
            "a store names its BM25 tokenizer so it can reopen with it: pass 'english' or "
            "'book', not a function (BM25Retriever takes a function for an index of your own)"
        )
    BM25Retriever(allow_empty=True, **chosen)  # bad values fail here, before any work
    return chosen


def _embed(embeddings: Embeddings, documents: list[Document], progress: bool | None) -> Any:
    if not progress or sys.stderr.isatty():
        return embed_with_progress(embeddings, documents, progress)
    # Asked for progress with stderr in a log or a pipe: rich draws nothing there, so
    # progress is written as plain lines, one per tenth of the work.
    total = len(documents)
    done, shown = 0, 0

    def advance(count: int) -> None:
        nonlocal done, shown
        done += count
        if done == total or done * 10 // total > shown:
            shown = done * 10 // total
            print(f"Embedding chunks: {done}/{total}", file=sys.stderr, flush=True)

    texts = [d.page_content for d in documents]
    return embed_matrix(embeddings, texts, batch_size=64, advance=advance)


def _under(source: Any, root: Path) -> bool:
    if not isinstance(source, str):
        return False
    path = Path(source)
    return path == root or root in path.parents


_LOCKS = (LOCK_FILE, READERS_LOCK)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
