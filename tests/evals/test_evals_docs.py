"""The examples in docs/evals.md that need no model run as written, and print what they say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "evals.md"
MARKER = "<!-- Examples below load the judge model"
# Blocks that call the judge model are shown, not run here (the real model has its own tests).
NEEDS_MODEL = ("ConstrainedJudge(LlamaCppChat",)


def test_docs_examples_run_and_print_what_they_claim() -> None:
    text = DOC.read_text(encoding="utf-8").split(MARKER)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
              if not any(marker in b for marker in NEEDS_MODEL)]
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[{number}]", "exec"), namespace)  # noqa: S102
    out = printed.getvalue()
    assert "{'recall@5': 0.5, 'MRR': 0.25, 'MAP': 0.25, 'nDCG@5': 0.315" in out
    assert "2 question" in out and "rows.jsonl, line 2: missing field 'question'" in out
    assert "It is in Paris. ['The Eiffel Tower is in Paris.']" in out
    assert "['MRR', 'MAP', 'nDCG@5']" in out and "MRR: 1.000 -> 0.500 (-0.500)  REGRESSION" in out
    assert Path("eval-report/eval.html").is_file() and Path("current/eval.html").is_file()
