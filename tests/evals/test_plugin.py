"""The pytest plugin, run on small test projects through pytester (scripted judge)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = '''
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from localchain.evals import ConstrainedJudge

STATEMENTS = '{"statements": ["The answer is stated."]}'
VERDICT = '{"statements": [{"statement": "The answer is stated.", "reason": "REASON", "verdict": V}]}'

@pytest.fixture(scope="session")
def judge():
    # Faithfulness asks for statements, then verdicts: one sample at a time, in this order.
    verdict = VERDICT.replace("V", "VERDICT_VALUE")
    return ConstrainedJudge(FakeListChatModel(responses=[STATEMENTS, verdict]))

CALLS = []

def target(question):
    CALLS.append(question)
    return {"answer": "The answer is stated.",
            "sources": [{"id": "c1", "text": "The answer is stated here.", "metadata": {}}]}
'''

TESTS = '''
import pytest
from conftest import CALLS, target

@pytest.mark.eval
def test_faithful_enough(rag_eval, assert_scores):
    result = rag_eval(target, "data.jsonl", metrics=["faithfulness", "retrieval"], name="rag")
    assert_scores(result, {"recall@5": 0.5}, faithfulness=0.7)

@pytest.mark.eval
def test_cached_once_per_session(rag_eval):
    result = rag_eval(target, "data.jsonl", metrics=["faithfulness", "retrieval"], name="rag")
    assert len(CALLS) == 2 and len(result.samples) == 2

def test_plain():
    assert True
'''

DATA = "\n".join(json.dumps(row) for row in [
    {"question": "First question?", "relevant_ids": ["c1"]},
    {"question": "Second question?", "relevant_ids": ["c1"]},
])


def _project(pytester: pytest.Pytester, verdict: int, reason: str) -> None:
    pytester.makeconftest(CONFTEST.replace("VERDICT_VALUE", str(verdict))
                          .replace("REASON", reason))
    pytester.makepyfile(test_quality=TESTS)
    pytester.makefile(".jsonl", data=DATA)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_eval_tests_are_deselected_by_default(pytester: pytest.Pytester) -> None:
    _project(pytester, 1, "supported by the context")
    # A fresh process: the plugin is there only through its pytest11 entry point.
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, deselected=2)


def test_a_passing_project_writes_reports(pytester: pytest.Pytester) -> None:
    _project(pytester, 1, "supported by the context")
    pytester.makefile(".json", calibration=json.dumps(
        {"judge_model": "FakeListChatModel", "n": 34, "accuracy": 0.91,
         "per_class": {"faithful": 0.94, "unfaithful": 0.88}, "outcomes": []}))
    result = pytester.runpytest("--run-evals", "--eval-report", "out", "--eval-calibration",
                                "calibration.json", "-q")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*localchain evals*", "rag: 2 samples; faithfulness=1.000*",
                                 "report written: out*eval.html"])
    data = json.loads((pytester.path / "out" / "eval.json").read_text(encoding="utf-8"))
    assert data["summary"]["faithfulness"]["mean"] == 1.0
    assert data["metadata"]["judge"]["calls"] == 4 and data["metadata"]["dataset"] == "data.jsonl"
    assert data["metadata"]["calibration"]["accuracy"] == 0.91
    page = (pytester.path / "out" / "eval.html").read_text(encoding="utf-8")
    assert "agreed with the faithful / unfaithful label <b>0.91</b>" in page
    # The same run selected with -m eval.
    pytester.runpytest("-m", "eval", "-q").assert_outcomes(passed=2, deselected=1)


def test_a_failing_project_lists_worst_samples_and_reasons(pytester: pytest.Pytester) -> None:
    _project(pytester, 0, "the context does not say this")
    result = pytester.runpytest("--run-evals", "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*RAG evaluation below thresholds:",
        "*faithfulness: mean 0.000 < 0.7 (scored 2, not scorable 0)",
        "*worst samples for faithfulness:",
        "*#1 'First question?': 0.000",
        "*reason: [[]not supported] The answer is stated. - the context does not say this",
    ])


def test_a_regression_against_the_baseline_fails(pytester: pytest.Pytester) -> None:
    _project(pytester, 1, "supported")
    pytester.runpytest("--run-evals", "--eval-report", "base", "-q"
                                  ).assert_outcomes(passed=3)
    baseline: Path = pytester.path / "base" / "eval.json"
    data = json.loads(baseline.read_text(encoding="utf-8"))
    pytester.runpytest("--run-evals", "--eval-baseline", str(baseline), "-q"
                                  ).assert_outcomes(passed=3)
    data["summary"]["MRR"]["mean"] = 1.5  # a baseline better than anything possible
    baseline.write_text(json.dumps(data), encoding="utf-8")
    result = pytester.runpytest("--run-evals", "--eval-baseline", str(baseline),
                                           "--eval-tolerance", "0.1", "-q")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*evaluation 'rag' regressed against the baseline:*",
                                 "*MRR: 1.500 -> 1.000 (-0.500)  REGRESSION*",
                                 "*against the baseline: REGRESSED: MRR"])


INTERRUPTED = """
import asyncio, os, signal
import pytest

async def target(question):
    if question.startswith("Second"):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the second question is answered
        await asyncio.sleep(60)
    return {"answer": "The answer is stated.", "sources": [
        {"id": "c1", "text": "The answer is stated here.", "metadata": {}}]}

@pytest.mark.eval
def test_stopped(rag_eval):
    rag_eval(target, "data.jsonl", metrics=["faithfulness", "retrieval"], name="rag")
"""


def test_an_evaluation_stopped_by_ctrl_c_is_reported_as_partial(pytester: pytest.Pytester) -> None:
    _project(pytester, 1, "supported")
    pytester.makepyfile(test_stopped=INTERRUPTED)
    result = pytester.runpytest_subprocess("--run-evals", "--eval-report", "out",
                                           "test_stopped.py")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "*rag (partial: interrupted while answering: 1 of 2 samples answered, 0 of 2 judge "
        "scores done): 1 samples; faithfulness=n/a, recall@5=1.000*",
        "report written: out*eval.html"])
    data = json.loads((pytester.path / "out" / "eval.json").read_text(encoding="utf-8"))
    assert data["partial"] == {"reason": "interrupted", "phase": "answering", "samples": 2,
                               "answered": 1, "scores": 2, "scored": 0}
    assert [s["question"] for s in data["samples"]] == ["First question?"]
    assert "Partial report" in (pytester.path / "out" / "eval.html").read_text(encoding="utf-8")
