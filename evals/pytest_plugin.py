"""pytest plugin: RAG evaluations as tests (registered as the ``localchain`` pytest11 plugin).

Fixtures:

* ``judge`` (session): the :class:`~localchain.evals.ConstrainedJudge` evaluations use;
  the embedded model by default. Override it in a ``conftest.py`` to judge with another model.
* ``rag_eval`` (session): ``rag_eval(target, dataset, metrics=None, name=None, **options)``
  evaluates once per session and returns the cached :class:`~localchain.evals.EvalResult`
  to every test that asks again with the same arguments.
* ``assert_scores``: ``assert_scores(result, faithfulness=0.7, ...)`` fails with the metric
  means, the not-scorable counts and the worst samples with the judge's reasons.

Options: ``--run-evals`` (tests marked ``@pytest.mark.eval`` are deselected without it or
``-m eval``), ``--eval-report PATH`` (JSON + HTML reports at the end of the session),
``--eval-baseline PATH`` and ``--eval-tolerance X`` (a test whose evaluation regressed
against the baseline report fails), ``--eval-calibration PATH`` (the judge's calibration,
stated in the reports), ``--eval-faithfulness-judge grounded|llm|auto`` (who scores
faithfulness; see ``EvalSettings.faithfulness_judge``). An evaluation stopped by Ctrl-C is still reported, marked partial.

Example (a test file)::

    import pytest

    @pytest.mark.eval
    def test_rag_quality(rag_eval, assert_scores):
        result = rag_eval(my_chain, "tests/data/rag.jsonl", metrics=["faithfulness", "retrieval"])
        assert_scores(result, faithfulness=0.6, **{"recall@5": 0.8})

This module imports only pytest at import time: it is loaded by every pytest run in an
environment where localchain is installed, and Ragas is slow to import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from localchain.evals.compare import Comparison
    from localchain.evals.results import EvalResult

__all__ = ["assert_scores", "format_failure"]

_STATE = pytest.StashKey["_EvalSession"]()


@dataclass
class _EvalSession:
    """What the session evaluated, by name, and how each compared with its baseline."""

    results: dict[str, EvalResult] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    keys: dict[Any, str] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("localchain-evals", "localchain RAG evaluations")
    group.addoption("--run-evals", action="store_true", default=False,
                    help="run tests marked @pytest.mark.eval (deselected by default)")
    group.addoption("--eval-report", metavar="PATH", default=None,
                    help="write JSON + HTML reports of the session's evaluations to PATH")
    group.addoption("--eval-baseline", metavar="PATH", default=None,
                    help="baseline JSON report (or folder); regressions beyond the tolerance fail")
    group.addoption("--eval-tolerance", metavar="X", type=float, default=0.05,
                    help="largest drop of a metric mean that is not a regression (default 0.05)")
    group.addoption("--eval-calibration", metavar="PATH", default=None,
                    help="the judge's calibration JSON (localchain eval calibrate --out) to "
                         "state in the reports")
    group.addoption("--eval-faithfulness-judge", choices=("auto", "grounded", "llm"),
                    default=None, help="who scores faithfulness: grounded (per-claim "
                    "evidence), llm (Ragas' LLM judge) or auto (grounded for the embedded "
                    "judge model; the default)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "eval: a RAG evaluation; deselected unless --run-evals or -m eval")
    config.stash[_STATE] = _EvalSession()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-evals") or re.search(r"\beval\b", config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("eval") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_failure(result: EvalResult, failures: Mapping[str, str], worst: int = 3) -> str:
    """The failure message: what failed, then the worst samples of each failing metric."""
    lines = ["RAG evaluation below thresholds:"]
    for metric, why in failures.items():
        lines.append(f"  {metric}: {why}")
    for metric in failures:
        if metric not in result.summary:
            continue
        lines.append(f"worst samples for {metric}:")
        for sample in result.worst(metric, worst):
            score = sample.scores[metric]
            shown = (f"{score.value:.3f}" if score.value is not None else
                     f"not scorable ({score.not_scorable.kind.value}: "  # type: ignore[union-attr]
                     f"{_short(score.not_scorable.detail, 120)})")  # type: ignore[union-attr]
            lines.append(f"  #{sample.index + 1} {_short(sample.question, 80)!r}: {shown}")
            lines.append(f"     answer: {_short(sample.answer or '(none)', 120)!r}")
            for reason in (score.reason or "(no judge reasons recorded)").splitlines()[:4]:
                lines.append(f"     reason: {_short(reason, 160)}")
    return "\n".join(lines)


def assert_scores(
    result: EvalResult,
    thresholds: Mapping[str, float] | None = None,
    *,
    max_not_scorable: int | None = None,
    worst: int = 3,
    **minimums: float,
) -> None:
    """Fail unless each named metric's mean reaches its minimum.

    Metric names that are not identifiers (``recall@5``) go in ``thresholds``. A metric
    with no scored sample fails; ``max_not_scorable`` bounds the not-scorable scores of the
    named metrics. The message lists the worst samples and the judge's reasons.

    Example:
        >>> from localchain.evals.results import EvalResult, MetricSummary
        >>> result = EvalResult(summary={"MRR": MetricSummary(metric="MRR", mean=0.9, n_scored=2)})
        >>> assert_scores(result, {"MRR": 0.8})
    """
    wanted = {**(thresholds or {}), **minimums}
    if not wanted:
        raise ValueError("name at least one metric and its minimum, e.g. faithfulness=0.7")
    failures: dict[str, str] = {}
    for metric, minimum in wanted.items():
        summary = result.summary.get(metric)
        if summary is None:
            failures[metric] = f"not in this result (it has: {', '.join(result.summary)})"
            continue
        counts = (f"scored {summary.n_scored}, not scorable {summary.n_not_scorable}"
                  + (f": {summary.not_scorable_kinds}" if summary.not_scorable_kinds else ""))
        if summary.mean is None:
            failures[metric] = f"no sample was scored ({counts})"
        elif summary.mean < minimum:
            failures[metric] = f"mean {summary.mean:.3f} < {minimum:g} ({counts})"
        elif max_not_scorable is not None and summary.n_not_scorable > max_not_scorable:
            failures[metric] = f"{summary.n_not_scorable} not scorable > {max_not_scorable}"
    if failures:
        __tracebackhide__ = True
        pytest.fail(format_failure(result, failures, worst), pytrace=False)


@pytest.fixture(name="assert_scores")
def _assert_scores_fixture() -> Callable[..., None]:
    """The :func:`assert_scores` helper, as a fixture."""
    return assert_scores


@pytest.fixture(scope="session")
def judge() -> Any:
    """The judge of the session's evaluations: the embedded model, schema-constrained."""
    from localchain.evals.judge import ConstrainedJudge

    return ConstrainedJudge()


@pytest.fixture(scope="session")
def rag_eval(request: pytest.FixtureRequest) -> Callable[..., EvalResult]:
    """``rag_eval(target, dataset, metrics=None, name=None, **options)`` -> cached result.

    ``options`` go to :func:`~localchain.evals.evaluate_rag` (``judge``, ``embeddings``,
    ``settings``, ``progress``); without ``judge`` the ``judge`` fixture is used when a
    metric needs one.
    """
    state: _EvalSession = request.config.stash[_STATE]

    def run(target: Any, dataset: Any, metrics: Sequence[str] | None = None,
            name: str | None = None, **options: Any) -> EvalResult:
        from localchain.evals.compare import compare_runs, load_baseline
        from localchain.evals.dataset import load_dataset
        from localchain.evals.harness import EvalInterrupted, evaluate_rag
        from localchain.evals.metrics import JUDGE_METRICS, resolve_metrics

        key = (id(target), str(dataset) if isinstance(dataset, str | Path) else id(dataset),
               tuple(metrics) if metrics is not None else None, name)
        if key not in state.keys:
            samples = load_dataset(dataset)
            if options.get("judge") is None:
                chosen = resolve_metrics(
                    metrics, has_reference=any(s.reference for s in samples),
                    has_judgments=any(s.has_judgments for s in samples),
                    k=getattr(options.get("settings"), "k", 5))
                if set(chosen) & set(JUDGE_METRICS):
                    options["judge"] = request.getfixturevalue("judge")
            options.setdefault("progress", False)
            chosen_judge = request.config.getoption("--eval-faithfulness-judge")
            if chosen_judge is not None:
                from localchain.evals.harness import EvalSettings

                options["settings"] = (options.get("settings") or EvalSettings()).model_copy(
                    update={"faithfulness_judge": chosen_judge})
            calibration = request.config.getoption("--eval-calibration")
            if calibration and "calibration" not in options:
                text = Path(calibration).read_text(encoding="utf-8")
                options["calibration"] = {k: v for k, v in json.loads(text).items()
                                          if k != "outcomes"}
            label = name or f"eval-{len(state.results) + 1}"
            try:
                result = evaluate_rag(target, dataset, metrics, **options)
            except EvalInterrupted as stopped:
                # Ctrl-C ends the session; what was scored is still written at its end.
                state.results[label] = stopped.result
                raise
            state.keys[key] = label
            state.results[label] = result
            baseline = request.config.getoption("--eval-baseline")
            if baseline:
                state.comparisons[label] = compare_runs(
                    result, load_baseline(_located(Path(baseline), label, state)),
                    tolerance=request.config.getoption("--eval-tolerance"))
        label = state.keys[key]
        comparison = state.comparisons.get(label)
        if comparison is not None and comparison.regressions:
            pytest.fail(f"evaluation {label!r} regressed against the baseline:\n"
                        f"{comparison.describe()}", pytrace=False)
        return state.results[label]

    return run


def _located(path: Path, label: str, state: _EvalSession) -> Path:
    """A run's own file in a report folder of several runs, else the path itself."""
    nested = path / label
    return nested if nested.is_dir() else path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(_STATE, None)
    target = config.getoption("--eval-report", None)
    if state is None or not target or not state.results:
        return
    from localchain.evals.report import write_reports

    several = len(state.results) > 1
    for label, result in state.results.items():
        where = Path(target) / label if several else Path(target)
        paths = write_reports(result, where, comparison=state.comparisons.get(label))
        state.written.extend(paths.values())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.results:
        return
    terminalreporter.section("localchain evals")
    for label, result in state.results.items():
        means = ", ".join(f"{m}={v:.3f}" if v is not None else f"{m}=n/a"
                          for m, v in result.means().items())
        usage = result.metadata.judge
        partial = getattr(result, "partial", None)
        stopped = f" (partial: {partial.describe()})" if partial is not None else ""
        terminalreporter.write_line(
            f"{label}{stopped}: {len(result.samples)} samples; {means}; not scorable "
            f"{result.not_scorable_count}; judge {result.metadata.judge_model} "
            f"{usage.calls} calls, {usage.seconds:.1f} s")
        comparison = state.comparisons.get(label)
        if comparison is not None:
            verdict = "REGRESSED: " + ", ".join(comparison.regressions) if not comparison.ok \
                else "no regression"
            terminalreporter.write_line(f"  against the baseline: {verdict}")
    for path in state.written:
        terminalreporter.write_line(f"report written: {path}")
