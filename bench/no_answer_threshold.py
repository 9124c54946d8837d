"""The dense relevance threshold behind RAG's "I don't know", measured on several corpora.

A RAG chain says it does not know when its dense retriever returns nothing: when the best
hit's cosine is below the threshold (``MINILM_RELEVANCE_THRESHOLD`` for all-MiniLM-L6-v2).
This script measures the best-hit cosine of answerable and off-topic questions on four
corpora, each chunked the way its users chunk it:

* ``pydoc``: the 79 Python Language Reference topics (``pydoc_data.topics``), ~200-token
  windows (bench/retrieval_quality.py); answerable: its 50 questions
  (``bench/data/pydoc_questions.jsonl``); off-topic: the 15 of
  ``bench/data/offtopic_questions.txt`` and 10 more.
* ``cranfield``: the 1,400 aeronautics abstracts (``data/cranfield``), one document each;
  answerable: the 225 queries (each has judged relevant abstracts); off-topic: 14.
* ``docs``: this repository's ``docs/`` folder as ``localchain index docs`` chunks it
  (3-sentence windows, 1 shared); answerable: 30 questions, each naming the page that
  answers it; off-topic: 15.
* ``interstellar``: the book's 15 chunks (``data/interstellar.txt`` split on "."), the 8 + 8
  questions of tests/retrievers/test_dense.py (the set 0.27 was first chosen on).

The questions not taken from elsewhere are in ``bench/data/no_answer_questions.jsonl``, each
with a ``kind``: ``answerable``, ``far`` (another subject) or ``near`` (the corpus's field,
but not in it: "How do I install a package with pip?" against the Language Reference). They
were written before any score was seen.

"No answer" is the positive class: at threshold t a question is refused when its best
cosine is below t. Precision: refused questions that are off-topic; recall: off-topic
questions refused. The threshold chosen maximizes the mean no-answer F1 over the four corpora
(each weighs the same, whatever its number of questions), on a grid of 0.005; among equal
means, the middle of the best run of grid points, rounded to two decimals. Results are
reported at the chosen threshold, at the library's default (``MINILM_RELEVANCE_THRESHOLD``,
0.36 since this benchmark chose it), at ``BOOK_RELEVANCE_THRESHOLD`` (0.27, the default
before, chosen on the Interstellar chunks alone) and at each corpus's own best.

Embeddings only, no LLM. Run:  .venv/bin/python bench/no_answer_threshold.py
Prints the results without the per-question rows; writes them all, every question's cosine
included, to bench/results/no_answer_threshold.json (--out). ``--rescore FILE`` scores the
cosines saved in an earlier output again, without embedding. The recorded run took 18 min 43 s
on 2 cores shared with other work (8 min 18 s of CPU), most of it embedding the Cranfield
abstracts and the docs folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from localchain.retrievers import (
    DenseRetriever,
    FaissStore,
    SentenceWindowChunker,
    SeparatorChunker,
    default_embeddings,
    load_documents,
)
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD, MINILM_RELEVANCE_THRESHOLD

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from retrieval_quality import cranfield_set, pydoc_set  # noqa: E402

QUESTIONS = HERE / "data" / "no_answer_questions.jsonl"
OFFTOPIC_PYDOC = HERE / "data" / "offtopic_questions.txt"
CORPORA = ("pydoc", "cranfield", "docs", "interstellar")
GRID_STEP = 0.005


def load_corpus(name: str) -> tuple[list[Document], list[dict[str, Any]]]:
    """The chunks of one corpus, as its users index it, and its questions: ``{"question",
    "kind"}`` rows, answerable and off-topic."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [r for r in rows if r["corpus"] == name]
    if name == "pydoc":
        chunks, queries, _ = pydoc_set(None)
        questions += [{"question": q, "kind": "answerable"} for q in queries.values()]
        offtopic = [q for q in OFFTOPIC_PYDOC.read_text().splitlines() if q.strip()]
        questions += [{"question": q, "kind": "far"} for q in offtopic]
    elif name == "cranfield":
        chunks, queries, _ = cranfield_set(None)
        questions += [{"question": q, "kind": "answerable"} for q in queries.values()]
    elif name == "docs":
        docs = load_documents(ROOT / "docs", progress=False).documents
        chunks = SentenceWindowChunker(size=3, overlap=1).split_documents(docs)
    elif name == "interstellar":
        docs = load_documents(ROOT / "data" / "interstellar.txt").documents
        chunks = SeparatorChunker(".").split_documents(docs)
    else:
        raise ValueError(f"unknown corpus {name!r}")
    return chunks, questions


def best_cosines(chunks: list[Document], questions: list[str]) -> list[float]:
    """The cosine of each question's nearest chunk, as the RAG chain's retriever sees it."""
    retriever = DenseRetriever(store=FaissStore.from_documents(chunks, default_embeddings()), k=1)
    return [retriever.invoke(question)[0].metadata["score"] for question in questions]


def no_answer_scores(scored: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """No-answer precision, recall and F1 at ``threshold`` (refused: best cosine below it)."""
    offtopic = [r for r in scored if r["kind"] != "answerable"]
    answerable = [r for r in scored if r["kind"] == "answerable"]
    caught = sum(r["best"] < threshold for r in offtopic)
    wrongly = sum(r["best"] < threshold for r in answerable)
    refused = caught + wrongly
    precision = caught / refused if refused else 0.0
    recall = caught / len(offtopic) if offtopic else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": round(threshold, 3),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "offtopic_refused": caught,
        "offtopic": len(offtopic),
        "answerable_refused": wrongly,
        "answerable": len(answerable),
        "near_refused": sum(r["best"] < threshold for r in offtopic if r["kind"] == "near"),
        "near": sum(r["kind"] == "near" for r in offtopic),
    }


def choose(per_corpus: dict[str, list[dict[str, Any]]]) -> tuple[float, list[dict[str, Any]]]:
    """The threshold maximizing the mean no-answer F1, and the mean F1 along the grid."""
    grid = [round(i * GRID_STEP, 3) for i in range(int(0.7 / GRID_STEP) + 1)]
    curve = []
    for t in grid:
        f1s = [no_answer_scores(rows, t)["f1"] for rows in per_corpus.values()]
        curve.append({"threshold": t, "mean_f1": round(sum(f1s) / len(f1s), 4)})
    top = max(point["mean_f1"] for point in curve)
    # The longest run of consecutive grid points at the top; its middle.
    runs: list[list[float]] = []
    for point in curve:
        if point["mean_f1"] == top:
            if runs and abs(runs[-1][-1] + GRID_STEP - point["threshold"]) < 1e-9:
                runs[-1].append(point["threshold"])
            else:
                runs.append([point["threshold"]])
    best_run = max(runs, key=len)
    return round((best_run[0] + best_run[-1]) / 2, 2), curve


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def spread(values: list[float]) -> dict[str, Any]:
        values = sorted(values)
        if not values:
            return {"n": 0}
        return {
            "n": len(values),
            "min": round(values[0], 3),
            "median": round(values[len(values) // 2], 3),
            "max": round(values[-1], 3),
        }

    return {
        "answerable": spread([r["best"] for r in rows if r["kind"] == "answerable"]),
        "far": spread([r["best"] for r in rows if r["kind"] == "far"]),
        "near": spread([r["best"] for r in rows if r["kind"] == "near"]),
    }


def measure() -> dict[str, Any]:
    """Embed every corpus and question: the best cosine of each question, and the run's
    provenance."""
    started = time.perf_counter()
    per_corpus: dict[str, list[dict[str, Any]]] = {}
    sizes: dict[str, int] = {}
    for name in CORPORA:
        t0 = time.perf_counter()
        chunks, rows = load_corpus(name)
        for row, best in zip(rows, best_cosines(chunks, [r["question"] for r in rows]), strict=True):
            row["best"] = round(float(best), 4)
        per_corpus[name] = rows
        sizes[name] = len(chunks)
        print(f"[{name}] {len(chunks)} chunks, {len(rows)} questions, "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    # The docs corpus is the working tree's docs/ folder: pages changed since the commit.
    changed_docs = subprocess.run(
        ["git", "status", "--porcelain", "--", "docs"], cwd=ROOT, capture_output=True, text=True
    ).stdout.splitlines()
    return {
        "benchmark": "no_answer_threshold",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "commit": commit,
        "docs_changed_since_commit": [line[3:] for line in changed_docs],
        "embeddings": default_embeddings().model_name,
        "seconds": round(time.perf_counter() - started, 1),
        "chunks": sizes,
        "questions": per_corpus,
    }


def score(run: dict[str, Any]) -> dict[str, Any]:
    """The threshold the rule chooses from a run's cosines, and every corpus's no-answer
    precision and recall at it, at the library's default and at the book's value."""
    per_corpus = run["questions"]
    chosen, curve = choose(per_corpus)
    compared = {
        "chosen": chosen,
        "default": MINILM_RELEVANCE_THRESHOLD,
        "book": BOOK_RELEVANCE_THRESHOLD,  # the default before this benchmark
    }
    corpora: dict[str, Any] = {}
    for name, rows in per_corpus.items():
        own = max(
            (no_answer_scores(rows, p["threshold"]) for p in curve), key=lambda s: s["f1"]
        )
        corpora[name] = {
            "chunks": run["chunks"][name],
            "best_cosine": summary(rows),
            **{f"at_{label}": no_answer_scores(rows, t) for label, t in compared.items()},
            "own_best": own,
            # Off-topic questions scoring highest and answerable ones scoring lowest: where
            # the threshold is decided.
            "highest_offtopic": sorted(
                ([r["best"], r["kind"], r["question"]] for r in rows if r["kind"] != "answerable"),
                reverse=True,
            )[:5],
            "lowest_answerable": sorted(
                [r["best"], r["question"]] for r in rows if r["kind"] == "answerable"
            )[:5],
            "questions": rows,
        }
    mean_f1 = {
        label: next(p["mean_f1"] for p in curve if abs(p["threshold"] - t) < 1e-9)
        for label, t in compared.items()
    }
    return {
        **{k: v for k, v in run.items() if k != "questions"},
        "rule": "max mean no-answer F1 over the corpora, grid 0.005, middle of the best run",
        "thresholds": compared,
        "mean_f1": mean_f1,
        "corpora": corpora,
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "no_answer_threshold.json")
    parser.add_argument(
        "--rescore",
        type=Path,
        default=None,
        help="score the cosines saved in this earlier output instead of embedding again",
    )
    args = parser.parse_args()

    if args.rescore:
        saved = json.loads(args.rescore.read_text())
        scored = ("corpora", "curve", "rule", "thresholds", "mean_f1", "chosen", "current")
        run = {k: v for k, v in saved.items() if k not in scored}
        run["questions"] = {name: c["questions"] for name, c in saved["corpora"].items()}
        run["chunks"] = {name: c["chunks"] for name, c in saved["corpora"].items()}
        run["rescored"] = datetime.now(UTC).isoformat(timespec="seconds")
    else:
        run = measure()
    output = score(run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=1) + "\n")
    brief = {k: v for k, v in output.items() if k not in ("corpora", "curve")}
    brief["corpora"] = {
        name: {k: v for k, v in c.items() if k != "questions"}
        for name, c in output["corpora"].items()
    }
    print(json.dumps(brief, indent=1))


if __name__ == "__main__":
    main()
