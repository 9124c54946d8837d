"""Cohere embeddings and Cohere Rerank: optional network backends (``pip install 'localchain[cohere]'``).

Both talk to Cohere's v2 API through the ``cohere`` SDK (``cohere.ClientV2``), created on
first use from ``api_key`` or ``COHERE_API_KEY``. Any object with the same ``embed`` /
``rerank`` methods can be passed as ``client`` (tests pass recorded responses this way).

* :class:`CohereEmbeddings` embeds documents with ``input_type="search_document"`` and
  queries with ``input_type="search_query"`` (the book's usage), 96 texts per request.
  Cohere truncates inputs over its 512-token window itself (``truncate="END"``, set
  explicitly); the response does not say whether it did.
* :class:`CohereReranker` scores a shortlist with ``rerank-v3.5`` (the book's Rerank step).

Failures are typed: no package -> :class:`~localchain.errors.MissingDependencyError`; no key
-> :class:`~localchain.errors.ConfigError`; network failure or timeout ->
:class:`~localchain.errors.BackendConnectionError`; an HTTP error or a response of the wrong
shape -> :class:`~localchain.errors.BackendResponseError`. Nothing retries silently.

Example:
    >>> class Recorded:  # stands in for cohere.ClientV2
    ...     def rerank(self, **request):
    ...         return {"results": [{"index": 1, "relevance_score": 0.9},
    ...                             {"index": 0, "relevance_score": 0.1}]}
    >>> from langchain_core.documents import Document
    >>> reranker = CohereReranker(client=Recorded())
    >>> [d.page_content for d in reranker.rerank("q", [Document("a"), Document("b")])]
    ['b', 'a']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from localchain.errors import (
    BackendConnectionError,
    BackendResponseError,
    ConfigError,
    EmptyQueryError,
    MissingDependencyError,
)
from localchain.retrievers.rerank import Reranker

__all__ = ["COHERE_DIMENSIONS", "CohereEmbeddings", "CohereReranker"]

COHERE_URL = "https://api.cohere.com"
COHERE_DIMENSIONS = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
"""Vector sizes of Cohere's embedding models (so a store knows them without a request)."""
_BATCH = 96  # Cohere's limit of texts per embed request


class _CohereClient(BaseModel):
    """The shared part: client creation and error mapping."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    api_key: str | None = Field(default=None, repr=False)
    """Cohere API key; ``None`` reads ``COHERE_API_KEY``."""
    client: Any = None
    """A ``cohere.ClientV2`` or a compatible object; ``None`` creates one on first use."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for one request."""

    _client: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _api(self) -> Any:
        if self.client is not None:
            return self.client
        with self._lock:
            if self._client is None:
                try:
                    import cohere
                except ImportError:
                    raise MissingDependencyError(
                        f"{type(self).__name__}", "cohere", "cohere"
                    ) from None
                key = self.api_key or os.environ.get("COHERE_API_KEY")
                if not key:
                    raise ConfigError(
                        f"{type(self).__name__} needs an API key: pass api_key= or set "
                        "COHERE_API_KEY"
                    )
                self._client = cohere.ClientV2(api_key=key, timeout=self.timeout)
            return self._client

    def _call(self, method: str, **request: Any) -> dict[str, Any]:
        service = f"Cohere {method}"
        try:
            response = getattr(self._api(), method)(**request)
        except (MissingDependencyError, ConfigError):
            raise
        except Exception as err:
            status = getattr(err, "status_code", None)
            if isinstance(status, int):
                body = getattr(err, "body", None)
                raise BackendResponseError(service, _explain(status, body), status=status) from err
            raise BackendConnectionError(
                COHERE_URL, f"{type(err).__name__}: {err}", timeout=self.timeout
            ) from err
        return _as_dict(response)


class CohereEmbeddings(_CohereClient, Embeddings):
    """Cohere embeddings as LangChain ``Embeddings`` (document and query input types).

    Example:
        >>> class Recorded:
        ...     def embed(self, **request):
        ...         return {"embeddings": {"float": [[0.6, 0.8]] * len(request["texts"])}}
        >>> emb = CohereEmbeddings(client=Recorded(), model="embed-english-v3.0")
        >>> emb.embed_query("hello")
        [0.6, 0.8]
    """

    model: str = "embed-english-v3.0"
    """Cohere embedding model name (also the name a store records)."""
    truncate: Literal["NONE", "START", "END"] = "END"
    """What Cohere does with inputs over its window (``NONE``: refuse them)."""

    @property
    def model_name(self) -> str:
        return f"cohere/{self.model}"

    @property
    def dimension(self) -> int:
        """Vector size: known for Cohere's models, else measured with one request."""
        known = COHERE_DIMENSIONS.get(self.model)
        return known if known is not None else len(self.embed_query("dimension probe"))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            vectors.extend(self._embed(texts[start : start + _BATCH], "search_document"))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError(str(text), "the query is empty; ask with some words")
        return self._embed([text], "search_query")[0]

    def _embed(self, texts: Sequence[str], input_type: str) -> list[list[float]]:
        if not texts:
            return []
        response = self._call(
            "embed",
            texts=list(texts),
            model=self.model,
            input_type=input_type,
            embedding_types=["float"],
            truncate=self.truncate,
        )
        embeddings = response.get("embeddings")
        # v2 answers {"embeddings": {"float": [...]}}; v1 answered a bare list.
        if isinstance(embeddings, dict):
            embeddings = embeddings.get("float", embeddings.get("float_"))
        if not isinstance(embeddings, list) or len(embeddings) != len(texts):
            raise BackendResponseError(
                "Cohere embed", f"expected {len(texts)} float embeddings, got {_shape(embeddings)}"
            )
        try:
            return [[float(x) for x in vector] for vector in embeddings]
        except (TypeError, ValueError) as err:
            raise BackendResponseError("Cohere embed", f"non-numeric embedding ({err})") from err


class CohereReranker(_CohereClient, Reranker):
    """Cohere Rerank over a shortlist; scores are Cohere's relevance scores in [0, 1].

    Example:
        >>> CohereReranker(model="rerank-v3.5").model
        'rerank-v3.5'
    """

    model: str = "rerank-v3.5"
    """Cohere rerank model name."""
    max_tokens_per_doc: int | None = None
    """Cohere cuts each document to this many tokens (its default: 4096)."""

    def score(self, query: str, documents: Sequence[Document]) -> list[float]:
        if not documents:
            return []
        request: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": [d.page_content for d in documents],
            "top_n": len(documents),
        }
        if self.max_tokens_per_doc is not None:
            request["max_tokens_per_doc"] = self.max_tokens_per_doc
        results = self._call("rerank", **request).get("results")
        if not isinstance(results, list):
            raise BackendResponseError("Cohere rerank", f"no results list ({_shape(results)})")
        scores: list[float | None] = [None] * len(documents)
        for item in results:
            item = _as_dict(item)
            index, score = item.get("index"), item.get("relevance_score")
            if not isinstance(index, int) or not 0 <= index < len(documents):
                raise BackendResponseError("Cohere rerank", f"result index {index!r} out of range")
            if not isinstance(score, (int, float)):
                raise BackendResponseError("Cohere rerank", f"relevance_score {score!r}")
            scores[index] = float(score)
        if any(s is None for s in scores):
            missing = [i for i, s in enumerate(scores) if s is None]
            raise BackendResponseError("Cohere rerank", f"no score for documents {missing}")
        return [float(s) for s in scores]  # type: ignore[arg-type]


def _as_dict(response: Any) -> dict[str, Any]:
    """SDK responses are pydantic models; recorded ones are dicts. Treat both as JSON."""
    if isinstance(response, dict):
        return response
    dump = getattr(response, "model_dump", None) or getattr(response, "dict", None)
    if callable(dump):
        try:
            return dump(by_alias=True)
        except TypeError:
            return dump()
    raise BackendResponseError("Cohere", f"unexpected response type {type(response).__name__}")


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__


def _explain(status: int, body: Any) -> str:
    message = body.get("message") if isinstance(body, dict) else body
    hints = {
        401: "the API key was refused; check COHERE_API_KEY",
        403: "the API key may not use this model",
        429: "rate limited; wait and retry, or use a production key",
    }
    hint = hints.get(status, "Cohere answered with an error")
    return f"{hint}" + (f" ({message})" if message else "")
