"""The BM25 tokenizers (localchain.text: the book's and the stemming default), their public
homes, and the core's imports."""

from __future__ import annotations

import doctest
import subprocess
import sys

from localchain import text
from localchain.text import (
    ENGLISH_STOP_WORDS,
    TOKENIZERS,
    book_tokenize,
    english_tokenize,
    resolve_tokenizer,
    tokenizer_name,
)


def test_book_tokenize() -> None:
    assert book_tokenize("How precise was the science?") == ["precise", "science"]
    assert book_tokenize("It grossed $677 million (co-written)!") == [
        "grossed", "677", "million", "co-written"
    ]  # fmt: skip
    assert book_tokenize("The... and, of") == []
    assert book_tokenize("") == []
    assert "the" in ENGLISH_STOP_WORDS and len(ENGLISH_STOP_WORDS) == 318


def test_english_tokenize_stems_words_split_at_punctuation() -> None:
    assert english_tokenize("How do the flows behave in boundary-layers?") == [
        "flow", "behav", "boundari", "layer"
    ]  # fmt: skip
    # One stem for the forms of a word: queries and documents meet on it.
    assert english_tokenize("flow flows flowing") == ["flow"] * 3
    assert english_tokenize("Mach 2.5, __init__ and 677") == ["mach", "2", "5", "__init__", "677"]
    assert english_tokenize("The... and, of") == [] and english_tokenize("") == []


def test_english_tokenize_from_many_threads() -> None:
    # A PyStemmer stemmer must not be shared by threads: each thread gets its own.
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"turbulent flows number {n} boundary layers" for n in range(400)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(english_tokenize, texts))
    assert results == [
        ["turbul", "flow", "number", str(n), "boundari", "layer"] for n in range(400)
    ]


def test_tokenizers_by_name() -> None:
    assert TOKENIZERS == {"book": book_tokenize, "english": english_tokenize}
    assert resolve_tokenizer("english") is english_tokenize
    assert resolve_tokenizer(str.split) is str.split
    assert tokenizer_name(book_tokenize) == "book" and tokenizer_name(str.split) is None
    for bad in ("porter", "", None):
        try:
            resolve_tokenizer(bad)  # type: ignore[arg-type]
        except ValueError as err:
            assert "known: book, english" in str(err)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_still_importable_where_it_was_published() -> None:
    from localchain import retrievers
    from localchain.retrievers import bm25

    assert bm25.book_tokenize is retrievers.book_tokenize is book_tokenize
    assert bm25.ENGLISH_STOP_WORDS is retrievers.ENGLISH_STOP_WORDS is ENGLISH_STOP_WORDS
    assert "book_tokenize" in bm25.__all__ and "ENGLISH_STOP_WORDS" in bm25.__all__


def test_the_shared_core_modules_import_no_feature_package() -> None:
    code = (
        "import sys\n"
        "import localchain.files, localchain.grammars, localchain.text\n"
        "features = ('agents', 'chains', 'memory', 'retrievers', 'evals', 'cli')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in features"
        " and m.startswith('localchain.')))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert process.stdout.strip() == "[]", process.stdout


def test_docstring_examples_run() -> None:
    result = doctest.testmod(text)
    assert result.failed == 0
    assert result.attempted > 0
