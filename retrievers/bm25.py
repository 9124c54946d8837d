"""Keyword search: a LangChain retriever over rank_bm25's BM25Okapi, with the book's tokenizer.

The default tokenizer is the book's: lowercase, split on whitespace, strip punctuation from
both ends of each word, drop English stop words (:data:`ENGLISH_STOP_WORDS`, the 318-word
list scikit-learn ships). With it, the book's Interstellar example scores exactly as printed.

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
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, PrivateAttr
from rank_bm25 import BM25Okapi

from localchain.errors import EmptyCorpusError, EmptyQueryError, IndexFormatError
from localchain.files import read_versioned_json, write_atomic
from localchain.retrievers.chunking import chunk_id
from localchain.text import ENGLISH_STOP_WORDS, book_tokenize

# The tokenizer lives in the core (localchain.text) so the chains can use it without
# importing retrieval; it stays importable from here, where it was first published.
__all__ = ["ENGLISH_STOP_WORDS", "BM25Retriever", "book_tokenize"]

_FORMAT = "localchain.bm25"
_VERSION = 1


class BM25Retriever(BaseRetriever):
    """BM25 (Okapi) keyword retriever; scores and ranks are put in the results' metadata.

    Documents without an ``id`` get a stable one (:func:`.chunking.chunk_id`);
    adding a Document whose id is already indexed replaces it. The index is rebuilt on every
    :meth:`add_documents` / :meth:`delete` call (IDF depends on the whole corpus), so add in
    batches.

    rank_bm25's Okapi floors the IDF of a term found in over half the documents at
    ``epsilon`` times the mean IDF, which is negative in a tiny corpus where most terms are
    common: scores there can be below 0 although the document matches. ``require_match``
    decides membership by the terms themselves, not by the sign of the score.

    Example:
        >>> texts = ["Interstellar premiered in 2014.", "Tenet came out in 2020.", "Dunkirk."]
        >>> retriever = BM25Retriever.from_texts(texts, k=3)
        >>> hit = retriever.invoke("when did interstellar premiere")[0]
        >>> round(hit.metadata["score"], 3), hit.metadata["rank"]
        (0.453, 1)
        >>> len(retriever.invoke("2014 or 2020", k=1))
        1
    """

    k: int = Field(default=4, ge=1)
    """How many documents a query returns at most (``invoke(query, k=...)`` overrides it)."""
    min_score: float | None = None
    """Leave out documents scoring below this; ``None`` keeps all (up to ``k``)."""
    require_match: bool = True
    """Return only documents sharing at least one query term. BM25 gives the others 0 (the
    book prints them anyway); leaving them out lets a query with no keyword match return
    nothing, and keeps zero-score noise out of hybrid fusion."""
    k1: float = Field(default=1.5, ge=0)
    """Term-frequency saturation (rank_bm25's default)."""
    b: float = Field(default=0.75, ge=0, le=1)
    """Document-length normalisation (rank_bm25's default)."""
    epsilon: float = Field(default=0.25, ge=0)
    """Floor for the IDF of terms in over half the documents, as a share of the mean IDF."""
    tokenizer: Callable[[str], list[str]] = book_tokenize
    """Text -> terms, for documents and queries alike."""

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
                terms = list(self.tokenizer(doc.page_content))
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
        """BM25 score of every indexed document for ``query``, in :attr:`documents` order."""
        state = self._ready()
        return [float(s) for s in state.index.get_scores(self._query_terms(query))]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        limit = self.k if k is None else k
        if limit < 1:
            raise ValueError(f"k must be at least 1, got {limit}")
        state = self._ready()
        terms = self._query_terms(query)
        if self.require_match:
            # Only documents holding a query term can score above 0: score just those.
            candidates = sorted({i for t in set(terms) for i in state.postings.get(t, ())})
            scored = zip(candidates, state.index.get_batch_scores(terms, candidates))
        else:
            scored = enumerate(state.index.get_scores(terms).tolist())
        hits = [(i, float(s)) for i, s in scored if self.min_score is None or s >= self.min_score]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))  # ties keep index order: deterministic
        results = []
        for rank, (i, score) in enumerate(hits[:limit], 1):
            doc = state.docs[i]
            metadata = {**doc.metadata, "score": score, "rank": rank}
            results.append(Document(doc.page_content, metadata=metadata, id=doc.id))
        return results

    def save(self, path: str | Path) -> Path:
        """Write the index as JSON (documents and settings; no pickle). Returns the path.

        The corpus statistics are recomputed on :meth:`load`, so the file holds only text,
        metadata (which must be JSON-serializable) and parameters, plus a checksum.
        """
        target = Path(path)
        body = {
            "params": {
                "k": self.k,
                "min_score": self.min_score,
                "require_match": self.require_match,
                "k1": self.k1,
                "b": self.b,
                "epsilon": self.epsilon,
            },
            "tokenizer": "book" if self.tokenizer is book_tokenize else "custom",
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
            options = dict(body["params"])
        except (KeyError, TypeError, ValueError) as err:
            raise IndexFormatError(str(source), f"malformed contents ({err})") from err
        if tokenizer is not None:
            options["tokenizer"] = tokenizer
        return cls(docs, allow_empty=True, **options)

    def _query_terms(self, query: str) -> list[str]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError(str(query), "the query is empty; ask with some words")
        terms = list(self.tokenizer(query))
        if not terms:
            raise EmptyQueryError(
                query,
                "no search terms are left after dropping stop words and punctuation; "
                "include a content word, or use dense retrieval for such queries",
            )
        return terms

    def _ready(self) -> _Snapshot:
        state = self._state
        if state.index is None:
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
        # rank_bm25 divides by the mean document length and the vocabulary size: both must be
        # non-zero, so an index of nothing but stop words stays unbuilt (and says so on search).
        if not any(tokens):
            return _Snapshot(tuple(docs), tuple(tokens))
        postings: dict[str, list[int]] = {}
        for i, terms in enumerate(tokens):
            for term in set(terms):
                postings.setdefault(term, []).append(i)
        index = BM25Okapi(tokens, k1=self.k1, b=self.b, epsilon=self.epsilon)
        return _Snapshot(tuple(docs), tuple(tokens), index, postings)


@dataclass(frozen=True)
class _Snapshot:
    """Everything one search reads, replaced as a whole by every update."""

    docs: tuple[Document, ...] = ()
    tokens: tuple[list[str], ...] = ()
    index: BM25Okapi | None = None
    postings: dict[str, list[int]] = field(default_factory=dict)
