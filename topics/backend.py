"""LangChain ``Embeddings`` as BERTopic's embedding backend (imports BERTopic: load lazily).

BERTopic embeds through its own backend classes; this one hands the texts to any LangChain
``Embeddings`` (localchain's MiniLM by default) and returns one float32 matrix, so new
documents (``transform``) and KeyBERTInspired's keywords are embedded by the model the
index was built with.

Example:
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> EmbeddingsBackend(default_embeddings()).embed(["wing", "flutter"]).shape
    (2, 384)
"""

from __future__ import annotations

import numpy as np
from bertopic.backend import BaseEmbedder
from langchain_core.embeddings import Embeddings

__all__ = ["EmbeddingsBackend"]


class EmbeddingsBackend(BaseEmbedder):
    """BERTopic's ``BaseEmbedder`` over LangChain ``Embeddings``.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> EmbeddingsBackend(DeterministicFakeEmbedding(size=8)).embed(["a"]).shape
        (1, 8)
    """

    def __init__(self, embeddings: Embeddings) -> None:
        super().__init__(embedding_model=embeddings)
        self.embeddings = embeddings

    def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
        """One row per text."""
        from localchain.retrievers.embeddings import embed_matrix

        del verbose  # localchain shows its own progress
        return embed_matrix(self.embeddings, [str(d) for d in documents])
