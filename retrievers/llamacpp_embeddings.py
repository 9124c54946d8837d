"""Embeddings from a GGUF model through llama.cpp (mean-pooled hidden states).

llama-cpp-python computes embeddings with ``Llama(embedding=True)``; this is a thin
LangChain ``Embeddings`` over it with what langchain-community's ``LlamaCppEmbeddings``
lacks here: a lock (a ``Llama`` is not thread-safe), lazy loading, mean pooling chosen
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
from typing import Any

from langchain_core.embeddings import Embeddings
from localchain.retrievers.embeddings import EmbeddingTruncationWarning
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from localchain.errors import EmptyQueryError, ModelLoadError, ModelNotFoundError

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

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

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
        self.warm_up()
        return int(self._llama.n_embd())

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embed does)."""
        with self._lock:
            if self._llama is not None:
                return
            import llama_cpp

            path = self.path
            if not path.is_file():
                raise ModelNotFoundError(str(path))
            threads = self.n_threads or os.cpu_count() or 1
            try:
                self._llama = llama_cpp.Llama(
                    model_path=str(path),
                    embedding=True,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    n_ctx=self.n_ctx,
                    # One batch holds a whole text: llama-cpp-python cuts texts to n_batch.
                    n_batch=self.n_ctx,
                    n_ubatch=self.n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as err:
                raise ModelLoadError(str(path), f"llama.cpp refused it: {err}") from err

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=True))

    def _embed(self, texts: list[str], what: str) -> list[list[float]]:
        self.warm_up()
        cut = sum(1 for t in texts if self.count_tokens(t) > self.n_ctx)
        if cut:
            warnings.warn(
                f"{cut} {what} longer than the {self.n_ctx}-token window were cut to fit",
                EmbeddingTruncationWarning,
                stacklevel=3,
            )
        with self._lock:
            # Texts one by one: llama-cpp-python's batched embed mixes sequences whose total
            # passes n_batch into one decode, which the window size here does not allow.
            return [
                [float(x) for x in self._llama.embed(t, normalize=True, truncate=True)]
                for t in texts
            ]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(list(texts), "texts") if texts else []

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError(str(text), "the query is empty; ask with some words")
        return self._embed([text], "queries")[0]
