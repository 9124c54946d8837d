"""An index in Qdrant: what :class:`~.store.Index` does with a folder, in a collection.

``Index.build(path, "qdrant:PATH")``, ``Index.open("qdrant+http://HOST:6333/films")`` and
``localchain index / retrieve / rag / chat --rag --store ...`` give a :class:`QdrantIndex`
for a Qdrant store argument (:mod:`.qdrant_connect`). Dense vectors, BM25 sparse vectors,
texts and metadata all live in the collection: searching needs nothing on the client's disk.

Re-indexing works as with a folder: chunk ids are stable, so an update deletes the points of
chunks that are gone, embeds and upserts new text, and rewrites only the metadata of text
that moved. The collection's metadata records the embedding model and dimension (opening it
with other embeddings is :class:`~localchain.errors.EmbeddingMismatchError`), the chunker
and the indexed roots. :meth:`QdrantIndex.copy_from` fills a new collection from a FAISS
index folder without embedding anything again.

Unlike a folder, updates are applied point by point (Qdrant has no generations): an update
killed midway leaves some changes in, and the next update finishes the job, since it diffs
against the points that are there. Two processes must not update one server collection at
the same time; in local mode Qdrant's own lock allows one process per folder.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from localchain.retrievers import Index
    >>> kb, where = Path(tempfile.mkdtemp()), tempfile.mkdtemp()
    >>> _ = (kb / "a.txt").write_text("The Moon orbits Earth. Mars is red.")
    >>> with Index.create(f"qdrant:{where}") as index:
    ...     report = index.update(kb)
    ...     hits = index.search("red planet", mode="hybrid", k=1)
    >>> report.added, hits[0].metadata["source"].endswith("a.txt")
    (1, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from localchain.errors import EmbeddingMismatchError, IndexFormatError
from localchain.retrievers.chunker_spec import ChunkerSpec
from localchain.retrievers.chunking import Chunker, SentenceWindowChunker
from localchain.retrievers.dense import DenseRetriever
from localchain.retrievers.embeddings import default_embeddings, embedding_identity
from localchain.retrievers.qdrant_connect import QdrantTarget, connect, qdrant_errors
from localchain.retrievers.qdrant_search import QdrantBM25Retriever, QdrantHybridRetriever
from localchain.retrievers.qdrant_store import QdrantStore
from localchain.retrievers.store import Index, IndexReport, _embed, _now
from localchain.retrievers.store_manifest import EmbeddingInfo, StoreExistsError

__all__ = ["QdrantIndex", "QdrantManifest"]


class QdrantManifest(BaseModel):
    """What a Qdrant collection records about the index (its ``localchain.index`` metadata)."""

    model_config = ConfigDict(extra="forbid")

    embedding: EmbeddingInfo
    chunker: ChunkerSpec
    roots: list[str] = Field(default_factory=list)
    """Files and folders indexed into the collection (absolute paths)."""
    chunks: int = 0
    sources: int = 0
    created_at: str = ""
    updated_at: str = ""


class QdrantIndex(Index):
    """An :class:`~.store.Index` whose chunks live in a Qdrant collection.

    Open it as a context manager, or :meth:`close` it: a local folder stays locked to this
    process while it is open.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> kb = Path(tempfile.mkdtemp())
        >>> _ = (kb / "n.md").write_text("# Cats\\n\\nCats purr.")
        >>> store = f"qdrant:{tempfile.mkdtemp()}"
        >>> _ = QdrantIndex.build(kb, store)
        >>> with QdrantIndex.open(store) as index:
        ...     _ = (kb / "n.md").write_text("# Cats\\n\\nCats purr loudly.")
        ...     report = index.update(kb)
        ...     top = index.search("what do cats do", mode="bm25", k=1)[0].page_content
        >>> (report.added, report.removed), top
        ((1, 1), '# Cats\\n\\nCats purr loudly.')
    """

    def __init__(
        self,
        target: QdrantTarget,
        manifest: QdrantManifest,
        store: QdrantStore,
        embeddings: Embeddings,
    ) -> None:
        self.target = target
        self.folder = target.path  # type: ignore[assignment]
        self.manifest = manifest  # type: ignore[assignment]
        self.dense = store  # type: ignore[assignment]
        self.store = store
        self.embeddings = embeddings
        self.chunker: Chunker = manifest.chunker.build(embeddings)

    # --- create / open ---------------------------------------------------------------

    @classmethod
    def exists(cls, store: str) -> bool:
        """Whether ``store`` names a Qdrant collection that exists (any content)."""
        target = QdrantTarget.parse(store)
        if target.path is not None and not (target.path / "meta.json").is_file():
            return False  # no need to lock (or create) a folder that holds nothing
        client = connect(target)
        try:
            with qdrant_errors(target):
                return bool(client.collection_exists(target.collection))
        finally:
            client.close()

    @classmethod
    def create(  # type: ignore[override]
        cls,
        store_dir: str | Path,
        *,
        embeddings: Embeddings | None = None,
        chunker: Chunker | None = None,
        **ignored: Any,
    ) -> QdrantIndex:
        """An empty index in a new collection; fill it with :meth:`update`.

        Raises:
            StoreExistsError: the collection exists already.
        """
        target = QdrantTarget.parse(str(store_dir))
        emb = embeddings or default_embeddings()
        name, dimension = embedding_identity(emb)
        client = connect(target)
        try:
            with qdrant_errors(target):
                if client.collection_exists(target.collection):
                    raise StoreExistsError(
                        target.where,
                        "already holds a collection; open it to update it (`localchain index PATH --store ...`), or use a new collection",
                    )
            store = _store(target, client, emb, name=name, dimension=dimension, create=True)
        except BaseException:
            client.close()
            raise
        now = _now()
        manifest = QdrantManifest(
            embedding=EmbeddingInfo(name=name, dimension=dimension),
            chunker=ChunkerSpec.of(chunker or SentenceWindowChunker(size=3, overlap=1)),
            created_at=now,
            updated_at=now,
        )
        index = cls(target, manifest, store, emb)
        index._save()
        return index

    @classmethod
    def open(  # type: ignore[override]
        cls, store_dir: str | Path, *, embeddings: Embeddings | None = None
    ) -> QdrantIndex:
        """Open an index built by :meth:`~.store.Index.build` or ``localchain index``.

        Raises:
            IndexFormatError: no such collection, or one localchain did not write.
            EmbeddingMismatchError: ``embeddings`` are not the model it was built with.
            StoreLockedError: a local folder another process has open.
            BackendConnectionError / BackendResponseError: the server is unreachable or
                refuses the API key.
        """
        target = QdrantTarget.parse(str(store_dir))
        emb = embeddings or default_embeddings()
        if target.path is not None and not (target.path / "meta.json").is_file():
            raise IndexFormatError(
                target.where,
                f"no Qdrant index there; build one with `localchain index PATH --store "
                f"qdrant:{target.path}`",
            )
        client = connect(target)
        try:
            with qdrant_errors(target):
                found = client.collection_exists(target.collection)
            if not found:
                raise IndexFormatError(
                    target.where,
                    f"no collection {target.collection!r}; build one with `localchain index "
                    "PATH --store ...`",
                )
            store = _store(target, client, emb, create=False)
            raw = store.info.get("index")
            if not isinstance(raw, dict):
                raise IndexFormatError(target.where, "the collection holds no localchain index")
            manifest = QdrantManifest.model_validate(raw)
            store.check_embeddings(emb, target.where)
            _refresh_bm25(store)
        except BaseException:
            client.close()
            raise
        return cls(target, manifest, store, emb)

    @classmethod
    def copy_from(
        cls,
        source: str | Path,
        store_dir: str,
        *,
        embeddings: Embeddings | None = None,
    ) -> IndexReport:
        """Copy a FAISS index folder into a new Qdrant collection, vectors and all.

        Nothing is embedded: the vectors are read from the folder's FAISS index. The chunker
        and roots come along, so ``update`` continues where the folder left off.

        Raises:
            IndexFormatError / EmbeddingMismatchError: as :meth:`.Index.open` for ``source``.
            ValueError: a folder using L2 distance (a Qdrant index is cosine).
        """
        folder = Index.open(source, embeddings=embeddings)
        if folder.dense.settings.metric != "cosine":
            raise ValueError(
                f"{source} uses {folder.dense.settings.metric} distance; a Qdrant index is "
                "cosine: index the documents into the Qdrant store instead"
            )
        numbers, matrix = folder.dense.vectors()
        docs = [folder.dense._docs[n] for n in numbers]
        emb = folder.embeddings
        with cls.create(store_dir, embeddings=emb) as index:
            index.manifest = index.manifest.model_copy(
                update={
                    "chunker": folder.manifest.chunker,
                    "roots": list(folder.manifest.roots),
                }
            )
            index.chunker = index.manifest.chunker.build(emb)
            for start in range(0, len(docs), 4096):
                index.store.add_embeddings(docs[start : start + 4096], matrix[start : start + 4096])
            index._save()
            return IndexReport(
                store=index._name(), path=str(source), added=len(docs), total=index._count()
            )

    # --- the hooks Index.update calls ------------------------------------------------

    def update(
        self,
        path: str | Path,
        *,
        progress: bool | None = None,
        wait: float | None = 600.0,
        **load_options: Any,
    ) -> IndexReport:
        """Bring the collection up to date with ``path`` (see :meth:`.Index.update`)."""
        self._refresh()
        return self._update(Path(path).resolve(), progress, load_options)

    def _name(self) -> str:
        return self.target.where

    def _known(self) -> dict[str, dict[str, Any]]:
        return self.store.known_metadata()

    def _count(self) -> int:
        return len(self.store)

    def _apply(
        self,
        removed: list[str],
        added: list[Document],
        moved: list[Document],
        progress: bool | None,
    ) -> None:
        self.store.delete(removed)
        if added:
            self.store.add_embeddings(added, _embed(self.embeddings, added, progress))
        self.store.update_metadata(moved)

    def _refresh(self) -> None:
        # Another process may have indexed more roots into a server collection meanwhile.
        info = self.store._read_info()
        if isinstance(info.get("index"), dict):
            current = QdrantManifest.model_validate(info["index"])
            self.manifest.roots = sorted(set(self.manifest.roots) | set(current.roots))

    def save(self) -> None:
        """Write the index record into the collection's metadata."""
        self._save()

    def _save(self) -> None:
        docs = self.store.documents
        manifest = self.manifest.model_copy(
            update={
                "chunks": len(docs),
                "sources": len({d.metadata.get("source") for d in docs}),
                "updated_at": _now(),
            }
        )
        self.store.write_info(index=manifest.model_dump())
        self.manifest = manifest

    def close(self) -> None:
        self.store.close()

    # --- search ----------------------------------------------------------------------

    def _keyword_retriever(self, k: int) -> BaseRetriever:
        return QdrantBM25Retriever(store=self.store, k=k)

    def _hybrid_retriever(self, dense: DenseRetriever, k: int) -> BaseRetriever:
        return QdrantHybridRetriever(store=self.store, k=k, score_threshold=dense.score_threshold)


def _store(
    target: QdrantTarget,
    client: Any,
    embeddings: Embeddings,
    *,
    name: str | None = None,
    dimension: int | None = None,
    create: bool,
) -> QdrantStore:
    store = QdrantStore(
        embeddings,
        client,
        target.collection,
        model_name=name,
        dimension=dimension,
        where=target.where,
        errors=lambda: qdrant_errors(target),
        create=create,
    )
    if dimension is not None and store.dimension != dimension:
        raise EmbeddingMismatchError(
            target.where,
            stored_model=store.model_name,
            stored_dimension=store.dimension,
            model=name or "?",
            dimension=dimension,
        )
    return store


def _refresh_bm25(store: QdrantStore) -> None:
    """Rewrite the BM25 vectors if they were written with another tokenizer or parameters
    than :class:`~.bm25.BM25Retriever`'s current defaults (so queries and documents agree)."""
    from localchain.retrievers.qdrant_sparse import BM25Encoding, tokenizer_name

    defaults = BM25Encoding()
    if store.encoding.stale(len(store), tokenizer_name(store.tokenizer), defaults.k1, defaults.b):
        store.rewrite_sparse(tokenizer_name(store.tokenizer), defaults.k1, defaults.b)
