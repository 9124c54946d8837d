"""The examples in docs/rag.md run as written on the embedded model, and give the book's
parity results (they double as the dense-retrieval parity and conversational tests)."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "rag.md"
INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"

pytestmark = pytest.mark.slow


def test_rag_examples_run_and_reproduce_the_book(tmp_path: Path) -> None:
    # The examples use the repository's data/ folder, relative to where they run.
    shutil.copytree(Path(__file__).resolve().parents[2] / "data", Path.cwd() / "data", dirs_exist_ok=True)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 6
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[{number}]", "exec"), namespace)  # noqa: S102
    ns = namespace
    result = ns["result"]
    assert result["citations"] and all(  # type: ignore[index]
        "677" in result["sources"][n - 1]["text"]
        for n in result["citations"]  # type: ignore[index]
    )
    assert "677" in result["answer"]  # type: ignore[index]
    assert ns["checked"]["answer"] == "Nolan directed it. [1] It grossed $677 million. [2]"  # type: ignore[index]
    assert [c["number"] for c in ns["checked"]["invalid_citations"]] == [2, 7]  # type: ignore[index]
    flagged = ns["flagged"]
    assert flagged["answer"] == "Nolan directed it. [1] Its sequel was filmed on Mars."  # type: ignore[index]
    assert flagged["supported"] is False and flagged["citations"] == [1]  # type: ignore[index]
    assert flagged["unsupported_reason"] == (  # type: ignore[index]
        "1 of 2 statements not supported: 'Its sequel was filmed on Mars.' cites no source "
        "(best support 0.00 < 0.5)"
    )
    moon = ns["moon"]
    assert moon["answer"].startswith("I don't know") and moon["sources"] == []  # type: ignore[index]
    assert ns["router"].invoke("What spices go in a curry?")[0].metadata["route"] == "cooking"  # type: ignore[attr-defined]
    assert ns["routed"]["sources"][0]["metadata"]["route"] == "movies"  # type: ignore[index]
    follow_up = ns["follow_up"]
    assert "interstellar" in follow_up["query"].lower()  # type: ignore[index]
    assert any("October 26" in s["text"] for s in follow_up["sources"])  # type: ignore[index]
    memory = ns["memory"]
    assert [m.type for m in memory.history.messages] == ["human", "ai", "human", "ai"]  # type: ignore[attr-defined]
