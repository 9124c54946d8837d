"""A Qdrant vector store: dense (cosine) and BM25 sparse vectors in one collection.

:class:`QdrantStore` is a LangChain ``VectorStore`` with the interface of
:class:`~.faiss_store.FaissStore` (stable ids, ``search_by_vector`` with a score threshold,
``update_metadata``, filters), so :class:`~.dense.DenseRetriever` and
:class:`~.store.Index` use either. On top it searches BM25 (:meth:`QdrantStore.sparse_search`)
and dense + BM25 fused by reciprocal rank in the engine (:meth:`QdrantStore.hybrid_search`:
one ``query_points`` call with two prefetches and RRF).

Collection layout (langchain-qdrant's, so :meth:`QdrantStore.as_langchain` reads it with
``QdrantVectorStore``):

* named vectors ``dense`` (cosine, the embedding dimension) and ``bm25`` (sparse, IDF
  modifier; :mod:`.qdrant_sparse`);
* payload ``page_content``, ``metadata`` (the Document's), ``chunk_id`` (our id) and
  ``terms`` (BM25 length);
* point ids: UUID 5 of the chunk id (Qdrant takes only UUIDs and integers), so the same
  chunk is always the same point (:mod:`.qdrant_points`);
* collection metadata ``localchain``: format, version, embedding model and dimension, the
  BM25 encoding, and what :class:`~.qdrant_index.QdrantIndex` records (chunker, roots).

Scores are FAISS's: cosine similarity for dense hits; BM25 (Lucene IDF) for sparse hits;
``sum 1 / (rank_constant + rank)`` for fused ones, with ranks from 1 as in
:func:`~.hybrid.reciprocal_rank_fusion`.

Example:
    >>> from qdrant_client import QdrantClient
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> store = QdrantStore(default_embeddings(), QdrantClient(":memory:"))
    >>> _ = store.add_texts(["Cats purr.", "Dogs bark."], ids=["cats", "dogs"])
    >>> doc, score = store.similarity_search_with_score("a barking dog", k=1)[0]
    >>> doc.id, doc.page_content, round(score, 2)
    ('dogs', 'Dogs bark.', 0.82)
    >>> [d.id for d in store.sparse_search("dogs", k=2)]
    ['dogs']
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError, IndexFormatError
from localchain.retrievers.bm25 import rm3_weights, term_shares
from localchain.retrievers.embeddings import embed_matrix, embedding_identity
from localchain.retrievers.faiss_store import _given_ids, _with_ids
from localchain.retrievers.qdrant_connect import DEFAULT_COLLECTION
from localchain.retrievers.qdrant_points import document, hits, point_id, qdrant_filter
from localchain.retrievers.qdrant_sparse import BM25Encoding, default_tokenizer, tokenizer_name
from localchain.text import resolve_tokenizer

__all__ = ["DENSE", "FORMAT", "SPARSE", "Feedback", "QdrantStore"]

FORMAT = "localchain.qdrant"
VERSION = 1
DENSE = "dense"
SPARSE = "bm25"
_BATCH = 256


@dataclass(frozen=True)
class Feedback:
    """RM3 query feedback for the BM25 side of a Qdrant search (see :func:`.bm25.rm3_weights`).

    The engine has no query expansion, so the first pass asks for the ``docs`` best BM25 hits,
    the client expands the query from their texts, and the expanded query rescores the
    ``candidates`` best documents of the plain query (those holding one of its terms)."""

    docs: int = 5
    terms: int = 30
    query_weight: float = 0.4
    candidates: int = 1000


class QdrantStore(VectorStore):
    """LangChain vector store over one Qdrant collection, dense + BM25 sparse.

    The collection is created (empty) if it does not exist; an existing one must be a
    localchain collection of the same dimension (:class:`EmbeddingMismatchError` otherwise).

    Example:
        >>> from qdrant_client import QdrantClient
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> store = QdrantStore(default_embeddings(), QdrantClient(":memory:"))
        >>> _ = store.add_texts(["The Moon orbits Earth.", "Mars is red."],
        ...                     metadatas=[{"source": "moon"}, {"source": "mars"}])
        >>> store.similarity_search("red planet", k=1, filter={"source": "moon"})[0].page_content
        'The Moon orbits Earth.'
        >>> len(store)
        2
    """

    def __init__(
        self,
        embeddings: Embeddings,
        client: Any,
        collection: str = DEFAULT_COLLECTION,
        *,
        model_name: str | None = None,
        dimension: int | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        where: str | None = None,
        errors: Callable[[], Any] | None = None,
        create: bool = True,
    ) -> None:
        """Open ``collection`` through ``client`` (a ``QdrantClient``), creating it if asked.

        ``errors`` is a context manager factory that turns client errors into localchain's
        (:func:`.qdrant_connect.qdrant_errors`); ``where`` names the store in errors.
        """
        self._embeddings = embeddings
        self.client = client
        self.collection = collection
        self.where = where or f"Qdrant collection {collection!r}"
        self.tokenizer = resolve_tokenizer(tokenizer) if tokenizer else default_tokenizer()
        self._errors = errors
        # Qdrant's local mode is not safe for concurrent calls (batch() runs threads).
        self._lock = threading.RLock()
        if model_name is None or dimension is None:
            found_name, found_dim = embedding_identity(embeddings)
            model_name, dimension = model_name or found_name, dimension or found_dim
        with self._call():
            exists = client.collection_exists(collection)
        if exists:
            self.info = self._read_info()
        elif not create:
            raise IndexFormatError(self.where, "no such collection")
        else:
            self.info = {
                "format": FORMAT,
                "version": VERSION,
                "embedding": {"name": model_name, "dimension": dimension},
                "bm25": BM25Encoding(tokenizer=tokenizer_name(self.tokenizer)).model_dump(),
            }
            self._create()
        self.model_name: str = self.info["embedding"]["name"]
        self.dimension: int = int(self.info["embedding"]["dimension"])
        self.encoding = BM25Encoding.model_validate(self.info["bm25"])
        self.settings = _Settings()

    # --- collection ------------------------------------------------------------------

    @contextmanager
    def _call(self) -> Iterator[None]:
        with self._lock:
            if self._errors is None:
                yield
            else:
                with self._errors():
                    yield

    def _create(self) -> None:
        from qdrant_client import models

        with self._call():
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(
                        size=self.info["embedding"]["dimension"], distance=models.Distance.COSINE
                    )
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
                metadata={"localchain": self.info},
            )

    def _read_info(self) -> dict[str, Any]:
        with self._call():
            config = self.client.get_collection(self.collection).config
        info = (config.metadata or {}).get("localchain")
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise IndexFormatError(
                self.where,
                "the collection was not written by localchain (no 'localchain' metadata); "
                "index into a new collection",
            )
        if info.get("version") != VERSION:
            raise IndexFormatError(self.where, f"format version {info.get('version')}")
        vectors = config.params.vectors
        size = vectors.get(DENSE).size if isinstance(vectors, dict) and DENSE in vectors else None
        if size != info["embedding"]["dimension"]:
            raise IndexFormatError(
                self.where,
                f"its metadata names {info['embedding']['dimension']}-dimensional vectors but "
                f"its '{DENSE}' vectors have {size} dimensions",
            )
        return info

    def write_info(self, **fields: Any) -> None:
        """Merge ``fields`` into the collection's ``localchain`` metadata and save it."""
        self.info = {**self.info, **fields, "bm25": self.encoding.model_dump()}
        with self._call():
            self.client.update_collection(self.collection, metadata={"localchain": self.info})

    def close(self) -> None:
        """Close the client (a local folder is then free for another process)."""
        with self._lock:
            self.client.close()

    # --- LangChain VectorStore hooks -------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def __len__(self) -> int:
        with self._call():
            return self.client.count(self.collection, exact=True).count

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        client: Any = None,
        **kwargs: Any,
    ) -> QdrantStore:
        """Embed and index ``texts`` (in memory unless a ``client`` is given)."""
        if not texts:
            raise EmptyCorpusError("QdrantStore.from_texts needs at least one text")
        if client is None:
            from qdrant_client import QdrantClient

            client = QdrantClient(":memory:")
        store = cls(embedding, client, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        metas = metadatas or [{} for _ in texts]
        if len(texts) != len(metas):
            raise ValueError("texts and metadatas must have the same length")
        return self.add_documents(
            [Document(t, metadata=dict(m)) for t, m in zip(texts, metas)], ids=ids
        )

    def add_documents(
        self, documents: list[Document], *, ids: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and index Documents; ids as :meth:`.FaissStore.add_documents` gives them."""
        docs = _with_ids(_given_ids(list(documents), ids))
        if not docs:
            return []
        return self.add_embeddings(
            docs, embed_matrix(self.embeddings, [d.page_content for d in docs])
        )

    def add_embeddings(
        self, documents: Sequence[Document], vectors: Sequence[Sequence[float]] | np.ndarray
    ) -> list[str]:
        """Index Documents with vectors computed elsewhere (same model); returns the ids.

        A document whose id is indexed replaces it (same point id).
        """
        from qdrant_client import models

        docs = _with_ids(list(documents))
        matrix = np.asarray(vectors, dtype="float32")
        if matrix.ndim != 2 or matrix.shape[0] != len(docs):
            raise ValueError(f"need one vector per document, got shape {matrix.shape}")
        if matrix.shape[1] != self.dimension:
            raise EmbeddingMismatchError(
                self.where,
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model="the vectors given",
                dimension=int(matrix.shape[1]),
            )
        ids = [d.id for d in docs]
        last = {doc_id: row for row, doc_id in enumerate(ids)}  # a repeated id: the last wins
        rows = sorted(last.values())
        terms = {r: self.encoding.terms(docs[r].page_content, self.tokenizer) for r in rows}
        with self._lock:
            replaced = self._lengths([docs[r].id for r in rows])  # type: ignore[misc]
            before = len(self)
            added = sum(len(t) for t in terms.values())
            self.encoding.total_terms += added - sum(replaced.values())
            points_after = before + len(rows) - len(replaced)
            if before == 0:
                # The first batch sets the mean length the vectors are written with.
                self.encoding.avgdl = max(added / max(len(rows), 1), 1.0)
            points = [
                models.PointStruct(
                    id=point_id(docs[r].id),  # type: ignore[arg-type]
                    vector=self._vectors(matrix[r], terms[r]),
                    payload={
                        "page_content": docs[r].page_content,
                        "metadata": dict(docs[r].metadata),
                        "chunk_id": docs[r].id,
                        "terms": len(terms[r]),
                    },
                )
                for r in rows
            ]
            with self._call():
                for start in range(0, len(points), _BATCH):
                    self.client.upsert(self.collection, points[start : start + _BATCH])
            self._keep_bm25_current(points_after)
            self.write_info()
        return ids  # type: ignore[return-value]

    def _vectors(self, vector: np.ndarray, terms: list[str]) -> dict[str, Any]:
        named: dict[str, Any] = {DENSE: vector.tolist()}
        if terms:  # a text of stop words only has no BM25 vector
            named[SPARSE] = self.encoding.document_vector(terms)
        return named

    def _lengths(self, ids: Sequence[str]) -> dict[str, int]:
        """BM25 lengths of the indexed ones among ``ids``."""
        found = self._retrieve(ids, payload=["chunk_id", "terms"])
        return {p.payload["chunk_id"]: int(p.payload.get("terms", 0)) for p in found}

    def _retrieve(self, ids: Sequence[str], payload: Any = True) -> list[Any]:
        out = []
        with self._call():
            for start in range(0, len(ids), _BATCH):
                batch = [point_id(i) for i in ids[start : start + _BATCH]]
                out += self.client.retrieve(self.collection, batch, with_payload=payload)
        return out

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The stored dense vectors of the documents with these ids, in that order (as
        :meth:`.FaissStore.vectors_of`; DenseRetriever's Rocchio feedback reads them)."""
        found: dict[str, Any] = {}
        with self._call():
            for start in range(0, len(ids), _BATCH):
                batch = [point_id(i) for i in ids[start : start + _BATCH]]
                for point in self.client.retrieve(
                    self.collection, batch, with_payload=["chunk_id"], with_vectors=[DENSE]
                ):
                    found[point.payload["chunk_id"]] = point.vector[DENSE]
        if not ids:
            return np.zeros((0, self.dimension), dtype="float32")
        return np.asarray([found[i] for i in ids], dtype="float32")

    def _keep_bm25_current(self, points: int) -> None:
        name = tokenizer_name(self.tokenizer)
        defaults = BM25Encoding()
        if self.encoding.stale(points, name, defaults.k1, defaults.b):
            self.rewrite_sparse(name, defaults.k1, defaults.b)

    def rewrite_sparse(
        self, tokenizer: str | None = None, k1: float | None = None, b: float | None = None
    ) -> int:
        """Write every BM25 vector again (no embedding): for a new mean length, tokenizer or
        BM25 parameters. Returns how many points were rewritten."""
        from qdrant_client import models

        with self._lock:
            docs = self.documents
            terms = [self.encoding.terms(d.page_content, self.tokenizer) for d in docs]
            total = sum(len(t) for t in terms)
            self.encoding = self.encoding.model_copy(
                update={
                    "tokenizer": tokenizer or tokenizer_name(self.tokenizer),
                    "k1": self.encoding.k1 if k1 is None else k1,
                    "b": self.encoding.b if b is None else b,
                    "avgdl": max(total / max(len(docs), 1), 1.0),
                    "total_terms": total,
                }
            )
            operations: list[Any] = []
            for doc, doc_terms in zip(docs, terms):
                pid = point_id(doc.id)  # type: ignore[arg-type]
                # A tokenizer change changes lengths too; a text left with no terms loses
                # its sparse vector.
                operations.append(
                    models.SetPayloadOperation(
                        set_payload=models.SetPayload(
                            payload={"terms": len(doc_terms)}, points=[pid]
                        )
                    )
                )
                if doc_terms:
                    vector = {SPARSE: self.encoding.document_vector(doc_terms)}
                    operations.append(
                        models.UpdateVectorsOperation(
                            update_vectors=models.UpdateVectors(
                                points=[models.PointVectors(id=pid, vector=vector)]
                            )
                        )
                    )
                else:
                    operations.append(
                        models.DeleteVectorsOperation(
                            delete_vectors=models.DeleteVectors(points=[pid], vector=[SPARSE])
                        )
                    )
            with self._call():
                for start in range(0, len(operations), _BATCH):
                    self.client.batch_update_points(
                        self.collection, operations[start : start + _BATCH]
                    )
            self.write_info()
        return len(docs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Remove Documents by id (unknown ids are ignored); True if any was removed."""
        from qdrant_client import models

        if not ids:
            return False
        with self._lock:
            found = self._lengths(list(ids))
            if not found:
                return False
            with self._call():
                self.client.delete(
                    self.collection,
                    models.PointIdsList(points=[point_id(i) for i in found]),
                )
            self.encoding.total_terms -= sum(found.values())
            self._keep_bm25_current(len(self))
            self.write_info()
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The indexed Documents with these ids, in the order given (unknown ids skipped)."""
        by_id = {p.payload["chunk_id"]: p for p in self._retrieve(list(ids))}
        return [document(by_id[i].payload) for i in ids if i in by_id]

    def update_metadata(self, documents: Sequence[Document]) -> int:
        """Replace the metadata of indexed Documents (by id) without re-embedding."""
        from qdrant_client import models

        docs = [d for d in documents if d.id]
        with self._lock:
            known = self._lengths([d.id for d in docs])  # type: ignore[misc]
            operations = [
                models.SetPayloadOperation(
                    set_payload=models.SetPayload(
                        payload={"metadata": dict(d.metadata)},
                        points=[point_id(d.id)],  # type: ignore[arg-type]
                    )
                )
                for d in docs
                if d.id in known
            ]
            with self._call():
                for start in range(0, len(operations), _BATCH):
                    self.client.batch_update_points(
                        self.collection, operations[start : start + _BATCH]
                    )
        return len(operations)

    @property
    def documents(self) -> list[Document]:
        """Every indexed Document (in point-id order)."""
        out: list[Document] = []
        offset = None
        with self._call():
            while True:
                points, offset = self.client.scroll(
                    self.collection, limit=1024, offset=offset, with_payload=True
                )
                out += [document(p.payload) for p in points]
                if offset is None:
                    return out

    def known_metadata(self) -> dict[str, dict[str, Any]]:
        """Chunk id -> metadata of every indexed Document (what re-indexing diffs against)."""
        return {d.id: d.metadata for d in self.documents}  # type: ignore[misc]

    # --- search ----------------------------------------------------------------------

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        return self.similarity_search_by_vector(self.embeddings.embed_query(query), k, filter)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self.search_by_vector(self.embeddings.embed_query(query), k, filter)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` nearest Documents as they were added (no ``score`` / ``rank`` added,
        as LangChain's contract has it; :meth:`search_by_vector` adds them)."""
        return [document(p.payload) for p in self._nearest(embedding, k, filter, None)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: (score + 1.0) / 2.0  # cosine [-1, 1] -> [0, 1]

    def search_by_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: Any = None,
        score_threshold: float | None = None,
    ) -> list[tuple[Document, float]]:
        """Dense search; hits carry ``score`` (cosine) and ``rank`` in their metadata."""
        return hits(self._nearest(vector, k, filter, score_threshold))

    def _nearest(
        self, vector: Sequence[float] | np.ndarray, k: int, filter: Any, cut: float | None
    ) -> list[Any]:
        query = self._query_vector(vector, k)
        flt = qdrant_filter(filter)
        if flt is False:
            return []
        with self._call():
            return self.client.query_points(
                self.collection,
                query=query,
                using=DENSE,
                limit=k,
                query_filter=flt,
                score_threshold=cut,
                with_payload=True,
            ).points

    def sparse_search(
        self,
        query: str | list[str],
        k: int = 4,
        filter: Any = None,
        *,
        feedback: Feedback | None = None,
    ) -> list[Document]:
        """BM25 search (only documents sharing a term with the query); ``query`` is text or
        its terms. Hits carry ``score`` and ``rank``; no terms gives ``[]``. With
        ``feedback`` the query is expanded (RM3) as :class:`~.bm25.BM25Retriever` does."""
        terms = self.encoding.terms(query, self.tokenizer) if isinstance(query, str) else query
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        flt = qdrant_filter(filter)
        if not terms or flt is False:
            return []
        with self._call():
            points = self.client.query_points(
                self.collection,
                **self._sparse_query(terms, k, flt, feedback),
                limit=k,
                query_filter=flt,
                with_payload=True,
            ).points
        return [doc for doc, _ in hits(points)]

    def _sparse_query(
        self, terms: list[str], limit: int, flt: Any, feedback: Feedback | None
    ) -> dict[str, Any]:
        """The BM25 side of a query: the terms' sparse vector, or with feedback the expanded
        query rescoring the documents that hold one of the query's own terms (its best
        ``feedback.candidates``), so an expansion term alone does not make a match."""
        from qdrant_client import models

        plain = self.encoding.query_vector(terms)
        expanded = self._expanded(terms, plain, flt, feedback) if feedback else None
        if not expanded:
            return {"query": plain, "using": SPARSE}
        candidates = models.Prefetch(
            query=plain, using=SPARSE, limit=max(feedback.candidates, limit), filter=flt
        )
        return {
            "prefetch": [candidates],
            "query": self.encoding.query_vector(expanded),
            "using": SPARSE,
        }

    def _expanded(
        self, terms: list[str], plain: Any, flt: Any, feedback: Feedback
    ) -> dict[str, float]:
        with self._call():
            best = self.client.query_points(
                self.collection,
                query=plain,
                using=SPARSE,
                limit=feedback.docs,
                query_filter=flt,
                with_payload=["page_content"],
            ).points
        shares = [
            (
                float(p.score),
                term_shares(self.encoding.terms(p.payload["page_content"], self.tokenizer)),
            )
            for p in best
            if p.score > 0
        ]
        return rm3_weights(
            Counter(terms), shares, terms=feedback.terms, query_weight=feedback.query_weight
        )

    def hybrid_search(
        self,
        query: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        fetch_k: int = 20,
        rank_constant: int = 60,
        filter: Any = None,
        score_threshold: float | None = None,
        feedback: Feedback | None = None,
    ) -> list[Document]:
        """Dense and BM25 fused by reciprocal rank in one engine query.

        Each side fetches ``max(fetch_k, k)``; the dense side drops hits below
        ``score_threshold``, the BM25 side has only documents sharing a term (none for a
        query of stop words). Scores are ``sum 1 / (rank_constant + rank)``, ranks from 1.
        """
        from qdrant_client import models

        dense = self._query_vector(vector, k)
        terms = self.encoding.terms(query, self.tokenizer)
        flt = qdrant_filter(filter)
        if flt is False:
            return []
        limit = max(fetch_k, k)
        prefetch = [
            models.Prefetch(query=dense, using=DENSE, limit=limit, score_threshold=score_threshold)
        ]
        if terms:
            sparse = self._sparse_query(terms, limit, flt, feedback)
            prefetch.append(models.Prefetch(**sparse, limit=limit, filter=flt))
        with self._call():
            points = self.client.query_points(
                self.collection,
                prefetch=prefetch,
                # Qdrant counts positions from 0: 1 / (k + position) with k = ours + 1 is
                # 1 / (rank_constant + rank) with ranks from 1.
                query=models.RrfQuery(rrf=models.Rrf(k=rank_constant + 1)),
                limit=k,
                query_filter=flt,
                with_payload=True,
            ).points
        return [doc for doc, _ in hits(points)]

    def _query_vector(self, vector: Sequence[float] | np.ndarray, k: int) -> list[float]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        query = np.asarray(vector, dtype="float32").reshape(-1)
        if query.shape[0] != self.dimension:
            raise EmbeddingMismatchError(
                self.where,
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model="the query vector",
                dimension=int(query.shape[0]),
            )
        return query.tolist()

    def check_embeddings(self, embeddings: Embeddings, where: str | None = None) -> None:
        """Raise :class:`EmbeddingMismatchError` unless ``embeddings`` match the collection's."""
        name, dimension = embedding_identity(embeddings)
        if (name, dimension) != (self.model_name, self.dimension):
            raise EmbeddingMismatchError(
                where or self.where,
                stored_model=self.model_name,
                stored_dimension=self.dimension,
                model=name,
                dimension=dimension,
            )

    def as_langchain(self) -> Any:
        """langchain-qdrant's ``QdrantVectorStore`` over the same collection (dense)."""
        from langchain_qdrant import QdrantVectorStore, RetrievalMode

        return QdrantVectorStore(
            client=self.client,
            collection_name=self.collection,
            embedding=self.embeddings,
            retrieval_mode=RetrievalMode.DENSE,
            vector_name=DENSE,
        )

    # Index compatibility: Qdrant removes deleted points itself.
    tombstones = 0

    def compact(self) -> None:
        """Nothing to do: Qdrant optimizes its segments itself."""


class _Settings:
    """What :class:`~.store.Index` asks of a store's settings: the metric."""

    metric = "cosine"
