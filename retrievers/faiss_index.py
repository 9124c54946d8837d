"""FAISS index structures for :class:`~.faiss_store.FaissStore`: settings, construction, search
parameters, and metadata filters.

Kinds: ``flat`` (exact search), ``hnsw`` (a graph: approximate, fast on large corpora),
``ivf`` (inverted lists, k-means-trained on the first batch added), and ``auto`` (flat below
``large_corpus`` vectors, HNSW from there). Every kind is wrapped in ``IndexIDMap2`` so
vectors keep the integer id the store gave them.

Example:
    >>> import numpy as np
    >>> kind, index = build_index(FaissSettings(kind="auto"), 4, np.eye(4, dtype="float32"))
    >>> kind, index.ntotal
    ('flat', 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaissSettings", "MetadataFilter", "build_index", "matches_filter", "search_parameters"]

MetadataFilter = Mapping[str, Any] | Callable[[dict[str, Any]], bool]
"""``{"key": value}`` (equal), ``{"key": [v1, v2]}`` (any of), several keys (all must
hold), or a function of the metadata returning True to keep a document."""


class FaissSettings(BaseModel):
    """How the FAISS index is built and searched.

    Example:
        >>> FaissSettings(kind="hnsw", hnsw_m=16).metric
        'cosine'
    """

    model_config = ConfigDict(frozen=True)

    metric: Literal["cosine", "l2"] = "cosine"
    """``cosine`` (inner product of normalized vectors) or ``l2`` (Euclidean distance)."""
    kind: Literal["flat", "hnsw", "ivf", "auto"] = "flat"
    """Index structure; ``auto`` is flat below ``large_corpus`` vectors, HNSW above."""
    large_corpus: int = Field(default=50_000, ge=1)
    """Where ``auto`` switches to HNSW (flat search of 50k x 384 floats takes ~10 ms)."""
    hnsw_m: int = Field(default=32, ge=4)
    """HNSW: neighbours per node (memory and recall grow with it)."""
    ef_construction: int = Field(default=80, ge=8)
    """HNSW: search breadth while building."""
    ef_search: int = Field(default=64, ge=1)
    """HNSW: search breadth per query (recall against speed)."""
    ivf_nlist: int | None = Field(default=None, ge=1)
    """IVF: number of lists; ``None`` picks 4 * sqrt(n) of the first batch."""
    nprobe: int = Field(default=8, ge=1)
    """IVF: lists visited per query."""


def matches_filter(metadata: Mapping[str, Any], flt: MetadataFilter | None) -> bool:
    """Whether a document's metadata passes a filter (see :data:`MetadataFilter`).

    Example:
        >>> matches_filter({"source": "/a.md", "page": 2}, {"page": [1, 2]})
        True
    """
    if flt is None:
        return True
    if callable(flt):
        return bool(flt(dict(metadata)))
    for key, wanted in flt.items():
        value = metadata.get(key)
        if isinstance(wanted, (list, tuple, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def build_index(
    settings: FaissSettings, dimension: int, first_batch: np.ndarray
) -> tuple[str, Any]:
    """An empty ``IndexIDMap2`` of the configured kind, and the kind (``auto`` resolved).

    IVF is trained on ``first_batch`` here; the other kinds need no training.
    """
    s = settings
    kind = s.kind
    if kind == "auto":
        kind = "hnsw" if len(first_batch) >= s.large_corpus else "flat"
    metric = faiss.METRIC_INNER_PRODUCT if s.metric == "cosine" else faiss.METRIC_L2
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, s.hnsw_m, metric)
        inner.hnsw.efConstruction = s.ef_construction
        inner.hnsw.efSearch = s.ef_search
    elif kind == "ivf":
        n = len(first_batch)
        nlist = s.ivf_nlist or max(1, int(4 * math.sqrt(n)))
        nlist = max(1, min(nlist, n))  # k-means needs at least one vector per list
        quantizer = (
            faiss.IndexFlatIP(dimension) if s.metric == "cosine" else faiss.IndexFlatL2(dimension)
        )
        inner = faiss.IndexIVFFlat(quantizer, dimension, nlist, metric)
        inner.train(first_batch)
        inner.nprobe = s.nprobe
        # IndexIDMap2 reads vectors back by position (compact(), to_langchain()).
        inner.set_direct_map_type(faiss.DirectMap.Array)
    elif s.metric == "cosine":
        inner = faiss.IndexFlatIP(dimension)
    else:
        inner = faiss.IndexFlatL2(dimension)
    # faiss's Python constructors keep references to the wrapped index and quantizer.
    return kind, faiss.IndexIDMap2(inner)


def search_parameters(kind: str | None, settings: FaissSettings, selector: Any) -> Any:
    """Per-search parameters: the id selector, and the kind's search breadth."""
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=selector, efSearch=settings.ef_search)
    if kind == "ivf":
        return faiss.SearchParametersIVF(sel=selector, nprobe=settings.nprobe)
    return faiss.SearchParameters(sel=selector) if selector is not None else None
