"""The examples in docs/retrievers.md run as written (loading, chunking, BM25, metrics)."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "retrievers.md"
SHARED = Path(__file__).resolve().parents[2] / "data"
# Sections after this marker belong to later work (dense, hybrid, rerank, RAG), whose
# examples may load models; they are not run here.
MARKER = "<!-- Sections below are reserved"


def test_loading_chunking_bm25_and_metrics_examples_run(tmp_path: Path) -> None:
    # The examples use the repository's data/ folder, relative to where they run.
    shutil.copytree(Path(__file__).resolve().parents[2] / "data", Path.cwd() / "data", dirs_exist_ok=True)
    text = DOC.read_text(encoding="utf-8").split(MARKER)[0]
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first example shows a SkippedFilesWarning
        for number, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[{number}]", "exec"), namespace)  # noqa: S102
    assert len(namespace["chunks"]) == 15  # type: ignore[arg-type]
    assert round(namespace["report"].metrics["nDCG@10"], 3) == 0.348  # type: ignore[attr-defined]
    assert round(namespace["tuned_report"].metrics["nDCG@10"], 3) == 0.424  # type: ignore[attr-defined]
    stemmed = namespace["stemmed"].invoke("scientific accuracy")  # type: ignore[attr-defined]
    assert [h.page_content[:30] for h in stemmed] == [
        "It has also received praise fr",
        "Caltech theoretical physicist ",
    ]
