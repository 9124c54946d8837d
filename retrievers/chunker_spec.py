"""A chunker as data: its kind and settings, so a store can chunk the same way on every update.

A store must re-chunk changed files exactly as it chunked them the first time, or every
chunk id would change. :class:`ChunkerSpec` records the chunker's class and settings in the
store's manifest and builds it again. ``TokenChunker`` can count with the embedding model's
own tokenizer (``tokenizer="embedding"``); another tokenizer object cannot be recorded.

Example:
    >>> from localchain.retrievers.chunking import SentenceWindowChunker
    >>> spec = ChunkerSpec.of(SentenceWindowChunker(size=2, overlap=1))
    >>> spec.kind, spec.settings["size"]
    ('window', 2)
    >>> spec.build().split_text("A one. B two. C three.")
    ['A one. B two.', 'B two. C three.']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from localchain.retrievers.chunking import (
    Chunker,
    ParagraphChunker,
    SentenceChunker,
    SentenceWindowChunker,
    SeparatorChunker,
    TokenChunker,
)

__all__ = ["CHUNKERS", "ChunkerKind", "ChunkerSpec"]

ChunkerKind = Literal["separator", "sentence", "paragraph", "window", "tokens"]
CHUNKERS: dict[str, type[Chunker]] = {
    "separator": SeparatorChunker,
    "sentence": SentenceChunker,
    "paragraph": ParagraphChunker,
    "window": SentenceWindowChunker,
    "tokens": TokenChunker,
}


class ChunkerSpec(BaseModel):
    """The kind and settings of a chunker, JSON-ready.

    Example:
        >>> from localchain.retrievers import SeparatorChunker
        >>> spec = ChunkerSpec.of(SeparatorChunker("."))
        >>> ChunkerSpec.model_validate_json(spec.model_dump_json()).build().split_text("A. B.")
        ['A', 'B']
    """

    kind: ChunkerKind
    settings: dict[str, Any] = {}
    """The chunker's fields; for ``tokens``, ``tokenizer`` is ``None`` or ``"embedding"``."""

    @classmethod
    def of(cls, chunker: Chunker, *, embedding_tokenizer: bool = False) -> ChunkerSpec:
        """Describe ``chunker``; pass ``embedding_tokenizer=True`` if a TokenChunker counts
        with the embedding model's tokenizer."""
        kind = next((k for k, c in CHUNKERS.items() if type(chunker) is c), None)
        if kind is None:
            raise ValueError(
                f"a store can record only the built-in chunkers {sorted(CHUNKERS)}, "
                f"not {type(chunker).__name__}"
            )
        settings = chunker.model_dump(exclude={"tokenizer"})
        if isinstance(chunker, TokenChunker):
            if chunker.tokenizer is not None and not embedding_tokenizer:
                raise ValueError(
                    "a store cannot record a custom tokenizer; use TokenChunker() or "
                    "ChunkerSpec(kind='tokens', settings={'tokenizer': 'embedding', ...})"
                )
            settings["tokenizer"] = "embedding" if embedding_tokenizer else None
        return cls(kind=kind, settings=settings)

    def build(self, embeddings: Any = None) -> Chunker:
        """The chunker again; ``embeddings`` supply the tokenizer for ``tokenizer="embedding"``."""
        settings = dict(self.settings)
        if self.kind == "tokens" and settings.get("tokenizer") == "embedding":
            model = getattr(embeddings, "model", None)
            tokenizer = getattr(model, "tokenizer", None)
            if tokenizer is None:
                raise ValueError("tokenizer='embedding' needs sentence-transformers embeddings")
            settings["tokenizer"] = tokenizer
        return CHUNKERS[self.kind](**settings)
