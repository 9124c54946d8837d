"""Embeddings from a GGUF model through llama.cpp (mean-pooled hidden states).

llama-cpp-python computes embeddings with ``Llama(embedding=True)``; this is a thin
LangChain ``Embeddings`` over a shared :class:`~localchain.models.engine.LlamaCppEngine`
loaded in embedding mode, with what langchain-community's ``LlamaCppEmbeddings`` lacks here:
the engine's lock (a ``Llama`` is not thread-safe), lazy loading, mean pooling chosen
explicitly (a chat model's GGUF declares none), normalized vectors, and a warning when a
text is longer than the window and gets cut.

Use it with a GGUF made for embeddings (nomic-embed, bge, e5 in GGUF form). It also runs on
the embedded chat model, SmolLM2-135M-Instruct, but a chat model's pooled states are poor
embeddings. Measured on the book's 15 Interstellar chunks: every cosine falls between about
0.75 and 0.9, so "What is the mass of the moon?" (best 0.785) cannot be told from "how
precise was the science" (best 0.875) by any threshold, and its top 3 for the latter
(astronomers, Double Negative effects, the US release) misses the Kip Thorne sentence. The
bundled all-MiniLM-L6-v2 is the default for that reason.

Example:
    >>> emb = LlamaCppEmbeddings()                 # the embedded GGUF; pass model_path=...
    >>> len(emb.embed_query("hello")) == emb.dimension
    True
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from localchain.errors import EmptyQueryError, ModelNotFoundError
from localchain.models.engine import LlamaCppEngine, get_engine
from localchain.retrievers.embeddings import EmbeddingTruncationWarning

__all__ = ["LlamaCppEmbeddings"]


class LlamaCppEmbeddings(BaseModel, Embeddings):
    """A GGUF model's mean-pooled, normalized hidden states as LangChain ``Embeddings``.

    Example:
        >>> emb = LlamaCppEmbeddings(n_ctx=256)
        >>> emb.model_name
        'llamacpp/SmolLM2-135M-Instruct.Q4_1'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str | None = None
    """GGUF file; ``None`` is the embedded SmolLM2-135M-Instruct (a poor embedder)."""
    n_ctx: int = Field(default=512, ge=16)
    """Window in tokens; longer texts are cut to it."""
    n_threads: int | None = Field(default=None, ge=1)
    """CPU threads (``None``: all cores)."""

    _engine: LlamaCppEngine | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        if self.model_path:
            return Path(self.model_path)
        from localchain.models.embedded import embedded_model_path

        return embedded_model_path()

    @property
    def model_name(self) -> str:
        return f"llamacpp/{self.path.name.removesuffix('.gguf')}"

    @property
    def dimension(self) -> int:
        return self.engine.n_embd

    @property
    def engine(self) -> LlamaCppEngine:
        """The shared engine in embedding mode (loaded on first use)."""
        self.warm_up()
        assert self._engine is not None
        return self._engine

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embed does)."""
        with self._load_lock:
            if self._engine is not None:
                return
            path = self.path
            if not path.is_file():
                raise ModelNotFoundError(str(path))
            self._engine = get_engine(
                path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads or os.cpu_count() or 1,
                n_batch=self.n_ctx,
                embedding=True,
            )

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text, add_bos=True))

    def _embed(self, texts: list[str], what: str) -> list[list[float]]:
        cut = sum(1 for t in texts if self.count_tokens(t) > self.n_ctx)
        if cut:
            warnings.warn(
                f"{cut} {what} longer than the {self.n_ctx}-token window were cut to fit",
                EmbeddingTruncationWarning,
                stacklevel=3,
            )
        return self.engine.embed(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(list(texts), "texts") if texts else []

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError(str(text), "the query is empty; ask with some words")
        return self._embed([text], "queries")[0]
