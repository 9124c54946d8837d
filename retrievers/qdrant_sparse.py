"""BM25 as Qdrant sparse vectors: localchain's tokenizer on the client, IDF in the engine.

Okapi BM25 scores a document ``d`` for a query ``q`` as

    sum over terms t of q:  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

The document's side of each product (everything but the IDF) is what a point's ``bm25``
sparse vector holds, one entry per distinct term; the query's vector holds each term's count.
The collection's sparse vectors have ``modifier=IDF``, so Qdrant multiplies in
``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` from its own live counts: adding and
deleting points keeps the IDF right without rewriting the other points.

That IDF is Lucene's, always positive; rank_bm25's Okapi (:class:`~.bm25.BM25Retriever`)
uses ``ln((N - n_t + 0.5) / (n_t + 0.5))`` floored at a share of the mean IDF. Rankings agree
on the book's Interstellar query (both put the "2014 epic science fiction film" sentence
first); scores differ.

Terms become sparse indices through a 32-bit BLAKE2b hash (Qdrant's indices are ``uint32``):
no vocabulary to store or share between processes. Two terms colliding (about one pair in a
100,000-term vocabulary) score as one term.

``avgdl``, the corpus' mean length in terms, is the one statistic written into the vectors:
:class:`BM25Encoding` keeps the value the vectors were written with, and the store rewrites
every sparse vector (no embedding) when the live mean drifts more than
:data:`AVGDL_TOLERANCE` from it, or when the tokenizer or ``k1`` / ``b`` change.

Example:
    >>> encoding = BM25Encoding(avgdl=4.0)
    >>> terms = encoding.terms("Dogs bark. Dogs run.")
    >>> terms
    ['dog', 'bark', 'dog', 'run']
    >>> vector = encoding.document_vector(terms)
    >>> sorted(round(v, 3) for v in vector.values)
    [1.0, 1.0, 1.375]
    >>> encoding.query_vector(["dog"]).values
    [1.0]
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AVGDL_TOLERANCE", "BM25Encoding", "default_tokenizer", "term_index", "tokenizer_name"]

AVGDL_TOLERANCE = 0.1
"""Relative drift of the corpus' mean length past which every sparse vector is rewritten."""


def default_tokenizer() -> Callable[[str], list[str]]:
    """The tokenizer :class:`~.bm25.BM25Retriever` uses by default (so the two agree on
    terms, and a new default there reaches Qdrant indexes too)."""
    from localchain.retrievers.bm25 import BM25Retriever
    from localchain.text import resolve_tokenizer

    return resolve_tokenizer(BM25Retriever.model_fields["tokenizer"].default)


def tokenizer_name(tokenizer: Callable[[str], list[str]]) -> str:
    """What a collection records about its tokenizer: its qualified name.

    Example:
        >>> tokenizer_name(default_tokenizer())
        'localchain.text.english_tokenize'
    """
    module = getattr(tokenizer, "__module__", None) or type(tokenizer).__module__
    name = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__qualname__
    return f"{module}.{name}"


def term_index(term: str) -> int:
    """A term's sparse index: the first 4 bytes of its BLAKE2b hash, as an unsigned int.

    Example:
        >>> term_index("science") == term_index("science") and 0 <= term_index("x") < 2**32
        True
    """
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big")


class BM25Encoding(BaseModel):
    """How texts become BM25 sparse vectors; stored in the collection's metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tokenizer: str = Field(default_factory=lambda: tokenizer_name(default_tokenizer()))
    """:func:`tokenizer_name` of the tokenizer the vectors were written with."""
    k1: float = Field(default_factory=lambda: _bm25_default("k1"))
    b: float = Field(default_factory=lambda: _bm25_default("b"))
    avgdl: float = Field(default=1.0, gt=0)
    """Mean document length (terms) the vectors were written with."""
    total_terms: int = 0
    """Terms in all indexed documents (with the point count, the live mean length)."""

    def terms(self, text: str, tokenizer: Callable[[str], list[str]] | None = None) -> list[str]:
        return list((tokenizer or default_tokenizer())(text))

    def document_vector(self, terms: list[str]) -> Any:
        """The document side of BM25 for a document of ``terms`` (empty for none)."""
        from qdrant_client import models

        counts = Counter(term_index(t) for t in terms)
        norm = self.k1 * (1.0 - self.b + self.b * len(terms) / self.avgdl)
        indices = sorted(counts)
        values = [counts[i] * (self.k1 + 1.0) / (counts[i] + norm) for i in indices]
        return models.SparseVector(indices=indices, values=values)

    def query_vector(self, terms: list[str] | Mapping[str, float]) -> Any:
        """A query's sparse vector: each term's count (rank_bm25 sums a repeated term too), or
        the given term weights (an expanded query)."""
        from qdrant_client import models

        weights = Counter(terms) if isinstance(terms, list) else terms
        values: dict[int, float] = {}
        for term, weight in weights.items():
            index = term_index(term)
            values[index] = values.get(index, 0.0) + float(weight)
        indices = sorted(values)
        return models.SparseVector(indices=indices, values=[values[i] for i in indices])

    def stale(self, points: int, tokenizer: str, k1: float, b: float) -> bool:
        """Whether the stored vectors must be rewritten for the live corpus and settings."""
        if (tokenizer, k1, b) != (self.tokenizer, self.k1, self.b):
            return True
        if points == 0:
            return False
        live = max(self.total_terms / points, 1.0)
        return abs(live - self.avgdl) > AVGDL_TOLERANCE * self.avgdl


def _bm25_default(name: str) -> float:
    from localchain.retrievers.bm25 import BM25Retriever

    return float(BM25Retriever.model_fields[name].default)
