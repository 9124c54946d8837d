"""`localchain eval` as a user runs it: progress lines on a piped stderr, and Ctrl-C that
keeps what was scored (the RAG chain answering with the embedded model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

QUESTIONS = [
    "Who directed Interstellar?", "When did Interstellar premiere?", "Who composed the score?",
    "Where was it filmed?", "How much did it gross?", "Who wrote the screenplay?",
    "Which physicist consulted on the film?", "Who stars in it?",
]


def test_eval_reports_each_answer_and_ctrl_c_keeps_a_partial_report(
    interstellar_store: Path, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"question": q, "relevant_ids": ["interstellar.txt"]})
                            + "\n" for q in QUESTIONS), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "localchain", "eval", str(rows), "--store",
         str(interstellar_store), "--metric", "mrr", "-k", "2", "--max-tokens", "32",
         "--n-ctx", "2048", "--report", "out"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
    )  # fmt: skip
    seen: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:  # a pipe, not a terminal: a line per answered question
            seen.append(line)
            if "] answered 1/8 in " in line:
                process.send_signal(signal.SIGINT)  # Ctrl-C while the rest are answered
                break
        out, rest = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    err = "".join(seen) + rest
    assert process.returncode == 130, err[-3000:]
    assert any(line.rstrip().endswith("] answering 8 questions") for line in seen)
    assert seen[-1].rstrip().endswith(": 'Who directed Interstellar?'")
    data = json.loads((tmp_path / "out" / "eval.json").read_text(encoding="utf-8"))
    partial = data["partial"]
    assert partial["phase"] == "answering" and partial["samples"] == 8
    assert 1 <= partial["answered"] < 8 and partial["scores"] == 0
    assert len(data["samples"]) == partial["answered"]
    assert data["summary"]["MRR"]["n_scored"] + data["summary"]["MRR"]["n_not_scorable"] == \
        partial["answered"]
    described = (f"interrupted while answering: {partial['answered']} of 8 samples answered, "
                 "0 of 0 judge scores done")
    assert out.splitlines()[:2] == [f"report: {Path('out/eval.html')} and {Path('out/eval.json')}",
                                    f"partial: {described}"]
    assert err.rstrip().endswith(f"interrupted: {described}; the results above are partial")
    page = (tmp_path / "out" / "eval.html").read_text(encoding="utf-8")
    assert "<h1>Evaluation report (partial)</h1>" in page
