"""Dense retrieval: a LangChain retriever over a :class:`~.faiss_store.FaissStore` (or a
:class:`~.qdrant_store.QdrantStore`).

Hits carry ``metadata["score"]`` (cosine, or minus the L2 distance) and ``metadata["rank"]``;
``score_threshold`` makes the retriever return nothing when nothing is close enough, which
is how a RAG chain learns that the corpus has no answer.

The default threshold for all-MiniLM-L6-v2 cosine, :data:`MINILM_RELEVANCE_THRESHOLD`
(0.36), was chosen from the best-hit cosines of answerable and off-topic questions on four
corpora - the Python Language Reference topics, Cranfield, this project's docs/ folder and
the book's Interstellar chunks - as the value with the highest mean no-answer F1
(bench/no_answer_threshold.py; docs/retrievers.md, "Relevance threshold"). It refuses the
book's terse "Income generated" (0.284): the book's own examples pass
:data:`BOOK_RELEVANCE_THRESHOLD` (0.27, chosen on those 15 chunks alone) explicitly. Cosines
depend on the model, so other embeddings need their own threshold.

``feedback_docs`` turns on pseudo-relevance feedback (Rocchio): the query vector moves
towards the mean of its best first-pass hits and the store is searched again. It is off by
default: on Cranfield it helps the first half of the queries and not the second
(docs/benchmarks.md section 7).

Example:
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> from localchain.retrievers.faiss_store import FaissStore
    >>> store = FaissStore.from_texts(
    ...     ["The film grossed $677 million.", "Cats purr when they are content."],
    ...     default_embeddings(),
    ... )
    >>> retriever = DenseRetriever(store=store, k=2, score_threshold=MINILM_RELEVANCE_THRESHOLD)
    >>> [d.metadata["rank"] for d in retriever.invoke("How much money did the film make?")]
    [1]
    >>> retriever.invoke("What is the mass of the moon?")
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field

from localchain.errors import EmptyQueryError
from localchain.retrievers.faiss_store import MetadataFilter

__all__ = [
    "BOOK_RELEVANCE_THRESHOLD",
    "MINILM_RELEVANCE_THRESHOLD",
    "DenseRetriever",
    "default_threshold",
]

MINILM_RELEVANCE_THRESHOLD = 0.36
"""Cosine below which an all-MiniLM-L6-v2 hit is taken as not relevant (see the module doc).

Measured no-answer precision / recall at 0.36: pydoc 1.00 / 1.00, Cranfield 0.93 / 1.00,
docs 1.00 / 0.93, Interstellar 0.89 / 1.00 (0.27 gave recall 0.88, 0.86, 0.53 and 1.00)."""

BOOK_RELEVANCE_THRESHOLD = 0.27
"""The all-MiniLM-L6-v2 cut-off measured on the book's 15 Interstellar chunks alone: it keeps
all 8 answerable book questions, "Income generated" (0.284) too, and refuses the 8
off-topic ones (at most 0.246). The book-parity examples and tests pass it explicitly."""

_THRESHOLDS = {"sentence-transformers/all-MiniLM-L6-v2": MINILM_RELEVANCE_THRESHOLD}


def default_threshold(model_name: str, metric: str = "cosine") -> float | None:
    """The measured relevance threshold for an embedding model, or ``None`` if unknown.

    Example:
        >>> default_threshold("sentence-transformers/all-MiniLM-L6-v2")
        0.36
        >>> default_threshold("some-other-model") is None
        True
    """
    return _THRESHOLDS.get(model_name) if metric == "cosine" else None


class DenseRetriever(BaseRetriever):
    """Top-``k`` nearest chunks by embedding, with an optional score threshold and filter.

    ``invoke(query, k=..., filter=..., score_threshold=...)`` override the fields per call.
    A query longer than the embedding window is truncated: the embeddings issue an
    ``EmbeddingTruncationWarning``, and with embeddings that can tell (they have an
    ``overflow(text)`` method, as :class:`~.embeddings.SentenceTransformerEmbeddings`) the hits
    get ``metadata["query_truncated"] = True``.

    Example:
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> from localchain.retrievers.faiss_store import FaissStore
        >>> store = FaissStore.from_texts(["Cats purr.", "Dogs bark."], default_embeddings())
        >>> hit = DenseRetriever(store=store, k=1).invoke("a barking dog")[0]
        >>> hit.page_content, hit.metadata["rank"]
        ('Dogs bark.', 1)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: VectorStore
    """The vector store searched: a :class:`~.faiss_store.FaissStore` or a
    :class:`~.qdrant_store.QdrantStore` (any store with their ``search_by_vector``)."""
    k: int = Field(default=4, ge=1)
    """Most hits per query."""
    score_threshold: float | None = None
    """Leave out hits scoring below this (cosine, or minus the L2 distance); ``None`` keeps
    all ``k``. See :data:`MINILM_RELEVANCE_THRESHOLD`."""
    filter: Any = None
    """A :data:`~.faiss_store.MetadataFilter` applied to every search, or ``None``."""
    feedback_docs: int = Field(default=0, ge=0)
    """Rocchio feedback: move the query vector towards the mean of this many best first-pass
    hits and search again; ``0`` (the default) searches once."""
    feedback_weight: float = Field(default=0.3, ge=0)
    """Weight of the hits' mean against the query vector's 1 (Rocchio's beta)."""

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: MetadataFilter | None = None,
        score_threshold: float | None = None,
    ) -> list[Document]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError(str(query), "the query is empty; ask with some words")
        embeddings = self.store.embeddings
        # Asked of the embeddings rather than caught from their warning: catching warnings
        # changes process-wide state, which batch() threads would race on.
        overflow = getattr(embeddings, "overflow", None)
        truncated = bool(callable(overflow) and overflow(query) > 0)
        vector = embeddings.embed_query(query)  # warns about the truncation itself
        limit = k or self.k
        flt = filter if filter is not None else self.filter
        cut = score_threshold if score_threshold is not None else self.score_threshold
        if self.feedback_docs:
            docs = self._with_feedback(vector, limit, flt, cut)
        else:
            docs = [doc for doc, _ in self.store.search_by_vector(vector, limit, flt, cut)]
        if truncated:
            for doc in docs:
                doc.metadata["query_truncated"] = True
        return docs

    def _with_feedback(
        self, vector: list[float], k: int, flt: MetadataFilter | None, cut: float | None
    ) -> list[Document]:
        """Rocchio: search again with ``q + beta * mean(best hits)``.

        The relevance threshold keeps its meaning: a query with no first-pass hit above it
        returns ``[]``, and every hit's ``score`` is still its similarity to the query as
        asked (``feedback_score`` is the similarity to the moved vector, which orders them),
        so the cut applies to it.
        """
        first = self.store.search_by_vector(vector, max(k, self.feedback_docs), flt, cut)
        if not first:
            return []
        feedback = [doc.id for doc, _ in first[: self.feedback_docs]]
        query = np.asarray(vector, dtype="float32")
        cosine = self.store.settings.metric == "cosine"
        if cosine:
            query = query / max(float(np.linalg.norm(query)), 1e-12)
        moved = query + self.feedback_weight * self.store.vectors_of(feedback).mean(axis=0)
        hits = self.store.search_by_vector(moved, k, flt, None)
        vectors = self.store.vectors_of([doc.id for doc, _ in hits])
        if cosine:
            asked = vectors @ query
        else:
            asked = -np.linalg.norm(vectors - query, axis=1)
        docs = []
        for (doc, moved_score), score in zip(hits, asked.tolist()):
            if cut is not None and score < cut:
                continue
            doc.metadata.update(score=score, feedback_score=moved_score, rank=len(docs) + 1)
            if cosine:
                doc.metadata.pop("distance", None)
            else:
                doc.metadata["distance"] = -score
            docs.append(doc)
        return docs
