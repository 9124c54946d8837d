"""`localchain eval DATASET`: score a RAG system with the evaluation harness.

``localchain eval rows.jsonl`` scores the answers and contexts the rows already carry;
``--store DIR`` answers each question with the RAG chain over that index first.
``localchain eval calibrate`` measures how often the judge agrees with the labelled
faithfulness set (or ``--labels`` a set of your own), per faithfulness judge. ``--report DIR`` writes ``eval.json`` and ``eval.html``; ``--json`` prints
the means, the per-sample scores and the not-scorable count.

Progress goes to stderr: bars on a terminal, else a line per finished sample. Ctrl-C stops
the run, and what was scored until then is still reported (``--report``, ``--json`` or the
summary), marked partial; the exit code is then 130.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from localchain.cli.options import (
    JsonOpt,
    MaxTokensOpt,
    ModelOpt,
    NCtxOpt,
    NParallelOpt,
    print_json,
    settings_from_options,
)

__all__ = ["eval_command", "result_as_json"]


def result_as_json(result: Any) -> dict[str, Any]:
    """The ``--json`` output: means, counts, per-sample scores, judge usage (and ``partial``,
    how far the run got, when it stopped early).

    Example:
        >>> from localchain.evals import EvalResult
        >>> result_as_json(EvalResult())["not_scorable"]
        0
    """
    return {
        "means": result.means(),
        "summary": {m: s.model_dump() for m, s in result.summary.items()},
        "not_scorable": result.not_scorable_count,
        "samples": [
            {"index": s.index, "id": s.id, "question": s.question, "answer": s.answer,
             "scores": {m: sc.value for m, sc in s.scores.items()},
             "not_scorable": {m: sc.not_scorable.kind.value for m, sc in s.scores.items()
                              if sc.not_scorable is not None}}
            for s in result.samples],
        "judge": {"model": result.metadata.judge_model, **result.metadata.judge.model_dump()},
        "seconds": result.metadata.seconds,
        **({"partial": partial.model_dump()} if (partial := getattr(result, "partial", None))
           else {}),
    }


def _print_summary(result: Any) -> None:
    if (partial := getattr(result, "partial", None)) is not None:
        print(f"partial: {partial.describe()}")
    for name, s in result.summary.items():
        mean = "n/a" if s.mean is None else f"{s.mean:.3f}"
        kinds = f" ({', '.join(f'{k}: {n}' for k, n in s.not_scorable_kinds.items())})" \
            if s.not_scorable_kinds else ""
        print(f"{name:22} {mean:>6}  scored {s.n_scored}, not scorable {s.n_not_scorable}{kinds}")
    usage = result.metadata.judge
    print(f"judge {result.metadata.judge_model}: {usage.calls} calls, {usage.seconds:.1f} s; "
          f"run {result.metadata.seconds:.1f} s")


def eval_command(
    dataset: Annotated[str, typer.Argument(
        help="JSONL / JSON / CSV rows (question; reference, answer, contexts, relevant_ids "
             "optional), or 'calibrate' to measure the judge on the labelled set.")],
    store: Annotated[str | None, typer.Option(
        "--store", help="Index from `localchain index` (a folder or a qdrant: store): answer "
        "with the RAG chain.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Folder for eval.json and eval.html.")] = None,
    metrics: Annotated[list[str] | None, typer.Option(
        "--metric", help="A metric to run (repeatable): faithfulness, answer_relevancy, "
                         "context_precision, context_recall, factual_correctness, "
                         "retrieval, recall@k, mrr, map, ndcg@k. Default: what the data allows.")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Retrieved contexts; recall@k.")] = 5,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="A previous eval.json (or its folder): show deltas, flag regressions; "
                           "exit code 3 on a regression.")] = None,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, help="Largest drop of a mean that is not a regression.")] = 0.05,
    calibration: Annotated[Path | None, typer.Option(
        "--calibration", help="A calibration JSON (from `eval calibrate --out`) to include in "
                              "the report.")] = None,
    strictness: Annotated[int, typer.Option(
        "--strictness", min=1, help="Questions answer relevancy generates per answer.")] = 3,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", min=1, help="Jobs in flight (default: as many as the judge decodes "
        "together, --n-parallel).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="calibrate: first N items of each class only.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="calibrate: write the calibration report JSON here (with several "
        "judges, one file each: NAME.grounded.json, NAME.llm.json).")] = None,
    faithfulness_judge: Annotated[list[str] | None, typer.Option(
        "--faithfulness-judge", help="Who scores faithfulness: grounded (per-claim evidence, "
        "the default for the embedded judge model), llm (Ragas' LLM judge, the default for "
        "any other model) or auto. calibrate: repeat it to compare judges.")] = None,
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="calibrate: your own labelled JSONL (question, context, answer, "
        "faithful; split and kind optional) instead of the shipped set.")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", help="calibrate: only the items of this split (dev or heldout).")] = None,
    model: ModelOpt = None,
    n_ctx: NCtxOpt = None,
    n_parallel: NParallelOpt = None,
    max_tokens: MaxTokensOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Evaluate a RAG system (Ragas metrics judged under a JSON schema; never NaN)."""
    from localchain.evals import (
        CalibrationReport,
        ConstrainedJudge,
        EvalSettings,
        calibrate,
        compare_runs,
        evaluate_rag,
        load_baseline,
        write_reports,
    )
    from localchain.evals.harness import EvalInterrupted
    from localchain.models.registry import load_chat_model

    settings = settings_from_options(model=model, n_ctx=n_ctx, n_parallel=n_parallel)
    # --max-tokens bounds the RAG chain's answers (--store); the judge keeps its own budget.
    answer_settings = settings_from_options(model=model, n_ctx=n_ctx, n_parallel=n_parallel,
                                            max_tokens=max_tokens)
    judges = list(dict.fromkeys(faithfulness_judge or ["auto"]))
    for name in judges:
        if name not in ("auto", "grounded", "llm"):
            raise typer.BadParameter(f"{name!r} is not auto, grounded or llm",
                                     param_hint="--faithfulness-judge")
    if len(judges) > 1 and dataset != "calibrate":
        raise typer.BadParameter("give one faithfulness judge to an evaluation (several only "
                                 "to `eval calibrate`)", param_hint="--faithfulness-judge")
    eval_settings = EvalSettings(k=k, strictness=strictness, concurrency=concurrency,
                                 faithfulness_judge=judges[0])
    progress = True  # on stderr: bars on a terminal, else a line per finished sample

    def judge() -> ConstrainedJudge:
        return ConstrainedJudge(load_chat_model(settings=settings, temperature=0))

    if dataset == "calibrate":
        _calibrate(calibrate, judge(), judges, labels=labels, split=split, limit=limit,
                   settings=eval_settings, out=out, json_output=json_output)
        return
    target = None
    if store is not None:
        from localchain.chains.rag import rag_chain
        from localchain.retrievers.store import open_retriever

        llm = load_chat_model(settings=answer_settings, temperature=0)
        target = rag_chain(open_retriever(store, "hybrid", k=k), llm)
    cal_data = None
    if calibration is not None:
        cal_data = CalibrationReport.model_validate_json(
            calibration.read_text(encoding="utf-8")).model_dump(exclude={"outcomes"})
    the_judge = judge() if _needs_judge(dataset, metrics, k) else None
    stopped: EvalInterrupted | None = None
    try:
        result = evaluate_rag(target, dataset, metrics or None, judge=the_judge,
                              settings=eval_settings, progress=progress, calibration=cal_data)
    except EvalInterrupted as interrupted:
        stopped, result = interrupted, interrupted.result
    comparison = None
    if baseline is not None and stopped is None:  # a part of a run is no run to compare
        comparison = compare_runs(result, load_baseline(baseline), tolerance=tolerance)
    if report is not None:
        paths = write_reports(result, report, comparison=comparison)
        if not json_output:
            print(f"report: {paths['html']} and {paths['json']}")
    if json_output:
        data = result_as_json(result)
        if comparison is not None:
            data["comparison"] = comparison.model_dump()
        print_json(data)
    else:
        _print_summary(result)
        if comparison is not None:
            print(comparison.describe())
    if stopped is not None:
        print(f"interrupted: {stopped}; the results above are partial", file=sys.stderr)
        raise typer.Exit(130)
    if comparison is not None and not comparison.ok:
        raise typer.Exit(3)


def _calibrate(calibrate: Any, the_judge: Any, judges: list[str], *, labels: Path | None,
               split: str | None, limit: int | None, settings: Any, out: Path | None,
               json_output: bool) -> None:
    reports = [calibrate(the_judge, labels, limit=limit, split=split, faithfulness_judge=name,
                         settings=settings, progress=True) for name in judges]
    written = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        for report in reports:
            path = out if len(reports) == 1 else out.with_name(
                f"{out.stem}.{report.faithfulness_judge}{out.suffix or '.json'}")
            path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
            written.append(str(path))
    if json_output:
        data = [r.model_dump(exclude={"outcomes"}) for r in reports]
        print_json(data[0] if len(data) == 1 else data)
        return
    for report in reports:
        print(report.text())
        print(f"{report.judge.calls} judge calls, {report.seconds:.1f} s "
              f"({report.seconds_per_item:.2f} s per item)\n")
    if written:
        print(f"written to {', '.join(written)}")


def _needs_judge(dataset: str, metrics: list[str] | None, k: int) -> bool:
    from localchain.evals import JUDGE_METRICS, load_dataset, resolve_metrics

    samples = load_dataset(dataset)
    chosen = resolve_metrics(metrics or None, has_reference=any(s.reference for s in samples),
                             has_judgments=any(s.has_judgments for s in samples), k=k)
    return bool(set(chosen) & set(JUDGE_METRICS))
