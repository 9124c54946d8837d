"""Benchmark: how well each faithfulness judge agrees with the labels, on the embedded stack.

Judges, all over the shipped calibration set (``evals/data/faithfulness_calibration.jsonl``,
96 items; 38 of them a held-out split written before any tuning):

* ``grounded``: :class:`~localchain.evals.GroundedFaithfulness` with its defaults
  (similarity + overlap + conflicts), through :func:`~localchain.evals.calibrate` exactly as
  ``localchain eval calibrate`` runs it;
* each signal alone: ``similarity``, ``overlap``, ``conflicts``, ``llm`` (the embedded
  model's yes/no vote under a grammar), and ``grounded+llm`` (all four);
* ``llm-only``: Ragas' Faithfulness judged by :class:`~localchain.evals.ConstrainedJudge` on
  the same model - the judge the embedded stack had before (``faithfulness_judge="llm"``).

Each reports agreement on the dev split, the held-out split and all items, precision and
recall of "unfaithful", the confusion table and seconds per item. The judge model is the
embedded SmolLM2-135M-Instruct (greedy, seed 42); the embeddings are the embedded MiniLM,
loaded before any timing starts.

    .venv/bin/python bench/judge_calibration.py                      # everything (slow)
    .venv/bin/python bench/judge_calibration.py --judges grounded,overlap
    .venv/bin/python bench/judge_calibration.py --out bench/results/judge_calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from localchain.evals import (
    CalibrationItem,
    ConstrainedJudge,
    GroundedFaithfulness,
    calibrate,
    load_calibration_set,
)
from localchain.evals.calibration import Confusion
from localchain.evals.results import NotScorableKind
from localchain.models import LlamaCppChat
from localchain.retrievers import default_embeddings

SIGNAL_JUDGES = {
    "similarity": ("similarity",),
    "overlap": ("overlap",),
    "conflicts": ("conflicts",),
    "llm": ("llm",),
    "grounded+llm": ("similarity", "overlap", "conflicts", "llm"),
}
JUDGES = ("grounded", *SIGNAL_JUDGES, "llm-only")


def _table(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    def agreement(group: list[dict[str, Any]]) -> float | None:
        return round(sum(o["agrees"] for o in group) / len(group), 3) if group else None

    unfaithful = [o for o in outcomes if not o["label"]]
    faithful = [o for o in outcomes if o["label"]]
    confusion = Confusion(
        caught=sum(o["predicted"] is False for o in unfaithful),
        missed=sum(o["predicted"] is not False for o in unfaithful),
        false_alarms=sum(o["predicted"] is False for o in faithful),
        passed=sum(o["predicted"] is True for o in faithful),
        not_scored=sum(o["predicted"] is None for o in faithful),
    )
    return {
        "dev": agreement([o for o in outcomes if o["split"] == "dev"]),
        "heldout": agreement([o for o in outcomes if o["split"] == "heldout"]),
        "all": agreement(outcomes),
        "precision_unfaithful": confusion.precision,
        "recall_unfaithful": confusion.recall,
        "confusion": confusion.model_dump(),
        "not_scorable": sum(o["predicted"] is None for o in outcomes),
    }


def _signal_judge(name: str, items: list[CalibrationItem], judge: ConstrainedJudge
                  ) -> dict[str, Any]:
    metric = GroundedFaithfulness(judge, default_embeddings(), signals=SIGNAL_JUDGES[name])
    calls_before = judge.usage.calls
    outcomes = []
    started = time.perf_counter()
    for item in items:
        check = metric.check(item.question, item.answer, [item.context])
        refusal = check.not_scorable is not None and \
            check.not_scorable.kind == NotScorableKind.REFUSAL
        predicted = True if refusal else (None if check.score is None else check.score >= 1.0)
        outcomes.append({"id": item.id, "split": item.split, "kind": item.kind,
                         "label": item.faithful, "predicted": predicted,
                         "agrees": predicted == item.faithful, "reason": check.reason()})
    seconds = time.perf_counter() - started
    return {**_table(outcomes), "seconds": round(seconds, 2),
            "seconds_per_item": round(seconds / len(items), 3),
            "judge_calls": judge.usage.calls - calls_before,
            "disagreements": [o for o in outcomes if not o["agrees"]]}


def _calibrated(name: str, judge: ConstrainedJudge) -> dict[str, Any]:
    started = time.perf_counter()
    report = calibrate(judge, faithfulness_judge="grounded" if name == "grounded" else "llm",
                       progress=False)
    seconds = time.perf_counter() - started
    outcomes = [{"id": o.id, "split": o.split, "kind": o.kind, "label": o.label,
                 "predicted": o.predicted, "agrees": o.agrees, "reason": o.reason}
                for o in report.outcomes]
    return {**_table(outcomes), "seconds": round(seconds, 2),
            "seconds_per_item": round(seconds / len(outcomes), 3),
            "judge_calls": report.judge.calls,
            "per_kind": report.per_kind,
            "disagreements": [o for o in outcomes if not o["agrees"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judges", default=",".join(JUDGES),
                        help=f"comma-separated, of: {', '.join(JUDGES)}")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    chosen = [j.strip() for j in args.judges.split(",") if j.strip()]
    unknown = sorted(set(chosen) - set(JUDGES))
    if unknown:
        parser.error(f"unknown judges {unknown}; known: {', '.join(JUDGES)}")
    items = load_calibration_set()
    default_embeddings().embed_query("warm up")  # the model loads before any timing
    judge = ConstrainedJudge(LlamaCppChat(temperature=0, seed=42, n_ctx=4096), max_tokens=1024)
    results: dict[str, Any] = {}
    for name in chosen:
        results[name] = (_signal_judge(name, items, judge) if name in SIGNAL_JUDGES
                         else _calibrated(name, judge))
        row = results[name]
        print(f"{name:13} dev {row['dev']:.3f}  heldout {row['heldout']:.3f}  all "
              f"{row['all']:.3f}  P {row['precision_unfaithful']:.2f} R "
              f"{row['recall_unfaithful']:.2f}  {row['seconds_per_item']:.2f} s/item",
              flush=True)
    report = {
        "benchmark": "judge_calibration",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {p: version(p) for p in ("ragas", "llama-cpp-python",
                                             "sentence-transformers")},
        "items": len(items),
        "heldout_items": sum(i.split == "heldout" for i in items),
        "judge_model": judge.model_name,
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({name: {k: v for k, v in row.items() if k != "disagreements"}
                      for name, row in results.items()}, indent=2))


if __name__ == "__main__":
    main()
