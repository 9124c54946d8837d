"""LangChain ``Embeddings`` as the embeddings Ragas 0.4's collection metrics take.

Answer relevancy embeds the question and the questions the judge writes back from the
answer; Ragas wants a ``BaseRagasEmbedding`` for that. :class:`RagasEmbeddings` adapts any
LangChain ``Embeddings``; by default localchain's offline all-MiniLM-L6-v2.

Example:
    >>> emb = RagasEmbeddings()
    >>> len(emb.embed_text("What is the capital of France?"))
    384
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.embeddings import Embeddings
from ragas.embeddings.base import BaseRagasEmbedding

from localchain.errors import ConfigError

__all__ = ["RagasEmbeddings", "as_ragas_embeddings"]


class RagasEmbeddings(BaseRagasEmbedding):
    """A Ragas ``BaseRagasEmbedding`` over a LangChain ``Embeddings`` (default: MiniLM).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> vectors = RagasEmbeddings(DeterministicFakeEmbedding(size=8)).embed_texts(["a", "b"])
        >>> len(vectors), len(vectors[0])
        (2, 8)
    """

    def __init__(self, embeddings: Embeddings | None = None) -> None:
        super().__init__(cache=None)
        if embeddings is None:
            from localchain.retrievers.embeddings import default_embeddings

            embeddings = default_embeddings()
        if not isinstance(embeddings, Embeddings):
            raise ConfigError(
                f"embeddings must be LangChain Embeddings, not {type(embeddings).__name__}"
            )
        self.embeddings = embeddings

    @property
    def model_name(self) -> str:
        """The embedding model's name, for run metadata."""
        name = getattr(self.embeddings, "model_name", None) or getattr(
            self.embeddings, "model", None
        )
        return name if isinstance(name, str) else type(self.embeddings).__name__

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return list(self.embeddings.embed_query(text))

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        # Sentence-transformers is synchronous; a thread keeps the event loop free.
        return await asyncio.to_thread(self.embed_text, text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        # One batch instead of Ragas' default one call per text.
        return [list(v) for v in self.embeddings.embed_documents(list(texts))]

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_texts, texts)


def as_ragas_embeddings(embeddings: Embeddings | BaseRagasEmbedding | None) -> BaseRagasEmbedding:
    """Ragas embeddings from LangChain embeddings, Ragas embeddings, or None (MiniLM).

    Example:
        >>> isinstance(as_ragas_embeddings(None), BaseRagasEmbedding)
        True
    """
    if isinstance(embeddings, BaseRagasEmbedding):
        return embeddings
    return RagasEmbeddings(embeddings)
