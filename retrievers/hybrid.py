"""Hybrid search: reciprocal rank fusion (RRF) of several retrievers, usually dense + BM25.

Each retriever is asked for its ``fetch_k`` best hits; a document's fused score is

    sum over retrievers i of  weight_i / (rank_constant + rank_i)

counting only the lists it appears in (Cormack, Clarke & Buettcher 2009; rank_constant 60
as there). Only ranks matter, so BM25 scores and cosines need no common scale. A retriever
with a relevance threshold (BM25's ``require_match``, a dense ``score_threshold``) leaves its
list short or empty, and fusion returns nothing when every list is empty.

Each hit's metadata gets ``score`` (the fused score), ``rank``, and ``fusion``: for every
retriever that returned it, ``{"rank": ..., "score": ...}`` under the retriever's name.

On the book's query "how precise was the science" over the 15 Interstellar chunks, plain
RRF of BM25 and dense puts the Kip Thorne sentence first: it is second in both lists, while
the astronomers sentence (dense's first) is missing from BM25's and the "2014 epic science
fiction film" sentence (BM25's first) is far down dense's.

Example:
    >>> from localchain.retrievers.bm25 import BM25Retriever
    >>> texts = ["Dogs bark at night.", "Cats purr.", "A dog's bark is loud."]
    >>> bm25 = BM25Retriever.from_texts(texts)
    >>> fused = HybridRetriever(retrievers={"bm25": bm25, "again": bm25}, k=2)
    >>> [d.metadata["fusion"]["bm25"]["rank"] for d in fused.invoke("dogs bark")]
    [1, 2]
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, model_validator

from localchain.errors import EmptyQueryError

__all__ = ["HybridRetriever", "invoke_with_k", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Mapping[str, list[Document]],
    *,
    weights: Mapping[str, float] | None = None,
    rank_constant: float = 60.0,
) -> list[Document]:
    """Fuse ranked lists of Documents (best first) into one; documents match by ``id``.

    Ties are broken by the order of ``rankings`` and then by rank, so results are stable.

    Example:
        >>> a = [Document("x", id="x"), Document("y", id="y")]
        >>> b = [Document("y", id="y"), Document("z", id="z")]
        >>> [d.id for d in reciprocal_rank_fusion({"a": a, "b": b})]
        ['y', 'x', 'z']
    """
    fused: dict[str, float] = {}
    first: dict[str, tuple[int, int, Document]] = {}
    details: dict[str, dict[str, dict[str, Any]]] = {}
    for order, (name, docs) in enumerate(rankings.items()):
        weight = 1.0 if weights is None else float(weights.get(name, 1.0))
        for rank, doc in enumerate(docs, 1):
            key = doc.id or doc.page_content
            if key in details and name in details[key]:
                continue  # a list naming a document twice counts it at its best rank
            fused[key] = fused.get(key, 0.0) + weight / (rank_constant + rank)
            first.setdefault(key, (order, rank, doc))
            detail = {"rank": rank}
            if "score" in doc.metadata:
                detail["score"] = doc.metadata["score"]
            details.setdefault(key, {})[name] = detail
    ordered = sorted(fused, key=lambda key: (-fused[key], first[key][0], first[key][1]))
    results = []
    for rank, key in enumerate(ordered, 1):
        doc = first[key][2]
        metadata = {k: v for k, v in doc.metadata.items() if k not in ("score", "rank")}
        metadata.pop("distance", None)
        metadata.update(score=fused[key], rank=rank, fusion=details[key])
        results.append(Document(doc.page_content, metadata=metadata, id=doc.id))
    return results


def invoke_with_k(
    retriever: BaseRetriever,
    query: str,
    k: int,
    run_manager: CallbackManagerForRetrieverRun | None = None,
    tag: str | None = None,
) -> list[Document]:
    """``retriever.invoke(query)`` asking for ``k`` hits when the retriever takes a ``k``.

    localchain retrievers accept ``k`` per call; LangChain's own retrievers mostly do not,
    and then return what they are configured to.
    """
    takes_k = "k" in inspect.signature(retriever._get_relevant_documents).parameters
    config = {"callbacks": run_manager.get_child(tag)} if run_manager else None
    if takes_k:
        return retriever.invoke(query, config, k=k)
    return retriever.invoke(query, config)


class HybridRetriever(BaseRetriever):
    """Reciprocal rank fusion of named retrievers (e.g. ``{"dense": ..., "bm25": ...}``).

    Example:
        >>> from localchain.retrievers.bm25 import BM25Retriever
        >>> bm25 = BM25Retriever.from_texts(["Cats purr.", "Dogs bark."])
        >>> hybrid = HybridRetriever(retrievers={"bm25": bm25}, weights={"bm25": 2.0}, k=1)
        >>> round(hybrid.invoke("dogs")[0].metadata["score"], 4)  # 2 / (60 + 1)
        0.0328
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retrievers: dict[str, BaseRetriever]
    """The retrievers to fuse, by name (the names key ``metadata["fusion"]``)."""
    weights: dict[str, float] | None = None
    """Weight per retriever name (missing names weigh 1.0); ``None`` weighs all equally."""
    rank_constant: float = Field(default=60.0, gt=0)
    """RRF's k: larger values flatten the difference between top and lower ranks."""
    fetch_k: int = Field(default=20, ge=1)
    """Hits asked from each retriever before fusing."""
    k: int = Field(default=4, ge=1)
    """Fused hits returned."""

    @model_validator(mode="after")
    def _check(self) -> HybridRetriever:
        if not self.retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        unknown = set(self.weights or ()) - set(self.retrievers)
        if unknown:
            raise ValueError(f"weights name unknown retrievers: {sorted(unknown)}")
        if any(w < 0 for w in (self.weights or {}).values()):
            raise ValueError("weights must not be negative")
        return self

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError(str(query), "the query is empty; ask with some words")
        limit = k or self.k
        rankings: dict[str, list[Document]] = {}
        for name, retriever in self.retrievers.items():
            try:
                rankings[name] = invoke_with_k(
                    retriever, query, max(self.fetch_k, limit), run_manager, name
                )
            except EmptyQueryError:
                # BM25 has no terms for a query of stop words only ("how was it"); the
                # other retrievers can still answer it.
                if len(self.retrievers) == 1:
                    raise
                rankings[name] = []
        fused = reciprocal_rank_fusion(
            rankings, weights=self.weights, rank_constant=self.rank_constant
        )
        return fused[:limit]
