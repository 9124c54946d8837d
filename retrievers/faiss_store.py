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
here, whatever the embeddings do); ``"l2"`` gives minus the Euclidean distance, and the
distance itself is in ``metadata["distance"]``.

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
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and index texts; returns their ids (see :meth:`add_documents`)."""
        texts = list(texts)
        metas = metadatas or [{} for _ in texts]
        id_list: Sequence[str | None] = ids or [None] * len(texts)
        if not len(texts) == len(metas) == len(id_list):
            raise ValueError("texts, metadatas and ids must have the same length")
        docs = [Document(t, metadata=dict(m), id=i) for t, m, i in zip(texts, metas, id_list)]
        return self.add_documents(docs)

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Embed and index Documents; one whose id is indexed already replaces it.

        Documents without an id get a stable one (:func:`.chunking.chunk_id`).
        """
        docs = _with_ids(list(documents))
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
        return [d.id for d in docs]  # type: ignore[misc]

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
        """The ``k`` Documents most similar to ``query`` (copies, score in metadata)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: MetadataFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(Document, score)`` pairs, best first; see the module docstring for scores."""
        vector = self.embeddings.embed_query(query)
        return self.search_by_vector(vector, k, filter)

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: MetadataFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return [doc for doc, _ in self.search_by_vector(embedding, k, filter)]

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
        """Search with a query vector; ``score_threshold`` drops hits scoring below it."""
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
                raise EmptyCorpusError("the vector store is empty; add documents before searching")
            params = self._search_params(filter)
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
                metadata = dict(doc.metadata, score=score, rank=len(hits) + 1)
                if distance is not None:
                    metadata["distance"] = distance
                hits.append((Document(doc.page_content, metadata=metadata, id=doc.id), score))
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
