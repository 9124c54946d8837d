"""Text helpers shared by retrieval and the chains: the BM25 tokenizers.

Two tokenizers, both lowercasing and dropping English stop words (:data:`ENGLISH_STOP_WORDS`,
the 318-word list scikit-learn ships):

* :func:`book_tokenize` is the tokenizer of the book's keyword-search chapter: split on
  whitespace, strip punctuation from both ends of each word. The book's printed BM25 scores
  come from it; citation checks and query rewriting compare words with it.
* :func:`english_tokenize`, BM25's default: words are runs of letters, digits and ``_``
  (so "co-written" is two words), each reduced to its Snowball English stem (PyStemmer), so
  "flows", "flowing" and "flow" match. On Cranfield it lifts BM25's nDCG@10 from 0.348 to
  0.373 alone (docs/benchmarks.md section 7).

:func:`resolve_tokenizer` maps the names ``"book"`` and ``"english"`` to them.

Example:
    >>> book_tokenize("It grossed $677 million (co-written)!")
    ['grossed', '677', 'million', 'co-written']
    >>> english_tokenize("It grossed $677 million (co-written)!")
    ['gross', '677', 'million', 'written']
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Callable

__all__ = [
    "ENGLISH_STOP_WORDS",
    "TOKENIZERS",
    "book_tokenize",
    "english_tokenize",
    "resolve_tokenizer",
    "tokenizer_name",
]

# The Glasgow stop word list as scikit-learn ships it (sklearn.feature_extraction.text), kept
# here so the default install does not import scikit-learn; a test pins the two together.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg
    eight either eleven else elsewhere empty enough etc even ever every everyone everything
    everywhere except few fifteen fifty fill find fire first five for former formerly forty
    found four from front full further get give go had has hasnt have he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in
    inc indeed interest into is it its itself keep last latter latterly least less ltd made many
    may me meanwhile might mill mine more moreover most mostly move much must my myself name
    namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere
    of off often on once one only onto or other others otherwise our ours ourselves out over own
    part per perhaps please put rather re same see seem seemed seeming seems serious several she
    should show side since sincere six sixty so some somehow someone something sometime
    sometimes somewhere still such system take ten than that the their them themselves then
    thence there thereafter thereby therefore therein thereupon these they thick thin third this
    those though three through throughout thru thus to together too top toward towards twelve
    twenty two un under until up upon us very via was we well were what whatever when whence
    whenever where whereafter whereas whereby wherein whereupon wherever whether which while
    whither who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
    """.split()
)
"""The stop words :func:`book_tokenize` drops (scikit-learn's English list)."""


def book_tokenize(text: str) -> list[str]:
    """The book's BM25 tokenizer: lowercase, whitespace split, strip punctuation, no stop words.

    Punctuation is stripped only at the ends of a word, so "co-written" and "$677" keep
    their inner characters ("co-written", "677").

    Example:
        >>> book_tokenize("How precise was the science?")
        ['precise', 'science']
    """
    tokens = []
    for word in text.lower().split():
        word = word.strip(string.punctuation)
        if word and word not in ENGLISH_STOP_WORDS:
            tokens.append(word)
    return tokens


_WORD = re.compile(r"\w+")
_stemmers = threading.local()  # a PyStemmer stemmer must not be used by two threads at once


def _stemmer():  # noqa: ANN202 - PyStemmer has no type information
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer  # PyStemmer's C Snowball stemmers, imported on first use

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer


def english_tokenize(text: str) -> list[str]:
    """BM25's default tokenizer: lowercase words, no stop words, Snowball English stems.

    A word is a run of letters, digits or ``_`` (``\\w+``): punctuation inside a word splits
    it ("boundary-layer" -> "boundary", "layer"; "2.5" -> "2", "5"), identifiers such as
    ``__init__`` stay whole. Stop words are dropped before stemming.

    Example:
        >>> english_tokenize("How do the flows behave in boundary-layers?")
        ['flow', 'behav', 'boundari', 'layer']
    """
    words = [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
    return _stemmer().stemWords(words)


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "book": book_tokenize,
    "english": english_tokenize,
}
"""The tokenizers known by name; a BM25 index records the name and reloads with it."""


def resolve_tokenizer(tokenizer: str | Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A tokenizer function from a name in :data:`TOKENIZERS` or a callable (returned as is).

    Example:
        >>> resolve_tokenizer("book") is book_tokenize
        True
        >>> resolve_tokenizer("porter")
        Traceback (most recent call last):
        ...
        ValueError: unknown tokenizer 'porter'; known: book, english (or pass a function)
    """
    if callable(tokenizer):
        return tokenizer
    if isinstance(tokenizer, str) and tokenizer in TOKENIZERS:
        return TOKENIZERS[tokenizer]
    known = ", ".join(sorted(TOKENIZERS))
    raise ValueError(f"unknown tokenizer {tokenizer!r}; known: {known} (or pass a function)")


def tokenizer_name(tokenizer: Callable[[str], list[str]]) -> str | None:
    """The name :data:`TOKENIZERS` knows ``tokenizer`` by, or ``None`` for a custom one."""
    for name, function in TOKENIZERS.items():
        if function is tokenizer:
            return name
    return None
