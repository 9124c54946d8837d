"""How Documents map to Qdrant points: point ids, payloads, hits and payload filters.

A chunk is one point: its id is a UUID 5 of the chunk id (Qdrant takes only UUIDs and
integers), its payload ``page_content``, ``metadata``, ``chunk_id`` and ``terms``
(langchain-qdrant's keys, plus ours). Filters are the dicts FaissStore takes, matched on
``metadata.KEY`` in the engine.

Example:
    >>> point_id("a.txt#0") == point_id("a.txt#0") != point_id("a.txt#1")
    True
    >>> document({"page_content": "Cats purr.", "metadata": {"page": 1}, "chunk_id": "c"}).id
    'c'
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

__all__ = ["document", "hits", "point_id", "qdrant_filter"]

_NAMESPACE = uuid.UUID("3f0e1c52-6b1a-5d57-9d43-6c6f63616c63")


def point_id(chunk_id: str) -> str:
    """The Qdrant point id of a chunk id: a UUID 5, the same in every process.

    Example:
        >>> point_id("a.txt#0") == point_id("a.txt#0") != point_id("a.txt#1")
        True
    """
    return str(uuid.uuid5(_NAMESPACE, chunk_id))


def qdrant_filter(flt: Any) -> Any:
    """A :data:`~.faiss_index.MetadataFilter` dict as a Qdrant payload ``Filter``.

    ``{"key": value}`` matches ``metadata.key`` exactly, ``{"key": [v1, v2]}`` any of them,
    several keys all of them. A ``qdrant_client.models.Filter`` passes through; a function
    cannot run in the engine (``TypeError``). Returns ``False`` for a filter nothing passes.

    Example:
        >>> qdrant_filter({"page": 2}).must[0].key
        'metadata.page'
    """
    from qdrant_client import models

    if flt is None or isinstance(flt, models.Filter):
        return flt
    if callable(flt) or not isinstance(flt, Mapping):
        raise TypeError(
            "a Qdrant store filters in the engine: give a dict such as {'source': 'a.md'} "
            "or {'page': [1, 2]}, or a qdrant_client.models.Filter, not a function"
        )
    must = []
    for key, wanted in flt.items():
        field = f"metadata.{key}"
        options = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        if not options:
            return False
        conditions = [_condition(models, field, value) for value in options]
        must.append(conditions[0] if len(conditions) == 1 else models.Filter(should=conditions))
    return models.Filter(must=must)


def _condition(models: Any, field: str, value: Any) -> Any:
    if isinstance(value, float) and not value.is_integer():
        return models.FieldCondition(key=field, range=models.Range(gte=value, lte=value))
    if isinstance(value, float):
        value = int(value)
    if value is None:
        return models.IsNullCondition(is_null=models.PayloadField(key=field))
    return models.FieldCondition(key=field, match=models.MatchValue(value=value))


def document(payload: Mapping[str, Any]) -> Document:
    """The Document a point's payload holds (its ``Document.id`` is our chunk id)."""
    return Document(
        payload.get("page_content", ""),
        metadata=dict(payload.get("metadata") or {}),
        id=payload.get("chunk_id"),
    )


def hits(points: Sequence[Any]) -> list[tuple[Document, float]]:
    """Scored points as ``(Document, score)``, best first, with ``score`` and ``rank`` (from
    1) in each Document's metadata, as localchain's retrievers give hits."""
    hits = []
    for rank, point in enumerate(points, start=1):
        doc = document(point.payload)
        doc.metadata.update(score=float(point.score), rank=rank)
        hits.append((doc, float(point.score)))
    return hits
