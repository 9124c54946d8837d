"""Compare a run with a baseline run: per-metric deltas, regressions beyond a tolerance.

A metric regresses when its mean drops by more than ``tolerance`` (absolute), or when
more of its samples are not scorable than in the baseline (by more than
``not_scorable_tolerance``). Metrics present on one side only are listed, not flagged.

Example:
    >>> from localchain.evals.results import EvalResult, MetricSummary
    >>> def run(mean):
    ...     return EvalResult(summary={"faithfulness": MetricSummary(metric="faithfulness", mean=mean, n_scored=4)})
    >>> comparison = compare_runs(run(0.6), run(0.8), tolerance=0.05)
    >>> comparison.regressions, round(comparison.deltas["faithfulness"].delta, 2)
    (['faithfulness'], -0.2)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from localchain.evals.results import EvalResult

__all__ = ["Comparison", "MetricDelta", "compare_runs", "load_baseline"]


class MetricDelta(BaseModel):
    """One metric, now and in the baseline.

    Example:
        >>> MetricDelta(metric="MRR", current=0.5, baseline=0.5, delta=0.0).regressed
        False
    """

    metric: str
    current: float | None = None
    baseline: float | None = None
    delta: float | None = None
    """current - baseline (None when either mean is missing)."""
    not_scorable_current: int = 0
    not_scorable_baseline: int = 0
    regressed: bool = False
    why: str = ""


class Comparison(BaseModel):
    """The deltas of every metric and the names of those that regressed.

    Example:
        >>> Comparison().ok
        True
    """

    tolerance: float = 0.05
    deltas: dict[str, MetricDelta] = Field(default_factory=dict)
    regressions: list[str] = Field(default_factory=list)
    only_in_current: list[str] = Field(default_factory=list)
    only_in_baseline: list[str] = Field(default_factory=list)
    baseline_started_at: str = ""

    @property
    def ok(self) -> bool:
        """True when no metric regressed."""
        return not self.regressions

    def describe(self) -> str:
        """One line per metric, regressions marked."""
        lines = []
        for delta in self.deltas.values():
            shown = "n/a" if delta.delta is None else f"{delta.delta:+.3f}"
            mark = f"  REGRESSION: {delta.why}" if delta.regressed else ""
            lines.append(f"{delta.metric}: {_fmt(delta.baseline)} -> {_fmt(delta.current)} "
                         f"({shown}){mark}")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def compare_runs(
    current: EvalResult,
    baseline: EvalResult,
    *,
    tolerance: float = 0.05,
    not_scorable_tolerance: int = 0,
) -> Comparison:
    """Per-metric deltas of ``current`` against ``baseline``; regressions flagged.

    Example:
        >>> from localchain.evals.results import MetricSummary
        >>> def run(mean):
        ...     summary = MetricSummary(metric="MRR", mean=mean, n_scored=10)
        ...     return EvalResult(summary={"MRR": summary})
        >>> compare_runs(run(0.72), run(0.75), tolerance=0.05).regressions
        []
        >>> compare_runs(run(0.60), run(0.75), tolerance=0.05).regressions
        ['MRR']
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    comparison = Comparison(tolerance=tolerance,
                            baseline_started_at=baseline.metadata.started_at)
    for name, now in current.summary.items():
        before = baseline.summary.get(name)
        if before is None:
            comparison.only_in_current.append(name)
            continue
        delta = MetricDelta(metric=name, current=now.mean, baseline=before.mean,
                            not_scorable_current=now.n_not_scorable,
                            not_scorable_baseline=before.n_not_scorable)
        reasons = []
        if now.mean is not None and before.mean is not None:
            delta.delta = now.mean - before.mean
            if delta.delta < -tolerance:
                reasons.append(f"mean fell by {-delta.delta:.3f} (tolerance {tolerance:g})")
        elif before.mean is not None:
            reasons.append("no sample was scored in this run")
        extra = now.n_not_scorable - before.n_not_scorable
        if extra > not_scorable_tolerance:
            reasons.append(f"{extra} more sample(s) not scorable")
        delta.regressed = bool(reasons)
        delta.why = "; ".join(reasons)
        comparison.deltas[name] = delta
        if delta.regressed:
            comparison.regressions.append(name)
    comparison.only_in_baseline = [n for n in baseline.summary if n not in current.summary]
    return comparison


def load_baseline(path: str | Path) -> EvalResult:
    """A baseline run from a JSON report (a file, or a report folder with ``eval.json``).

    Example:
        >>> load_baseline("missing.json")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no baseline report at missing.json
    """
    source = Path(path)
    if source.is_dir():
        source = source / "eval.json"
    if not source.is_file():
        raise FileNotFoundError(f"no baseline report at {source}")
    return EvalResult.read_json(source)
