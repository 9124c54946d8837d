"""Keyword search: a LangChain BM25 retriever, tuned on Cranfield, with the book's setup by name.

Defaults (chosen on the first half of Cranfield's queries, docs/benchmarks.md section 7):

* :func:`~localchain.text.english_tokenize`: lowercase ``\\w+`` words, English stop words
  dropped, Snowball stems;
* Lucene's IDF, ``log(1 + (N - n + 0.5) / (n + 0.5))``, which is never negative;
* ``k1=1.2``, ``b=0.75``;
* pseudo-relevance feedback (RM3): the query is expanded with the 30 terms most typical of
  its 5 best hits, the original terms keeping 0.4 of the weight, and searched again.

:data:`BOOK_BM25` holds the book's setup (its tokenizer, rank_bm25's Okapi IDF with the
epsilon floor, ``k1=1.5``, no feedback); with it, the book's Interstellar example scores
exactly as printed: ``BM25Retriever.from_documents(chunks, **BOOK_BM25)``.

Each returned Document is a copy of the indexed one with ``metadata["score"]`` (the BM25
score, a float) and ``metadata["rank"]`` (1 for the best hit) added.

Example:
    >>> from langchain_core.documents import Document
    >>> retriever = BM25Retriever.from_texts(
    ...     ["Cats purr.", "Dogs bark loudly.", "Birds sing."], k=2
    ... )
    >>> [(d.page_content, d.metadata["rank"]) for d in retriever.invoke("why do dogs bark")]
    [('Dogs bark loudly.', 1)]
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, PrivateAttr, field_validator

from localchain.errors import EmptyCorpusError, EmptyQueryError, IndexFormatError
from localchain.files import read_versioned_json, write_atomic
from localchain.retrievers.chunking import chunk_id
from localchain.text import (
    ENGLISH_STOP_WORDS,
    book_tokenize,
    english_tokenize,
    resolve_tokenizer,
    tokenizer_name,
)

# The tokenizers live in the core (localchain.text) so the chains can use them without
# importing retrieval; they stay importable from here, where they were first published.
__all__ = [
    "BOOK_BM25",
    "ENGLISH_STOP_WORDS",
    "BM25Retriever",
    "book_tokenize",
    "english_tokenize",
    "rm3_weights",
    "term_shares",
]

_FORMAT = "localchain.bm25"
_VERSION = 1

BOOK_BM25: dict[str, Any] = {
    "tokenizer": "book",
    "idf": "okapi",
    "k1": 1.5,
    "b": 0.75,
    "epsilon": 0.25,
    "feedback_docs": 0,
}
"""The book's BM25: its tokenizer and rank_bm25's ``BM25Okapi`` defaults, no query feedback.
Pass it as keyword arguments (``BM25Retriever(docs, **BOOK_BM25)``)."""

# Settings saved with an index, and what an index saved before they existed was built with.
_SETTINGS = (
    "k",
    "min_score",
    "require_match",
    "k1",
    "b",
    "epsilon",
    "idf",
    "feedback_docs",
    "feedback_terms",
    "feedback_query_weight",
)
_LEGACY = {"idf": "okapi", "feedback_docs": 0}


class BM25Retriever(BaseRetriever):
    """BM25 keyword retriever; scores and ranks are put in the results' metadata.

    Documents without an ``id`` get a stable one (:func:`.chunking.chunk_id`);
    adding a Document whose id is already indexed replaces it. The index is rebuilt on every
    :meth:`add_documents` / :meth:`delete` call (IDF depends on the whole corpus), so add in
    batches.

    With ``idf="okapi"`` (the book's), the IDF of a term found in over half the documents is
    floored at ``epsilon`` times the mean IDF, as in rank_bm25's ``BM25Okapi``; that floor is
    negative in a tiny corpus where most terms are common, so scores there can be below 0
    although the document matches. ``require_match`` decides membership by the terms
    themselves, not by the sign of the score.

    With feedback on (``feedback_docs > 0``) the score is that of the expanded query, whose
    term weights sum to 1, so scores are smaller than plain BM25's; ranks are what matter.

    Example:
        >>> texts = ["Interstellar premiered in 2014.", "Tenet came out in 2020.", "Dunkirk."]
        >>> retriever = BM25Retriever.from_texts(texts, k=3, **BOOK_BM25)
        >>> hit = retriever.invoke("when did interstellar premiere")[0]
        >>> round(hit.metadata["score"], 3), hit.metadata["rank"]
        (0.453, 1)
        >>> len(retriever.invoke("2014 or 2020", k=1))
        1
        >>> stems = BM25Retriever.from_texts(["The flows were turbulent.", "Still water."])
        >>> stems.invoke("turbulent flow")[0].page_content
        'The flows were turbulent.'
    """

    k: int = Field(default=4, ge=1)
    """How many documents a query returns at most (``invoke(query, k=...)`` overrides it)."""
    min_score: float | None = None
    """Leave out documents scoring below this; ``None`` keeps all (up to ``k``)."""
    require_match: bool = True
    """Return only documents sharing at least one query term. BM25 gives the others 0 (the
    book prints them anyway); leaving them out lets a query with no keyword match return
    nothing, and keeps zero-score noise out of hybrid fusion."""
    k1: float = Field(default=1.2, ge=0)
    """Term-frequency saturation."""
    b: float = Field(default=0.75, ge=0, le=1)
    """Document-length normalisation."""
    idf: Literal["lucene", "okapi"] = "lucene"
    """``lucene``: ``log(1 + (N - n + 0.5) / (n + 0.5))``; ``okapi``: rank_bm25's
    ``log((N - n + 0.5) / (n + 0.5))`` with the ``epsilon`` floor (the book's)."""
    epsilon: float = Field(default=0.25, ge=0)
    """``okapi`` only: floor for the IDF of terms in over half the documents, as a share of
    the mean IDF."""
    tokenizer: str | Callable[[str], list[str]] = "english"
    """Text -> terms, for documents and queries alike: ``"english"``, ``"book"`` or a
    function."""
    feedback_docs: int = Field(default=5, ge=0)
    """Pseudo-relevance feedback (RM3): expand the query from this many best first-pass hits;
    ``0`` turns feedback off."""
    feedback_terms: int = Field(default=30, ge=1)
    """Expansion terms taken from the feedback documents' relevance model."""
    feedback_query_weight: float = Field(default=0.4, ge=0, le=1)
    """Share of the expanded query's weight kept by the original terms."""

    @field_validator("tokenizer")
    @classmethod
    def _known_tokenizer(
        cls, value: str | Callable[[str], list[str]]
    ) -> str | Callable[[str], list[str]]:
        resolve_tokenizer(value)  # an unknown name fails here, with the known ones
        return value

    # Searches read one immutable snapshot; writers build a new one under the lock and swap
    # it in with a single assignment, so batch() threads never see half an update.
    _state: _Snapshot = PrivateAttr(default_factory=lambda: _Snapshot())
    _write_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self, documents: Iterable[Document] = (), *, allow_empty: bool = False, **kwargs: Any
    ) -> None:
        """Index ``documents``; ``allow_empty=True`` starts with none, to add them later."""
        super().__init__(**kwargs)
        docs = list(documents)
        if not docs and not allow_empty:
            raise EmptyCorpusError(
                "BM25Retriever needs at least one document to index "
                "(pass allow_empty=True to add documents later)"
            )
        self.add_documents(docs)

    @classmethod
    def from_documents(cls, documents: Iterable[Document], **kwargs: Any) -> BM25Retriever:
        """Index ``documents`` (usually chunks); keyword arguments set the fields."""
        return cls(documents, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        metadatas: Iterable[dict[str, Any]] | None = None,
        ids: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> BM25Retriever:
        """Index plain strings, with optional metadata and ids per text."""
        texts = list(texts)
        metas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        id_list = list(ids) if ids is not None else [None] * len(texts)
        if not len(texts) == len(metas) == len(id_list):
            raise ValueError("texts, metadatas and ids must have the same length")
        docs = [Document(t, metadata=dict(m), id=i) for t, m, i in zip(texts, metas, id_list)]
        return cls(docs, **kwargs)

    def _tokenize(self, text: str) -> list[str]:
        return list(resolve_tokenizer(self.tokenizer)(text))

    @property
    def documents(self) -> list[Document]:
        """The indexed Documents (copies), in index order."""
        return [d.model_copy(deep=True) for d in self._state.docs]

    def __len__(self) -> int:
        return len(self._state.docs)

    def add_documents(self, documents: Iterable[Document]) -> list[str]:
        """Index more documents (replacing any with the same id); returns their ids."""
        with self._write_lock:
            docs, tokens = list(self._state.docs), list(self._state.tokens)
            position = {d.id: i for i, d in enumerate(docs)}
            occurrences: dict[tuple[str, str], int] = {}
            ids = []
            for doc in documents:
                doc_id = doc.id
                if not doc_id:
                    key = (str(doc.metadata.get("source", "")), doc.page_content)
                    occurrences[key] = occurrences.get(key, -1) + 1
                    doc_id = chunk_id(*key, occurrence=occurrences[key])
                # A private copy: callers may keep mutating their Documents.
                stored = Document(doc.page_content, metadata=dict(doc.metadata), id=doc_id)
                terms = list(self._tokenize(doc.page_content))
                if doc_id in position:
                    docs[position[doc_id]], tokens[position[doc_id]] = stored, terms
                else:
                    position[doc_id] = len(docs)
                    docs.append(stored)
                    tokens.append(terms)
                ids.append(doc_id)
            self._state = self._build(docs, tokens)
        return ids

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many were removed."""
        drop = set(ids)
        with self._write_lock:
            state = self._state
            keep = [i for i, d in enumerate(state.docs) if d.id not in drop]
            if len(keep) < len(state.docs):
                docs = [state.docs[i] for i in keep]
                self._state = self._build(docs, [state.tokens[i] for i in keep])
        return len(state.docs) - len(keep)

    def scores(self, query: str) -> list[float]:
        """Score of every indexed document for ``query`` (expanded when feedback is on), in
        :attr:`documents` order."""
        state = self._ready()
        return [float(x) for x in self._score(state, self._query_terms(query))]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        limit = self.k if k is None else k
        if limit < 1:
            raise ValueError(f"k must be at least 1, got {limit}")
        state = self._ready()
        terms = self._query_terms(query)
        scores = self._score(state, terms)
        if self.require_match:
            # Only documents holding one of the query's own terms count as matches (an
            # expansion term alone does not make a document match).
            found = [state.postings[t][0] for t in set(terms) if t in state.postings]
            candidates = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
        else:
            candidates = np.arange(len(state.docs))
        picked = scores[candidates]
        if self.min_score is not None:
            keep = picked >= self.min_score
            candidates, picked = candidates[keep], picked[keep]
        order = np.lexsort((candidates, -picked))[:limit]  # ties keep index order
        results = []
        for rank, j in enumerate(order, 1):
            doc = state.docs[int(candidates[j])]
            metadata = {**doc.metadata, "score": float(picked[j]), "rank": rank}
            results.append(Document(doc.page_content, metadata=metadata, id=doc.id))
        return results

    def _score(self, state: _Snapshot, terms: list[str]) -> np.ndarray:
        weights = Counter(terms)
        scores = state.weighted_scores(weights)
        if self.feedback_docs and len(state.docs) > 1:
            expanded = self._expand(state, weights, scores)
            if expanded:
                scores = state.weighted_scores(expanded)
        return scores

    def _expand(
        self, state: _Snapshot, weights: Mapping[str, float], scores: np.ndarray
    ) -> dict[str, float]:
        """RM3 from the ``feedback_docs`` best first-pass hits (see :func:`rm3_weights`)."""
        matched = np.flatnonzero(scores > 0)
        if not len(matched):
            return {}
        top = matched[np.lexsort((matched, -scores[matched]))[: self.feedback_docs]]
        feedback = [(float(scores[i]), state.shares(int(i))) for i in top]
        return rm3_weights(
            weights,
            feedback,
            terms=self.feedback_terms,
            query_weight=self.feedback_query_weight,
        )

    def save(self, path: str | Path) -> Path:
        """Write the index as JSON (documents and settings; no pickle). Returns the path.

        The corpus statistics are recomputed on :meth:`load`, so the file holds only text,
        metadata (which must be JSON-serializable) and parameters, plus a checksum.
        """
        target = Path(path)
        body = {
            "params": {name: getattr(self, name) for name in _SETTINGS},
            "tokenizer": tokenizer_name(resolve_tokenizer(self.tokenizer)) or "custom",
            "documents": [
                {"id": d.id, "page_content": d.page_content, "metadata": d.metadata}
                for d in self._state.docs
            ],
        }
        try:
            canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"cannot save the BM25 index: metadata is not JSON ({err})") from err
        payload = {
            "format": _FORMAT,
            "version": _VERSION,
            "sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            **body,
        }
        # Write then rename, so a crash never leaves half an index behind.
        write_atomic(target, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        return target

    @classmethod
    def load(
        cls, path: str | Path, *, tokenizer: Callable[[str], list[str]] | None = None
    ) -> BM25Retriever:
        """Read an index written by :meth:`save`.

        Raises:
            IndexFormatError: the file is not a localchain BM25 index, has another format
                version, fails its checksum, or was built with a custom tokenizer and none
                is passed.
        """
        source = Path(path)
        payload = read_versioned_json(source, format=_FORMAT, version=_VERSION)
        body = {key: payload.get(key) for key in ("params", "tokenizer", "documents")}
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != payload.get("sha256"):
            raise IndexFormatError(str(source), "checksum mismatch (the file was changed)")
        if body["tokenizer"] == "custom" and tokenizer is None:
            raise IndexFormatError(
                str(source), "it was built with a custom tokenizer; pass the same tokenizer="
            )
        try:
            docs = [
                Document(d["page_content"], metadata=d["metadata"], id=d["id"])
                for d in body["documents"]
            ]
            # Settings added since the format's first files default to what those were built
            # with, so an old index searches as it always did.
            options = {**_LEGACY, **body["params"]}
        except (KeyError, TypeError, ValueError) as err:
            raise IndexFormatError(str(source), f"malformed contents ({err})") from err
        if tokenizer is not None:
            options["tokenizer"] = tokenizer
        elif body["tokenizer"] in ("book", "english"):
            options["tokenizer"] = body["tokenizer"]
        else:
            raise IndexFormatError(str(source), f"unknown tokenizer {body['tokenizer']!r}")
        return cls(docs, allow_empty=True, **options)

    def _query_terms(self, query: str) -> list[str]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError(str(query), "the query is empty; ask with some words")
        terms = list(self._tokenize(query))
        if not terms:
            raise EmptyQueryError(
                query,
                "no search terms are left after dropping stop words and punctuation; "
                "include a content word, or use dense retrieval for such queries",
            )
        return terms

    def _ready(self) -> _Snapshot:
        state = self._state
        if not state.built:
            if not state.docs:
                raise EmptyCorpusError(
                    "the BM25 index has no documents; add_documents() before searching"
                )
            raise EmptyCorpusError(
                f"none of the {len(state.docs)} indexed documents has a searchable word "
                "(all stop words or punctuation)"
            )
        return state

    def _build(self, docs: list[Document], tokens: list[list[str]]) -> _Snapshot:
        # BM25 divides by the mean document length: an index of nothing but stop words stays
        # unbuilt (and says so on search).
        if not any(tokens):
            return _Snapshot(tuple(docs), tuple(tokens))
        rows: dict[str, list[int]] = {}
        counts: dict[str, list[int]] = {}
        for i, terms in enumerate(tokens):
            for term, count in Counter(terms).items():
                rows.setdefault(term, []).append(i)
                counts.setdefault(term, []).append(count)
        size = len(tokens)
        lengths = np.array([len(t) for t in tokens], dtype=np.float64)
        # The same expression as rank_bm25's BM25Okapi, so the book's scores come out exactly.
        norm = self.k1 * (1 - self.b + self.b * lengths / (lengths.sum() / size))
        idf = _idf({t: len(r) for t, r in rows.items()}, size, self.idf, self.epsilon)
        # Each posting's term score is fixed once the corpus is: computed here, a query only
        # adds them up.
        postings = {}
        for term, where in rows.items():
            found = np.array(where, dtype=np.int64)
            tf = np.array(counts[term], dtype=np.float64)
            postings[term] = (found, idf[term] * (tf * (self.k1 + 1) / (tf + norm[found])))
        return _Snapshot(tuple(docs), tuple(tokens), postings)


def term_shares(tokens: list[str]) -> dict[str, float]:
    """Term -> its count / the document's length: a document's term distribution for RM3."""
    return {t: n / len(tokens) for t, n in Counter(tokens).items()} if tokens else {}


def rm3_weights(
    query: Mapping[str, float],
    feedback: list[tuple[float, Mapping[str, float]]],
    *,
    terms: int = 30,
    query_weight: float = 0.4,
) -> dict[str, float]:
    """RM3 query expansion: the query's term weights mixed with its best hits' relevance model.

    ``feedback`` is ``(score, term shares)`` of each feedback document, best first (see
    :func:`term_shares`). A document weighs ``exp(score - best score)``, normalised; a term's
    weight in the relevance model is the sum over documents of document weight x share. The
    ``terms`` heaviest (ties by the term) share ``1 - query_weight``; the query's own terms,
    weighted by their counts, share ``query_weight``. Both engines (:class:`BM25Retriever`
    and the Qdrant retrievers) expand through this function.

    Example:
        >>> weights = rm3_weights({"jet": 1}, [(2.0, {"jet": 0.5, "noise": 0.5})], terms=1)
        >>> {t: round(w, 2) for t, w in weights.items()}
        {'jet': 1.0}
    """
    if not feedback:
        return {}
    scores = np.array([score for score, _ in feedback])
    doc_weights = np.exp(scores - scores[0])
    doc_weights /= doc_weights.sum()
    model: dict[str, float] = {}
    for weight, (_, shares) in zip(doc_weights.tolist(), feedback):
        for term, share in shares.items():
            model[term] = model.get(term, 0.0) + weight * share
    if not model:
        return {}
    # The `terms` largest, ties broken by the term: sort only those that can make it.
    cut = heapq.nlargest(terms, model.values())[-1]
    chosen = sorted(
        ((t, v) for t, v in model.items() if v >= cut), key=lambda item: (-item[1], item[0])
    )[:terms]
    model_total = sum(v for _, v in chosen)
    query_total = sum(query.values())
    expanded: dict[str, float] = {t: query_weight * n / query_total for t, n in query.items()}
    for term, value in chosen:
        expanded[term] = expanded.get(term, 0.0) + (1 - query_weight) * value / model_total
    return expanded


def _idf(frequencies: Mapping[str, int], size: int, kind: str, epsilon: float) -> dict[str, float]:
    if kind == "lucene":
        return {t: math.log(1 + (size - n + 0.5) / (n + 0.5)) for t, n in frequencies.items()}
    idf = {t: math.log(size - n + 0.5) - math.log(n + 0.5) for t, n in frequencies.items()}
    floor = epsilon * sum(idf.values()) / len(idf)
    return {t: (value if value >= 0 else floor) for t, value in idf.items()}


@dataclass(frozen=True)
class _Snapshot:
    """Everything one search reads, replaced as a whole by every update."""

    docs: tuple[Document, ...] = ()
    tokens: tuple[list[str], ...] = ()
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """term -> (indexes of the documents holding it, its BM25 term score in each)"""

    _shares: dict[int, dict[str, float]] = field(default_factory=dict, compare=False)

    @property
    def built(self) -> bool:
        return bool(self.postings)

    def shares(self, i: int) -> dict[str, float]:
        """Term -> count / length in document ``i`` (cached: feedback asks for the same best
        hits again and again)."""
        found = self._shares.get(i)
        if found is None:
            # A dict write: safe under the GIL for concurrent readers.
            found = self._shares[i] = term_shares(self.tokens[i])
        return found

    def weighted_scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """Sum over terms of weight x BM25 term score, for every document."""
        scores = np.zeros(len(self.docs))
        for term, weight in weights.items():
            posting = self.postings.get(term)
            if posting is not None:
                scores[posting[0]] += weight * posting[1]
        return scores
