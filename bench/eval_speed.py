"""Benchmark: localchain's eval harness vs stock Ragas evaluate() on the same samples.

Both judge faithfulness with the embedded SmolLM2-135M-Instruct on llama.cpp:

* localchain: ``evaluate_rag`` with :class:`~localchain.evals.ConstrainedJudge` (every judge
  call decoded under the answer's JSON schema; typed "not scorable" instead of NaN);
* stock: ``ragas.evaluate`` with ``LangchainLLMWrapper(ChatLlamaCpp)`` and
  ``RunConfig(max_workers=1)`` - at the default concurrency it segfaults (LANDMINES.md).

The samples are the first N/2 faithful and N/2 unfaithful items of the judge calibration
set (question, context, answer), so both sides score the same rows. Prints one JSON object:
seconds, seconds per sample, scored samples, NaN count, judge calls, per side, and ratios.

    .venv/bin/python bench/eval_speed.py                # 20 samples, both sides (slow)
    .venv/bin/python bench/eval_speed.py --samples 2 --only localchain
    .venv/bin/python bench/eval_speed.py --out bench/results/eval_speed.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from localchain.evals import ConstrainedJudge, EvalSettings, evaluate_rag, load_calibration_set
from localchain.models import LlamaCppChat, embedded_model_path

N_CTX = 4096
MAX_TOKENS = 1024


class _CallCounter(BaseCallbackHandler):
    """Counts the model calls stock Ragas makes (LangChain callbacks see each one)."""

    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1


def _rows(samples: int) -> list[dict[str, Any]]:
    items = load_calibration_set()
    half = max(1, samples // 2)
    chosen = [i for i in items if i.faithful][:half] + [i for i in items if not i.faithful][:half]
    return [{"id": i.id, "question": i.question, "answer": i.answer, "contexts": [i.context]}
            for i in chosen[:samples]]


def run_localchain(rows: list[dict[str, Any]], n_parallel: int = 1) -> dict[str, Any]:
    model = LlamaCppChat(temperature=0, n_ctx=N_CTX, n_parallel=n_parallel)
    judge = ConstrainedJudge(model, max_tokens=MAX_TOKENS)
    started = time.perf_counter()
    # Ragas' LLM faithfulness, as stock Ragas runs it (the embedded judge model would
    # otherwise get the grounded judge; bench/judge_calibration.py measures that one).
    result = evaluate_rag(None, rows, metrics=["faithfulness"], judge=judge, progress=False,
                          settings=EvalSettings(faithfulness_judge="llm"))
    seconds = time.perf_counter() - started
    summary = result.summary["faithfulness"]
    return {
        "seconds": round(seconds, 2),
        "seconds_per_sample": round(seconds / len(rows), 2),
        "scored": summary.n_scored,
        "not_scorable": summary.n_not_scorable,
        "not_scorable_kinds": summary.not_scorable_kinds,
        "nan": 0,  # by construction: a MetricScore cannot hold NaN
        "mean": summary.mean,
        "judge_calls": result.metadata.judge.calls,
        "judge_attempts": result.metadata.judge.attempts,
        "n_parallel": n_parallel,
    }


def run_stock_ragas(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from langchain_community.chat_models import ChatLlamaCpp
    from ragas import EvaluationDataset, RunConfig, evaluate
    from ragas.llms import LangchainLLMWrapper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import Faithfulness

        llm = ChatLlamaCpp(model_path=str(embedded_model_path()), temperature=0, n_ctx=N_CTX,
                           max_tokens=MAX_TOKENS, n_threads=os.cpu_count() or 1, verbose=False)
        dataset = EvaluationDataset.from_list([
            {"user_input": r["question"], "response": r["answer"],
             "retrieved_contexts": r["contexts"]} for r in rows])
        counter = _CallCounter()
        started = time.perf_counter()
        result = evaluate(dataset, metrics=[Faithfulness()], llm=LangchainLLMWrapper(llm),
                          run_config=RunConfig(max_workers=1, timeout=600), callbacks=[counter],
                          show_progress=False, raise_exceptions=False)
        seconds = time.perf_counter() - started
    values = [float(v) for v in result.to_pandas()["faithfulness"]]
    finite = [v for v in values if not math.isnan(v)]
    return {
        "seconds": round(seconds, 2),
        "seconds_per_sample": round(seconds / len(rows), 2),
        "scored": len(finite),
        "nan": len(values) - len(finite),
        "mean": sum(finite) / len(finite) if finite else None,
        "judge_calls": counter.calls,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="rows to score (default 20)")
    parser.add_argument("--only", choices=["localchain", "ragas"], default=None)
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    parser.add_argument("--n-parallel", type=int, default=1,
                        help="judge model slots (batched decoding); jobs in flight follow it")
    args = parser.parse_args(argv)
    rows = _rows(args.samples)
    load0 = round(os.getloadavg()[0], 2)
    out: dict[str, Any] = {
        "benchmark": "eval_speed",
        "metric": "faithfulness",
        "samples": len(rows),
        "judge_model": "SmolLM2-135M-Instruct.Q4_1 (embedded)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "versions": {lib: version(lib) for lib in ("llama_cpp_python", "ragas", "langchain-core",
                                                   "langchain-community")},
    }
    if args.only in (None, "localchain"):
        out["localchain"] = run_localchain(rows, args.n_parallel)
    if args.only in (None, "ragas"):
        out["stock_ragas"] = run_stock_ragas(rows)
    if "localchain" in out and "stock_ragas" in out and out["localchain"]["seconds"]:
        out["ratio_seconds_stock_over_localchain"] = round(
            out["stock_ragas"]["seconds"] / out["localchain"]["seconds"], 2)
    out["loadavg_1m"] = {"start": load0, "end": round(os.getloadavg()[0], 2)}
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return out


if __name__ == "__main__":
    main()
