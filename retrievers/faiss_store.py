"""A FAISS vector store: cosine or L2, flat / HNSW / IVF, filters, updates, saved without pickle.

:class:`FaissStore` is a LangChain ``VectorStore``. Vectors live in a FAISS index wrapped in
``IndexIDMap2``, so every chunk keeps one integer id for its life: adding and deleting
never rebuilds the index (with HNSW and IVF, deletions are tombstones that searches skip
and :meth:`FaissStore.compact` clears; :class:`~.store.Index` compacts past 20%).

Index kinds (:class:`FaissSettings`): ``"flat"`` (exact; the default), ``"hnsw"`` (graph,
approximate, fast on large corpora), ``"ivf"`` (inverted lists, trained on the first
batch), or ``"auto"``: flat below ``large_corpus`` vectors, HNSW from there, decided when
the first batch is added.

Scores, higher is better: ``"cosine"`` gives the cosine similarity (vectors are normalized
here, whatever the embeddings do); ``"l2"`` gives minus the Euclidean distance.

As LangChain's ``VectorStore`` contract has it, ids given to ``add_documents`` /
``add_texts`` (``ids=`` or ``Document.id``) are the documents' ids, and only documents with
none get a stable content-hash id; ``similarity_search`` returns the Documents as they were
added, and an empty store returns ``[]``. ``similarity_search_with_score`` and
:meth:`FaissStore.search_by_vector` (what :class:`~.dense.DenseRetriever` calls) add
``score`` and ``rank`` to each hit's metadata, and for L2 the distance as ``distance``.

Saving (:mod:`.faiss_io`) writes FAISS's own index file and a JSON docstore with a format
version, the embedding model's name and dimension, and SHA-256 checksums; nothing is pickled.

Example:
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> store = FaissStore.from_texts(["Cats purr.", "Dogs bark."], default_embeddings())
    >>> doc, score = store.similarity_search_with_score("a barking dog", k=1)[0]
    >>> doc.page_content, round(score, 2)
    ('Dogs bark.', 0.82)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError
from localchain.retrievers.chunking import chunk_id
from localchain.retrievers.embeddings import embed_matrix, embedding_identity
from localchain.retrievers.faiss_index import (
    FaissSettings,
    MetadataFilter,
    build_index,
    matches_filter,
    search_parameters,
)

__all__ = ["FaissSettings", "FaissStore", "MetadataFilter", "matches_filter"]  # re-exported


class FaissStore(VectorStore):
    """LangChain vector store over FAISS with stable ids, filters and pickle-free saving.

    Example:
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> store = FaissStore(default_embeddings())
        >>> ids = store.add_texts(["The Moon orbits Earth.", "Mars is red."],
        ...                       metadatas=[{"source": "moon"}, {"source": "mars"}])
        >>> [d.page_content for d in store.similarity_search("red planet", k=1)]
        ['Mars is red.']
        >>> store.similarity_search("red planet", k=1, filter={"source": "moon"})[0].page_content
        'The Moon orbits Earth.'
        >>> store.delete([ids[1]]), len(store)
        (True, 1)
    """

    def __init__(
        self,
        embeddings: Embeddings,
        settings: FaissSettings | None = None,
        *,
        model_name: str | None = None,
        dimension: int | None = None,
    ) -> None:
        """An empty store; the index is created by the first :meth:`add_documents`.

        ``model_name`` and ``dimension`` default to what :func:`embedding_identity` finds.
        """
        self._embeddings = embeddings
        self.settings = settings or FaissSettings()
        if model_name is None or dimension is None:
            found_name, found_dim = embedding_identity(embeddings)
            model_name, dimension = model_name or found_name, dimension or found_dim
        self.model_name: str = model_name
        self.dimension: int = dimension
        self.index: Any = None
        """The ``faiss.IndexIDMap2`` (``None`` until something is added)."""
        self.kind: str | None = None
        """The built kind (``auto`` resolved), ``None`` until something is added."""
        self._docs: dict[int, Document] = {}
        self._ids: dict[str, int] = {}
        self._deleted: set[int] = set()
        self._next = 0
        # Writers change the index, the docstore and the id maps together; readers must not
        # see them half-changed, so searches take the same lock (FAISS searches are fast).
        self._lock = threading.RLock()

    # --- LangChain VectorStore hooks -------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings that turn texts and queries into vectors."""
        return self._embeddings

    def __len__(self) -> int:
        return len(self._docs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        settings: FaissSettings | None = None,
        **kwargs: Any,
    ) -> FaissStore:
        """Embed and index ``texts``; raises :class:`EmptyCorpusError` for none."""
        if not texts:
            raise EmptyCorpusError("FaissStore.from_texts needs at least one text")
        store = cls(embedding, settings, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls, documents: list[Document], embedding: Embeddings, **kwargs: Any
    ) -> FaissStore:
        """Embed and index Documents (chunks); their ``id`` is kept."""
        if not documents:
            raise EmptyCorpusError("FaissStore.from_documents needs at least one document")
        store = cls(embedding, kwargs.pop("settings", None), **kwargs)
        store.add_documents(documents)
        return store

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and index texts; returns their ids (see :meth:`add_documents`)."""
        texts = list(texts)
        metas = metadatas or [{} for _ in texts]
        if len(texts) != len(metas):
            raise ValueError("texts and metadatas must have the same length")
        docs = [Document(t, metadata=dict(m)) for t, m in zip(texts, metas)]
        return self.add_documents(docs, ids=ids)

    def add_documents(
        self,
        documents: list[Document],
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and index Documents; one whose id is indexed already replaces it.

        A document's id is its entry in ``ids`` (one per document), else its own
        ``Document.id``, else a stable one from its source and text
        (:func:`.chunking.chunk_id`). The Documents passed in are not changed.
        """
        docs = _with_ids(_given_ids(list(documents), ids))
        if not docs:
            return []
        vectors = embed_matrix(self.embeddings, [d.page_content for d in docs])
        return self.add_embeddings(docs, vectors)

    def add_embeddings(
        self, documents: Sequence[Document], vectors: Sequence[Sequence[float]] | np.ndarray
    ) -> list[str]:
        """Index Documents with vectors computed elsewhere (same model!); returns the ids."""
        docs = _with_ids(list(documents))
        matrix = np.ascontiguousarray(np.asarray(vectors, dtype="float32"))
        if matrix.ndim != 2 or matrix.shape[0] != len(docs):
            raise ValueError(f"need one vector per document, got shape {matrix.shape}")
        if matrix.shape[1] != self.dimension:
            raise EmbeddingMismatchError(
                "FaissStore",
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model="the vectors given",
                dimension=int(matrix.shape[1]),
            )
        if self.settings.metric == "cosine":
            faiss.normalize_L2(matrix)
        ids = [d.id for d in docs]
        last = {doc_id: row for row, doc_id in enumerate(ids)}
        if len(last) < len(docs):
            # An id given twice in one batch: the last one wins, as in two separate adds
            # (indexing both would leave the first in the index under no id).
            rows = sorted(last.values())
            docs, matrix = [docs[r] for r in rows], np.ascontiguousarray(matrix[rows])
        with self._lock:
            if self.index is None:
                self.index = self._new_index(matrix)
            replaced = [self._ids[d.id] for d in docs if d.id in self._ids]  # type: ignore[index]
            self._remove_ints(replaced)
            numbers = np.arange(self._next, self._next + len(docs), dtype="int64")
            self._next += len(docs)
            self.index.add_with_ids(matrix, numbers)
            for number, doc in zip(numbers.tolist(), docs):
                self._docs[number] = Document(
                    doc.page_content, metadata=dict(doc.metadata), id=doc.id
                )
                self._ids[doc.id] = number  # type: ignore[index]
        return ids  # type: ignore[return-value]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Remove Documents by id (unknown ids are ignored); True if any was removed."""
        if not ids:
            return False
        with self._lock:
            numbers = [self._ids[i] for i in ids if i in self._ids]
            self._remove_ints(numbers)
        return bool(numbers)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The indexed Documents (copies) with these ids, in the order found."""
        with self._lock:
            return [self._docs[self._ids[i]].model_copy(deep=True) for i in ids if i in self._ids]

    def update_metadata(self, documents: Sequence[Document]) -> int:
        """Replace the metadata of indexed Documents (matched by id) without re-embedding;
        for chunks whose text is unchanged but whose position moved. Returns how many."""
        updated = 0
        with self._lock:
            for doc in documents:
                number = self._ids.get(doc.id) if doc.id else None
                if number is not None:
                    old = self._docs[number]
                    self._docs[number] = Document(
                        old.page_content, metadata=dict(doc.metadata), id=old.id
                    )
                    updated += 1
        return updated

    @property
    def documents(self) -> list[Document]:
        """Every indexed Document (copies), in insertion order."""
        with self._lock:
            return [d.model_copy(deep=True) for _, d in sorted(self._docs.items())]

    def similarity_search(
        self, query: str, k: int = 4, filter: MetadataFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` Documents most similar to ``query``, best first: copies with the
        metadata they were added with (LangChain's contract; [] for an empty store)."""
        return self.similarity_search_by_vector(self.embeddings.embed_query(query), k, filter)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: MetadataFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(Document, score)`` pairs, best first, each Document also carrying ``score``
        and ``rank`` in its metadata; see the module docstring for scores."""
        vector = self.embeddings.embed_query(query)
        return self.search_by_vector(vector, k, filter)

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: MetadataFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """:meth:`similarity_search` with a query vector."""
        return [doc for doc, _, _ in self._nearest(embedding, k, filter, None)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # LangChain's relevance scores are in [0, 1]: map cosine [-1, 1] and -distance.
        if self.settings.metric == "cosine":
            return lambda score: (score + 1.0) / 2.0
        return lambda score: 1.0 / (1.0 - score)

    # --- search ----------------------------------------------------------------------

    def search_by_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: MetadataFilter | None = None,
        score_threshold: float | None = None,
    ) -> list[tuple[Document, float]]:
        """Search with a query vector; ``score_threshold`` drops hits scoring below it.

        Each hit is a copy with ``score``, ``rank`` (and for L2 ``distance``) added to its
        metadata, as retrievers' hits have them. An empty store gives ``[]``.
        """
        hits = []
        for rank, (doc, score, distance) in enumerate(
            self._nearest(vector, k, filter, score_threshold), start=1
        ):
            doc.metadata.update(score=score, rank=rank)
            if distance is not None:
                doc.metadata["distance"] = distance
            hits.append((doc, score))
        return hits

    def _nearest(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int,
        flt: MetadataFilter | None,
        score_threshold: float | None,
    ) -> list[tuple[Document, float, float | None]]:
        """(copy of the stored Document, score, L2 distance or None) per hit, best first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        query = np.asarray(vector, dtype="float32").reshape(1, -1)
        if query.shape[1] != self.dimension:
            raise EmbeddingMismatchError(
                "FaissStore",
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model="the query vector",
                dimension=int(query.shape[1]),
            )
        if self.settings.metric == "cosine":
            faiss.normalize_L2(query)
        with self._lock:
            if not self._docs:
                return []  # nothing is similar to anything in an empty store
            params = self._search_params(flt)
            if params is False:
                return []
            scores, numbers = self.index.search(query, min(k, len(self._docs)), params=params)
            hits = []
            for raw, number in zip(scores[0].tolist(), numbers[0].tolist()):
                if number < 0 or number not in self._docs:
                    continue
                score, distance = self._score(raw)
                if score_threshold is not None and score < score_threshold:
                    continue
                doc = self._docs[number]
                copy = Document(doc.page_content, metadata=dict(doc.metadata), id=doc.id)
                hits.append((copy, score, distance))
        return hits

    def _score(self, raw: float) -> tuple[float, float | None]:
        if self.settings.metric == "cosine":
            return float(raw), None
        distance = math.sqrt(max(float(raw), 0.0))  # FAISS reports squared L2
        return -distance, distance

    def _search_params(self, flt: MetadataFilter | None) -> Any:
        selector = None
        if flt is not None:
            allowed = [n for n, d in self._docs.items() if matches_filter(d.metadata, flt)]
            if not allowed:
                return False
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype="int64"))
        elif self._deleted:
            tombstones = faiss.IDSelectorBatch(np.asarray(sorted(self._deleted), dtype="int64"))
            selector = faiss.IDSelectorNot(tombstones)  # keeps a reference to tombstones
        return search_parameters(self.kind, self.settings, selector)

    # --- index structure -------------------------------------------------------------

    def _new_index(self, first_batch: np.ndarray) -> Any:
        self.kind, index = build_index(self.settings, self.dimension, first_batch)
        return index

    def _remove_ints(self, numbers: Sequence[int]) -> None:
        if not numbers:
            return
        for number in numbers:
            doc = self._docs.pop(number)
            self._ids.pop(doc.id, None)  # type: ignore[arg-type]
        if self.kind in ("hnsw", "ivf"):
            # HNSW graphs cannot drop nodes, and IndexIDMap2's removal assumes the inner index
            # shifts its storage, which IVF lists do not: both keep tombstones that searches
            # skip until compact().
            self._deleted.update(numbers)
        else:
            self.index.remove_ids(np.asarray(numbers, dtype="int64"))

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of the documents with these ids (normalized for cosine), in
        that order; an id not in the store raises ``KeyError``."""
        with self._lock:
            numbers = [self._ids[i] for i in ids]
            if not numbers:
                return np.zeros((0, self.dimension), dtype="float32")
            return np.vstack([self.index.reconstruct(n) for n in numbers]).astype("float32")

    def vectors(self) -> tuple[list[int], np.ndarray]:
        """The live vectors with their integer ids (as stored: normalized for cosine)."""
        with self._lock:
            numbers = sorted(self._docs)
            if not numbers:
                return [], np.zeros((0, self.dimension), dtype="float32")
            matrix = np.vstack([self.index.reconstruct(n) for n in numbers])
            return numbers, matrix.astype("float32")

    def compact(self) -> None:
        """Rebuild the index from the live vectors: drops HNSW tombstones, retrains IVF."""
        with self._lock:
            numbers, matrix = self.vectors()
            self._deleted.clear()
            if not numbers:
                self.index, self.kind = None, None
                return
            self.index = self._new_index(matrix)
            self.index.add_with_ids(matrix, np.asarray(numbers, dtype="int64"))

    @property
    def tombstones(self) -> int:
        """Deleted vectors still in an HNSW graph or IVF lists (always 0 for flat)."""
        return len(self._deleted)

    def save(self, folder: str | Path) -> Path:
        """Write the store to ``folder`` without pickle (see :mod:`.faiss_io`)."""
        from localchain.retrievers.faiss_io import save_faiss_store

        return save_faiss_store(self, folder)

    @classmethod
    def load(cls, folder: str | Path, embeddings: Embeddings, *, check: bool = True) -> FaissStore:
        """Read a store written by :meth:`save`; ``embeddings`` must be the model it was
        built with (:class:`EmbeddingMismatchError` otherwise, unless ``check=False``)."""
        from localchain.retrievers.faiss_io import load_faiss_store

        return load_faiss_store(folder, embeddings, check=check)

    def check_embeddings(self, embeddings: Embeddings, where: str = "FaissStore") -> None:
        """Raise :class:`EmbeddingMismatchError` unless ``embeddings`` match the store's."""
        name, dimension = embedding_identity(embeddings)
        if (name, dimension) != (self.model_name, self.dimension):
            raise EmbeddingMismatchError(
                where,
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model=name,
                dimension=dimension,
            )


def _given_ids(docs: list[Document], ids: Sequence[str | None] | None) -> list[Document]:
    """Documents carrying the ids passed for them (copies; a None entry keeps the own id)."""
    if not ids:  # None or [], as LangChain's VectorStore.add_documents takes them
        return docs
    ids = list(ids)
    if len(ids) != len(docs):
        raise ValueError(f"got {len(ids)} ids for {len(docs)} documents; pass one id per document")
    return [
        doc if i is None else Document(doc.page_content, metadata=doc.metadata, id=i)
        for doc, i in zip(docs, ids)
    ]


def _with_ids(docs: list[Document]) -> list[Document]:
    """Documents with an id each: their own, or a stable chunk id from source and text."""
    out, seen = [], {}
    for doc in docs:
        if doc.id:
            out.append(doc)
            continue
        key = (str(doc.metadata.get("source", "")), doc.page_content)
        seen[key] = seen.get(key, -1) + 1
        out.append(Document(doc.page_content, metadata=doc.metadata, id=chunk_id(*key, seen[key])))
    return out
