"""Reports, baseline comparison and the `localchain eval` command (scripted or no judge)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from localchain.cli import main
from localchain.evals import (
    EvalResult,
    compare_runs,
    evaluate_rag,
    load_baseline,
    render_html,
    write_reports,
)
from localchain.evals.harness import EvalInterrupted
from localchain.evals.results import MetricSummary

ROWS = [
    {"id": "q1", "question": "Where is <b>Paris</b>?", "answer": "In France.",
     "contexts": [{"text": "Paris is in France.", "id": "c1"}, "Rome is in Italy."],
     "relevant_ids": ["c1"]},
    {"id": "q2", "question": "Where is Rome?", "answer": "In Spain.",
     "contexts": ["Madrid is in Spain.", {"text": "Rome is in Italy.", "id": "c4"}],
     "relevant_ids": ["c4"]},
]


def _result(scripted: Any) -> EvalResult:
    judge, _ = scripted(script={"NLIStatementOutput": [
        '{"statements": [{"statement": "In France.", "reason": "stated", "verdict": 1}]}',
        '{"statements": [{"statement": "In Spain.", "reason": "contradicted", "verdict": 0}]}']})
    return evaluate_rag(None, ROWS, metrics=["faithfulness", "retrieval"], judge=judge,
                        progress=False)


def test_json_report_has_every_sample_reason_and_metadata(scripted: Any, tmp_path: Path) -> None:
    result = _result(scripted)
    paths = write_reports(result, tmp_path / "out")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [s["id"] for s in data["samples"]] == ["q1", "q2"]
    scores = data["samples"][1]["scores"]
    assert scores["faithfulness"]["value"] == 0.0
    assert "[not supported] In Spain. - contradicted" in scores["faithfulness"]["reason"]
    assert scores["MRR"]["value"] == 0.5
    meta = data["metadata"]
    assert meta["judge_model"] == "scripted-judge" and meta["versions"]["ragas"] == "0.4.3"
    assert meta["settings"]["k"] == 5 and meta["settings"]["judge"]["max_retries"] == 2
    assert meta["judge"]["calls"] == 4 and meta["started_at"] and meta["seconds"] >= 0
    assert EvalResult.read_json(paths["json"]) == result


def test_html_is_self_contained_escaped_and_shows_the_worst_first(scripted: Any) -> None:
    page = render_html(_result(scripted))
    assert page.count("<img src='data:image/png;base64,") == 5
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Where is &lt;b&gt;Paris&lt;/b&gt;?" in page
    worst = page.split("<h3>faithfulness</h3>")[1]
    assert worst.index("Where is Rome?") < worst.index("Paris")
    assert "Not calibrated" in page and "scripted-judge" in page


def test_a_run_stopped_by_ctrl_c_is_reported_as_partial(scripted: Any, tmp_path: Path) -> None:
    def statements(prompt: str) -> str:
        if "Where is Rome?" in prompt:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the second row is judged
        return '{"statements": ["In France."]}'

    judge, _ = scripted(script={"StatementGeneratorOutput": [statements]})
    with pytest.raises(EvalInterrupted) as stopped:
        evaluate_rag(None, ROWS, metrics=["faithfulness", "retrieval"], judge=judge,
                     progress=False)
    paths = write_reports(stopped.value.result, tmp_path / "out")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["partial"] == {"reason": "interrupted", "phase": "judging", "samples": 2,
                               "answered": 2, "scores": 2, "scored": 1}
    retrieval = ["recall@5", "MRR", "MAP", "nDCG@5"]
    assert [list(s["scores"]) for s in data["samples"]] == [["faithfulness", *retrieval],
                                                             retrieval]
    assert data["summary"]["faithfulness"]["n_scored"] == 1
    assert data["summary"]["MRR"] == {**data["summary"]["MRR"], "n_scored": 2, "mean": 0.75}
    page = paths["html"].read_text(encoding="utf-8")
    assert "<h1>Evaluation report (partial)</h1>" in page
    assert ("<b>Partial report:</b> the run stopped early (interrupted while judging: 2 of 2 "
            "samples answered, 1 of 2 judge scores done)") in page
    whole = write_reports(_result(scripted), tmp_path / "whole")
    assert "partial" not in json.loads(whole["json"].read_text(encoding="utf-8"))
    assert "Partial report" not in whole["html"].read_text(encoding="utf-8")


def test_calibration_is_shown_when_given(scripted: Any) -> None:
    result = _result(scripted)
    result.metadata.calibration = {"judge_model": "scripted-judge", "n": 34, "accuracy": 0.62,
                                   "per_class": {"faithful": 0.7, "unfaithful": 0.54}}
    page = render_html(result)
    assert "agreed with the faithful / unfaithful label <b>0.62</b>" in page
    assert "unfaithful: 0.54" in page


def test_baseline_comparison_flags_regressions_beyond_the_tolerance() -> None:
    def run(mean: float | None, not_scorable: int = 0) -> EvalResult:
        return EvalResult(summary={
            "faithfulness": MetricSummary(metric="faithfulness", mean=mean, n_scored=3,
                                          n_not_scorable=not_scorable),
            "MRR": MetricSummary(metric="MRR", mean=0.5, n_scored=3)})

    assert compare_runs(run(0.78), run(0.8), tolerance=0.05).ok
    comparison = compare_runs(run(0.7), run(0.8), tolerance=0.05)
    assert comparison.regressions == ["faithfulness"]
    assert comparison.deltas["faithfulness"].delta == pytest.approx(-0.1)
    assert "REGRESSION: mean fell by 0.100" in comparison.describe()
    assert compare_runs(run(0.8, not_scorable=2), run(0.8)).regressions == ["faithfulness"]
    assert compare_runs(run(None), run(0.8)).deltas["faithfulness"].why == \
        "no sample was scored in this run"
    extra = EvalResult(summary={"recall@5": MetricSummary(metric="recall@5", mean=1.0)})
    comparison = compare_runs(extra, run(0.8))
    assert comparison.only_in_current == ["recall@5"] and comparison.ok
    assert comparison.only_in_baseline == ["faithfulness", "MRR"]
    with pytest.raises(ValueError):
        compare_runs(run(0.8), run(0.8), tolerance=-1)


def test_report_with_baseline_marks_the_regression(scripted: Any, tmp_path: Path) -> None:
    result = _result(scripted)
    better = result.model_copy(deep=True)
    better.summary["faithfulness"].mean = 0.9
    paths = write_reports(result, tmp_path / "run.json",
                          comparison=compare_runs(result, better))
    assert paths["html"].name == "run.html"
    assert "regression: mean fell by 0.400" in paths["html"].read_text(encoding="utf-8")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["comparison"]["regressions"] == ["faithfulness"]
    assert load_baseline(paths["json"]).summary["faithfulness"].mean == 0.5


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_scores_a_dataset_with_answers_writes_reports_and_compares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in ROWS), encoding="utf-8")
    code, out, err = _cli(["eval", str(dataset), "--metric", "retrieval", "-k", "2",
                           "--report", str(tmp_path / "rep"), "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["means"] == {"recall@2": 1.0, "MRR": 0.75, "MAP": 0.75,
                             "nDCG@2": pytest.approx(0.8154648767857288)}
    assert data["not_scorable"] == 0 and data["samples"][1]["scores"]["MRR"] == 0.5
    assert (tmp_path / "rep" / "eval.html").is_file()
    baseline = json.loads((tmp_path / "rep" / "eval.json").read_text(encoding="utf-8"))
    baseline["summary"]["MRR"]["mean"] = 1.0
    (tmp_path / "base.json").write_text(json.dumps(baseline), encoding="utf-8")
    code, out, _ = _cli(["eval", str(dataset), "--metric", "mrr", "--baseline",
                         str(tmp_path / "base.json")], capsys)
    assert code == 3 and "REGRESSION" in out and "MRR" in out


def test_cli_reports_dataset_errors_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text('{"question": "ok", "answer": "a"}\n{"answer": "b"}\n', encoding="utf-8")
    code, _, err = _cli(["eval", str(dataset), "--metric", "mrr"], capsys)
    assert code == 1 and "rows.jsonl, line 2: missing field 'question'" in err
    dataset.write_text('{"question": "no answer"}\n', encoding="utf-8")
    code, _, err = _cli(["eval", str(dataset), "--metric", "mrr"], capsys)
    assert code == 1 and "no target was given" in err


def test_the_grounded_judge_and_its_heldout_agreement_are_stated(scripted: Any) -> None:
    result = _result(scripted)
    result.metadata.settings["faithfulness"] = {"judge": "grounded"}
    assert "Faithfulness was scored by the grounded judge" in render_html(result)
    result.metadata.calibration = {"judge_model": "SmolLM2", "faithfulness_judge": "grounded",
                                   "n": 96, "accuracy": 0.95, "per_split": {"dev": 1.0,
                                                                            "heldout": 0.87},
                                   "per_class": {"faithful": 0.98, "unfaithful": 0.92}}
    page = render_html(result)
    assert "Judge: <b>SmolLM2</b> (grounded faithfulness)." in page
    assert "<b>0.95</b> of the time; on the held-out items: <b>0.87</b> (per class" in page
