"""Reranking: score a shortlist against the query with a stronger model, keep the best.

A :class:`Reranker` scores (query, document) pairs; :class:`RerankRetriever` asks a base
retriever for ``shortlist_k`` hits, has the reranker score them, and returns the best ``k``
(the book's "retrieve & re-rank": BM25 top-10 -> rerank -> top-3). Rerankers are also
LangChain ``BaseDocumentCompressor``s, so they plug into ``ContextualCompressionRetriever``.

Rerankers here:

* :class:`CrossEncoderReranker` - a sentence-transformers ``CrossEncoder`` the user has
  (a folder or a loaded model); nothing is downloaded.
* :class:`~.llm_rerank.LLMReranker` - the local GGUF chat model judges each pair under a
  grammar (offline; slow: one model call per document).
* :class:`~.cohere_api.CohereReranker` - Cohere's Rerank API (optional ``cohere`` package).

Hit metadata: ``score`` (the reranker's), ``rank``, and ``retrieval_score`` /
``retrieval_rank`` from the base retriever.

Example:
    >>> from localchain.retrievers.bm25 import BM25Retriever
    >>> class Shortest(Reranker):
    ...     def score(self, query, documents):
    ...         return [-len(d.page_content) for d in documents]
    >>> base = BM25Retriever.from_texts(["a dog barks loudly at night", "dog barks"])
    >>> hits = RerankRetriever(base=base, reranker=Shortest(), k=1).invoke("dog barks")
    >>> hits[0].page_content, hits[0].metadata["retrieval_rank"]
    ('dog barks', 2)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from localchain.errors import EmptyQueryError, MissingDependencyError, ModelNotFoundError
from localchain.retrievers.hybrid import invoke_with_k

__all__ = ["CrossEncoderReranker", "RerankRetriever", "Reranker", "resolve_reranker"]


class Reranker(BaseDocumentCompressor, ABC):
    """Base of the rerankers: implement :meth:`score`; :meth:`rerank` sorts by it.

    Example:
        >>> class ByLength(Reranker):
        ...     def score(self, query, documents):
        ...         return [float(len(d.page_content)) for d in documents]
        >>> [d.page_content for d in ByLength().rerank("q", [Document("a"), Document("bbb")])]
        ['bbb', 'a']
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @abstractmethod
    def score(self, query: str, documents: Sequence[Document]) -> list[float]:
        """One relevance score per document, higher is more relevant."""

    def rerank(
        self, query: str, documents: Sequence[Document], top_k: int | None = None
    ) -> list[Document]:
        """Copies of ``documents`` ordered by score (ties keep their order), score in metadata."""
        if not documents:
            return []
        scores = self.score(query, documents)
        if len(scores) != len(documents):
            raise ValueError(
                f"{type(self).__name__} returned {len(scores)} scores "
                f"for {len(documents)} documents"
            )
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        results = []
        for rank, i in enumerate(order[:top_k] if top_k else order, 1):
            doc = documents[i]
            metadata = {k: v for k, v in doc.metadata.items() if k not in ("score", "rank")}
            if "score" in doc.metadata:
                metadata["retrieval_score"] = doc.metadata["score"]
            metadata["retrieval_rank"] = doc.metadata.get("rank", i + 1)
            metadata.update(score=float(scores[i]), rank=rank)
            results.append(Document(doc.page_content, metadata=metadata, id=doc.id))
        return results

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """LangChain's compressor hook: the documents reranked."""
        return self.rerank(query, documents)


class RerankRetriever(BaseRetriever):
    """A base retriever's shortlist, reordered by a reranker; the best ``k`` are returned.

    Example:
        >>> from localchain.retrievers.bm25 import BM25Retriever
        >>> class Reverse(Reranker):
        ...     def score(self, query, documents):
        ...         return list(range(len(documents)))
        >>> base = BM25Retriever.from_texts(["dogs bark", "dogs bark at the dogs"])
        >>> top = RerankRetriever(base=base, reranker=Reverse(), shortlist_k=2, k=1).invoke("dogs")[0]
        >>> top.metadata["retrieval_rank"]  # the base's second hit is now first
        2
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base: BaseRetriever
    """Gives the shortlist."""
    reranker: Reranker
    """Orders the shortlist."""
    shortlist_k: int = Field(default=20, ge=1)
    """Hits asked from ``base``."""
    k: int = Field(default=4, ge=1)
    """Hits returned."""
    score_threshold: float | None = None
    """Leave out hits whose reranker score is below this."""
    keep_rest: bool = False
    """Ask ``base`` for ``k`` hits and put those past the shortlist after the reranked ones,
    in their base order (ranks continue; no reranker score), so a ranking keeps its depth
    for metrics such as nDCG@10 when the shortlist is shorter than ``k``."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError(str(query), "the query is empty; ask with some words")
        limit = k or self.k
        fetch = max(self.shortlist_k, limit) if self.keep_rest else self.shortlist_k
        found = invoke_with_k(self.base, query, fetch, run_manager, "shortlist")
        ranked = self.reranker.rerank(query, found[: self.shortlist_k])
        if self.score_threshold is not None:
            ranked = [d for d in ranked if d.metadata["score"] >= self.score_threshold]
        if self.keep_rest:
            for doc in found[self.shortlist_k :]:
                metadata = {k: v for k, v in doc.metadata.items() if k not in ("score", "rank")}
                metadata.update(
                    retrieval_score=doc.metadata.get("score"),
                    retrieval_rank=doc.metadata.get("rank"),
                    rank=len(ranked) + 1,
                )
                ranked.append(Document(doc.page_content, metadata=metadata, id=doc.id))
        return ranked[:limit]


class CrossEncoderReranker(Reranker):
    """A sentence-transformers ``CrossEncoder`` scores each (query, passage) pair.

    ``model`` is a loaded ``CrossEncoder`` (or any object with a compatible ``predict``) or
    the path of a cross-encoder folder on disk, loaded on first use with
    ``local_files_only=True``; localchain ships no cross-encoder, and nothing is downloaded.

    Example:
        >>> class Overlap:  # stands in for a CrossEncoder: predict(pairs) -> scores
        ...     def predict(self, pairs, **kwargs):
        ...         return [len(set(q.split()) & set(p.split())) for q, p in pairs]
        >>> reranker = CrossEncoderReranker(model=Overlap())
        >>> reranker.rerank("red planet", [Document("blue sea"), Document("the red planet")])[0].page_content
        'the red planet'
    """

    model: Any
    """A ``CrossEncoder``-like object, or a path to a cross-encoder folder."""
    batch_size: int = Field(default=16, ge=1)
    _loaded: Any = PrivateAttr(default=None)

    def warm_up(self) -> None:
        """Load the model now if ``model`` is a path."""
        if self._loaded is not None:
            return
        if not isinstance(self.model, (str, Path)):
            self._loaded = self.model
            return
        path = Path(self.model)
        if not path.is_dir():
            raise ModelNotFoundError(str(path))
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as err:
            raise MissingDependencyError(
                "cross-encoder reranking", "sentence-transformers"
            ) from err
        self._loaded = CrossEncoder(str(path), device="cpu", local_files_only=True)

    def score(self, query: str, documents: Sequence[Document]) -> list[float]:
        self.warm_up()
        pairs = [(query, d.page_content) for d in documents]
        scores = self._loaded.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]


def resolve_reranker(spec: Any) -> Reranker:
    """A reranker from a name: ``"llm"`` (embedded GGUF), ``"cohere"``,
    ``"cross-encoder:PATH"``; a :class:`Reranker` is returned as is.

    Example:
        >>> type(resolve_reranker("cross-encoder:/models/ms-marco")).__name__
        'CrossEncoderReranker'
    """
    if isinstance(spec, Reranker):
        return spec
    if spec == "llm":
        from localchain.retrievers.llm_rerank import LLMReranker

        return LLMReranker()
    if spec == "cohere":
        from localchain.retrievers.cohere_api import CohereReranker

        return CohereReranker()
    if isinstance(spec, str) and spec.startswith("cross-encoder:"):
        return CrossEncoderReranker(model=spec.split(":", 1)[1])
    raise ValueError(
        f"unknown reranker {spec!r}: use 'llm', 'cohere', 'cross-encoder:PATH' or a Reranker"
    )
