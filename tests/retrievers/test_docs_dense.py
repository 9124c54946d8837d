"""The examples in docs/retrievers.md's dense, threshold, hybrid, rerank, index-folder and
Qdrant sections run as written, and print what the text says they print."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "retrievers.md"
INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Embeddings and dense retrieval") : text.index("## RAG")]


@pytest.mark.slow
def test_dense_hybrid_rerank_and_store_examples_run(book_chunks) -> None:
    # The examples use the repository's data/ folder, relative to where they run.
    shutil.copytree(Path(__file__).resolve().parents[2] / "data", Path.cwd() / "data", dirs_exist_ok=True)
    blocks = re.findall(r"```python\n(.*?)```", _section(), re.DOTALL)
    assert len(blocks) >= 8
    from localchain.retrievers.chunking import SeparatorChunker

    namespace: dict[str, object] = {
        "chunks": book_chunks,
        "Path": Path,
        "interstellar": INTERSTELLAR,
        "SeparatorChunker": SeparatorChunker,
    }
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[dense {number}]", "exec"), namespace)  # noqa: S102
    out = printed.getvalue()
    for expected in [
        "384 sentence-transformers/all-MiniLM-L6-v2 256",
        "1 0.476 It has also received praise from many astronomers",
        "3 0.209 Interstellar uses extensive practical and miniatur",
        "[3, 4]",
        "[0.476, 0.333, 0.209]",
        "[12, 4, 7, 13, 0]",
        "[]\n2\n",
        "Caltech theoretical physicist and 2017 N 0.0323 {'dense': {'rank': 2",
        "15 15\n[]\n1 0 15\n",
        "16 16\nQdrantIndex Caltech theoretical physicist and 2017 N\n[]\n1\n",
    ]:
        assert expected in out, expected


def test_skipped_examples_are_marked() -> None:
    # Blocks needing a network service or a file we do not have are fenced "python skip".
    assert "```python skip" in _section()
