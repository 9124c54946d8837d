"""Split loaded Documents into chunks: the book's strategies, with stable ids and exact offsets.

Chunkers (LangChain ``BaseDocumentTransformer``s and pydantic models): :class:`SeparatorChunker`
(``SeparatorChunker(".")`` is the book's split: 15 chunks of ``interstellar.txt``),
:class:`SentenceChunker`, :class:`ParagraphChunker`, :class:`SentenceWindowChunker` (N
sentences, optional overlap) and :class:`TokenChunker` (N tokens with overlap, counted by a
simple rule or by any tokenizer you pass, e.g. the embedding model's).

Every chunk keeps its parent's metadata and adds:

===============  ========================================================================
``chunk_index``  0-based position of the chunk within its parent Document
``start_index``  character offset where the chunk's text starts in the parent's
                 ``page_content`` (LangChain's ``add_start_index`` convention)
``end_index``    offset just past its end: ``parent[start_index:end_index]`` is the chunk's
                 text (without the title, when ``prepend_title`` is on)
``chunk_id``     stable id: hash of ``source`` and the chunk's ``page_content`` (also set as
                 ``Document.id``, which LangChain vector stores use)
===============  ========================================================================

Because an id depends only on the file and the chunk's text, chunking a changed folder again
gives the same ids for unchanged text; :func:`diff_chunks` turns old ids and new chunks into
what to add, keep and delete.

Example:
    >>> from langchain_core.documents import Document
    >>> doc = Document("One. Two. Three.", metadata={"source": "/a.txt", "title": "A"})
    >>> chunks = SeparatorChunker(".").split_documents([doc])
    >>> [(c.page_content, c.metadata["start_index"]) for c in chunks]
    [('One', 0), ('Two', 5), ('Three', 10)]
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import BaseDocumentTransformer, Document
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = [
    "Chunker",
    "SeparatorChunker",
    "SentenceChunker",
    "ParagraphChunker",
    "SentenceWindowChunker",
    "TokenChunker",
    "ChunkDiff",
    "chunk_id",
    "diff_chunks",
    "sentence_spans",
    "simple_tokenize",
    "token_counter",
]

Span = tuple[int, int]

# Words after which a period rarely ends a sentence, even before a capital ("Dr. Who").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf fig no vol pp approx dept est inc ltd co"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SIMPLE_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\S+")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_LAST_WORD = re.compile(r"(\S+)$")


def chunk_id(source: str, content: str, occurrence: int = 0) -> str:
    """Stable id of a chunk: SHA-256 of its source and text (and its repeat number, if any).

    ``occurrence`` tells apart identical text repeated within one source (page headers, "See
    also"), so ids stay unique; the first occurrence hashes exactly ``source`` and ``content``.

    Example:
        >>> chunk_id("/a.txt", "Hello") == chunk_id("/a.txt", "Hello")
        True
        >>> len(chunk_id("/a.txt", "Hello"))
        32
    """
    key = f"{source}\x00{content}" + (f"\x00{occurrence}" if occurrence else "")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def sentence_spans(text: str) -> list[Span]:
    """Character spans of the sentences in ``text`` (a documented rule, not a model).

    A sentence ends at ``.``, ``!`` or ``?`` (plus closing quotes or brackets) followed by
    whitespace, unless the next word starts in lower case or the word before is a known
    abbreviation or a single letter (an initial); a blank line always ends one.

    Example:
        >>> text = "Dr. Who flew. It was 2 a.m. when he landed! Then?"
        >>> [text[a:b] for a, b in sentence_spans(text)]
        ['Dr. Who flew.', 'It was 2 a.m. when he landed!', 'Then?']
    """
    cuts = [0] + [para.start() for para in _PARAGRAPH_BREAK.finditer(text)]
    for end in _SENTENCE_END.finditer(text):
        # Look at bounded neighbourhoods only: slicing the rest of the text per sentence
        # would make long documents quadratic.
        following = _NEXT_CHAR.match(text, end.end())
        if following and following.group(1).islower():
            continue
        before = _LAST_WORD.search(text, max(0, end.start() - 32), end.start())
        word = before.group(1).lstrip("([\"'").lower() if before else ""
        if text[end.start()] == "." and (word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", word)):
            continue
        cuts.append(end.end())
    cuts.append(len(text))
    spans = (_trim(text, a, b) for a, b in zip(sorted(set(cuts)), sorted(set(cuts))[1:]))
    return [s for s in spans if s is not None]


def simple_tokenize(text: str) -> list[str]:
    """The default token rule of :class:`TokenChunker`: runs of word characters, or single
    punctuation marks. English prose gives about 1.2 tokens per word; subword tokenizers give
    somewhat more, so pass the embedding model's tokenizer when its window is tight.

    Example:
        >>> simple_tokenize("It's $677 million.")
        ['It', "'", 's', '$', '677', 'million', '.']
    """
    return _SIMPLE_TOKEN.findall(text)


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """A text -> token count function from a tokenizer object or an encode function.

    Accepts a Hugging Face ``transformers`` tokenizer or ``tokenizers.Tokenizer`` (anything
    with ``.encode``; special tokens, padding and truncation are left out), a function
    returning token ids or tokens, or a function that already returns a count.

    Example:
        >>> token_counter(str.split)("three short words")
        3
    """
    if hasattr(tokenizer, "no_truncation") and hasattr(tokenizer, "to_str"):
        # A tokenizers.Tokenizer may pad or truncate (MiniLM's tokenizer.json pads to 128),
        # which would make every count wrong; count with a copy that does neither.
        tokenizer = type(tokenizer).from_str(tokenizer.to_str())
        tokenizer.no_padding()
        tokenizer.no_truncation()
    encode = getattr(tokenizer, "encode", tokenizer)
    if not callable(encode):
        raise TypeError(f"tokenizer must be callable or have .encode, got {type(tokenizer)}")

    def count(text: str) -> int:
        try:
            out = encode(text, add_special_tokens=False)
        except TypeError:  # encoders without that keyword (tiktoken, plain functions)
            out = encode(text)
        return out if isinstance(out, int) else len(getattr(out, "ids", out))

    return count


class Chunker(BaseModel, BaseDocumentTransformer, ABC):
    """Base of the chunkers: subclasses implement :meth:`spans`, the rest is shared.

    Example:
        >>> chunker = ParagraphChunker(prepend_title=True)
        >>> doc = Document("First.\\n\\nSecond.", metadata={"source": "/n.md", "title": "Notes"})
        >>> [c.page_content for c in chunker.split_documents([doc])]
        ['Notes\\n\\nFirst.', 'Notes\\n\\nSecond.']
    """

    model_config = ConfigDict(frozen=True)

    prepend_title: bool = False
    """Start every chunk with the parent's ``title`` metadata (the book's tip for context)."""
    title_separator: str = "\n\n"
    """Put between the title and the chunk's text when ``prepend_title`` is on."""

    @abstractmethod
    def spans(self, text: str) -> list[Span]:
        """Character spans of the chunks of ``text``, in order, whitespace trimmed."""

    def split_text(self, text: str) -> list[str]:
        """The chunks of one string (no title, no metadata)."""
        return [text[a:b] for a, b in self.spans(text)]

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """Chunk Documents; ids are unique across the call, so pass all of a source at once."""
        seen: dict[tuple[str, str], int] = {}
        chunks = []
        for doc in documents:
            source = str(doc.metadata.get("source", ""))
            title = doc.metadata.get("title")
            for index, (start, end) in enumerate(self.spans(doc.page_content)):
                body = doc.page_content[start:end]
                content = (
                    f"{title}{self.title_separator}{body}" if self.prepend_title and title else body
                )
                occurrence = seen.get((source, content), 0)
                seen[(source, content)] = occurrence + 1
                cid = chunk_id(source, content, occurrence)
                position = {"chunk_index": index, "start_index": start, "end_index": end}
                metadata = {**doc.metadata, **position, "chunk_id": cid}
                chunks.append(Document(page_content=content, metadata=metadata, id=cid))
        return chunks

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """LangChain's document-transformer hook: same as :meth:`split_documents`."""
        return self.split_documents(documents)


class SeparatorChunker(Chunker):
    """Split on a separator string and strip each piece; empty pieces are dropped.

    ``SeparatorChunker(".")`` reproduces the book's ``[t.strip(" \\n") for t in
    text.split(".")]``, without its empty last piece.

    Example:
        >>> SeparatorChunker(".").split_text("A cat. A dog.\\n")
        ['A cat', 'A dog']
    """

    separator: str = Field(default=".", min_length=1)
    """Where to split; it is not kept in the chunks."""
    strip: str = " \n"
    """Characters stripped from both ends of each piece (the book strips spaces and newlines)."""

    def __init__(self, separator: str = ".", /, **kwargs: Any) -> None:
        # Positional separator, so the book's split reads SeparatorChunker(".").
        super().__init__(separator=kwargs.pop("separator", separator), **kwargs)

    def spans(self, text: str) -> list[Span]:
        spans, start = [], 0
        while start <= len(text):
            end = text.find(self.separator, start)
            end = len(text) if end < 0 else end
            piece = _trim(text, start, end, self.strip)
            if piece is not None:
                spans.append(piece)
            start = end + len(self.separator)
        return spans


class SentenceChunker(Chunker):
    """One sentence per chunk, by the rule of :func:`sentence_spans`.

    Example:
        >>> SentenceChunker().split_text("It rained. We stayed in.")
        ['It rained.', 'We stayed in.']
    """

    def spans(self, text: str) -> list[Span]:
        return sentence_spans(text)


class ParagraphChunker(Chunker):
    """One paragraph per chunk: text between blank lines (HTML blocks load that way too).

    Example:
        >>> ParagraphChunker().split_text("One.\\nStill one.\\n\\nTwo.")
        ['One.\\nStill one.', 'Two.']
    """

    def spans(self, text: str) -> list[Span]:
        spans, start = [], 0
        for brk in _PARAGRAPH_BREAK.finditer(text):
            spans.append(_trim(text, start, brk.start()))
            start = brk.end()
        spans.append(_trim(text, start, len(text)))
        return [s for s in spans if s is not None]


class SentenceWindowChunker(Chunker):
    """Windows of ``size`` consecutive sentences; windows share ``overlap`` sentences.

    The window moves by ``size - overlap`` sentences (its stride). The last window may be
    shorter; no window lies entirely inside the one before it.

    Example:
        >>> text = "A one. B two. C three. D four."
        >>> SentenceWindowChunker(size=2, overlap=1).split_text(text)
        ['A one. B two.', 'B two. C three.', 'C three. D four.']
    """

    size: int = Field(default=3, ge=1)
    """Sentences per window (the book suggests 3 to 8)."""
    overlap: int = Field(default=0, ge=0)
    """Sentences each window shares with the previous one."""

    @model_validator(mode="after")
    def _check(self) -> SentenceWindowChunker:
        if self.overlap >= self.size:
            raise ValueError(f"overlap must be smaller than size, got {self.overlap}")
        return self

    def spans(self, text: str) -> list[Span]:
        sentences = sentence_spans(text)
        stride = self.size - self.overlap
        spans = []
        for first in range(0, len(sentences), stride):
            window = sentences[first : first + self.size]
            spans.append((window[0][0], window[-1][1]))
            if first + self.size >= len(sentences):
                break
        return spans


class TokenChunker(Chunker):
    """Windows of at most ``chunk_size`` tokens, each sharing ``chunk_overlap`` with the last.

    By default a token is what :func:`simple_tokenize` finds. Pass ``tokenizer`` to count with
    a real one - a Hugging Face tokenizer, its ``encode``, or any text -> count function (see
    :func:`token_counter`); windows then hold whole words, and a word longer than a window is
    cut between characters.

    Example:
        >>> TokenChunker(chunk_size=4, chunk_overlap=1).split_text("a b c d e f g")
        ['a b c d', 'd e f g']
        >>> TokenChunker(chunk_size=2, chunk_overlap=0, tokenizer=str.split).split_text("a b c d e")
        ['a b', 'c d', 'e']
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    chunk_size: int = Field(default=200, ge=1)
    """Most tokens per chunk; keep it under the embedding model's window (MiniLM: 256)."""
    chunk_overlap: int = Field(default=20, ge=0)
    """Tokens shared by consecutive chunks, so a fact cut by a boundary is whole in one."""
    tokenizer: Any = None
    """``None`` for the simple tokenizer, or a tokenizer / encode / count function."""
    _count: Callable[[str], int] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> TokenChunker:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap must be smaller than chunk_size ({self.chunk_size})")
        if self.tokenizer is not None:
            self._count = token_counter(self.tokenizer)
        return self

    def spans(self, text: str) -> list[Span]:
        if self._count is None:
            pieces = [(m.start(), m.end(), 1) for m in _SIMPLE_TOKEN.finditer(text)]
        else:
            pieces = []
            for m in _WORD.finditer(text):
                pieces.extend(self._measure(text, m.start(), m.end()))
        spans: list[Span] = []
        first = 0
        while first < len(pieces):
            last, total = first, 0
            while last < len(pieces) and total + pieces[last][2] <= self.chunk_size:
                total += pieces[last][2]
                last += 1
            last = max(last, first + 1)
            # Counting words one by one is an estimate for subword tokenizers: check the window.
            while self._count and last > first + 1:
                if self._count(text[pieces[first][0] : pieces[last - 1][1]]) <= self.chunk_size:
                    break
                last -= 1
            spans.append((pieces[first][0], pieces[last - 1][1]))
            if last >= len(pieces):
                break
            back, shared = last, 0
            while back > first + 1 and shared + pieces[back - 1][2] <= self.chunk_overlap:
                shared += pieces[back - 1][2]
                back -= 1
            first = back
        return spans

    def _measure(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """A word as (start, end, tokens) pieces; a word over ``chunk_size`` is cut up."""
        assert self._count is not None
        n = self._count(text[start:end])
        if n <= self.chunk_size:
            return [(start, end, n)]
        pieces = []
        while start < end:
            # Longest prefix that fits, by binary search on its end.
            lo, hi = start + 1, end
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._count(text[start:mid]) <= self.chunk_size:
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append((start, lo, self._count(text[start:lo])))
            start = lo
        return pieces


class ChunkDiff(BaseModel):
    """What re-indexing must do: embed ``added``, drop ``removed``, keep ``unchanged``.

    A changed chunk shows up as one id removed and one chunk added. ``unchanged`` chunks have
    the same text and source as before but may have moved (``start_index``, ``page``), so an
    index that stores positions should refresh their metadata - no re-embedding needed.

    Example:
        >>> split = SeparatorChunker(".").split_documents
        >>> old = split([Document("Cats purr. Dogs bark.", metadata={"source": "s"})])
        >>> new = split([Document("Cats purr. Owls hoot.", metadata={"source": "s"})])
        >>> diff = diff_chunks([chunk.id for chunk in old], new)
        >>> [c.page_content for c in diff.added], [c.page_content for c in diff.unchanged]
        (['Owls hoot'], ['Cats purr'])
        >>> diff.removed == [old[1].id]
        True
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    added: list[Document] = Field(default_factory=list)
    """New chunks whose id the index does not have, in their chunking order."""
    removed: list[str] = Field(default_factory=list)
    """Ids in the index that no new chunk has, sorted."""
    unchanged: list[Document] = Field(default_factory=list)
    """New chunks whose id the index already has."""


def diff_chunks(old_ids: Iterable[str], new_chunks: Iterable[Document]) -> ChunkDiff:
    """Compare the ids an index holds with a fresh chunking of the same sources.

    Pass the old ids of the same scope you re-chunked (e.g. the whole folder, or only the ids
    whose ``source`` is the file you reloaded); anything else would show up as removed.

    Example:
        >>> split = SeparatorChunker(".").split_documents
        >>> old = split([Document("A. B.", metadata={"source": "s"})])
        >>> new = split([Document("A. C.", metadata={"source": "s"})])
        >>> diff = diff_chunks([c.id for c in old], new)
        >>> [c.page_content for c in diff.added], len(diff.removed), len(diff.unchanged)
        (['C'], 1, 1)
    """
    old = set(old_ids)
    diff = ChunkDiff()
    seen: set[str] = set()
    for chunk in new_chunks:
        cid = chunk.id or chunk.metadata.get("chunk_id")
        if not cid:
            raise ValueError(
                "every chunk needs an id (Document.id or metadata['chunk_id']); "
                "make chunks with a localchain chunker"
            )
        if cid in seen:
            continue
        seen.add(cid)
        (diff.unchanged if cid in old else diff.added).append(chunk)
    diff.removed = sorted(old - seen)
    return diff


def _trim(text: str, start: int, end: int, chars: str | None = None) -> Span | None:
    """Shrink a span past the ``chars`` (default: whitespace) at both ends; None if empty."""
    piece = text[start:end]
    stripped = piece.lstrip(chars)
    start += len(piece) - len(stripped)
    stripped = stripped.rstrip(chars)
    return (start, start + len(stripped)) if stripped else None
