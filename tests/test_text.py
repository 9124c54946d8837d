"""The book's BM25 tokenizer (localchain.text), its public homes, and the core's imports."""

from __future__ import annotations

import doctest
import subprocess
import sys

from localchain import text
from localchain.text import ENGLISH_STOP_WORDS, book_tokenize


def test_book_tokenize() -> None:
    assert book_tokenize("How precise was the science?") == ["precise", "science"]
    assert book_tokenize("It grossed $677 million (co-written)!") == [
        "grossed", "677", "million", "co-written"
    ]  # fmt: skip
    assert book_tokenize("The... and, of") == []
    assert book_tokenize("") == []
    assert "the" in ENGLISH_STOP_WORDS and len(ENGLISH_STOP_WORDS) == 318


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
