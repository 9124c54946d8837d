"""Typed results of an evaluation run: per-sample scores or typed "not scorable" reasons.

A score is either a finite number or a :class:`NotScorable` with a :class:`NotScorableKind`
and a detail text, never NaN: the validators reject a NaN value, and a score with neither a
value nor a reason. Summaries count both.

Example:
    >>> score = MetricScore(metric="faithfulness", value=0.5, reason="1 of 2 statements supported")
    >>> lost = MetricScore(metric="faithfulness", not_scorable=NotScorable(
    ...     kind=NotScorableKind.NO_STATEMENTS, detail="the judge found no statements"))
    >>> summarize("faithfulness", [score, lost]).model_dump(include={"mean", "n_scored", "n_not_scorable"})
    {'mean': 0.5, 'n_scored': 1, 'n_not_scorable': 1}
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

__all__ = [
    "EvalResult",
    "JudgeUsage",
    "MetricScore",
    "MetricSummary",
    "NotScorable",
    "NotScorableKind",
    "RunMetadata",
    "SampleResult",
    "summarize",
]


class NotScorableKind(StrEnum):
    """Why a sample got no score for a metric.

    Example:
        >>> lost = NotScorable(kind=NotScorableKind.EMPTY_ANSWER, detail="the target said nothing")
        >>> lost.kind == "empty_answer"                 # a str, as written to the JSON report
        True
    """

    NO_STATEMENTS = "no_statements"
    """The judge found no statements (or claims) in the text to check."""
    NO_VERDICTS = "no_verdicts"
    """The judge returned an empty list of verdicts."""
    EMPTY_ANSWER = "empty_answer"
    """The target answered nothing (None or an empty string)."""
    NO_CONTEXTS = "no_contexts"
    """The target returned no contexts, and the metric reads them."""
    MISSING_REFERENCE = "missing_reference"
    """The metric compares with a reference answer and the sample has none."""
    NO_RELEVANCE_JUDGMENTS = "no_relevance_judgments"
    """A retrieval metric, and the sample lists no relevant ids."""
    TARGET_ERROR = "target_error"
    """The target raised an exception for this question."""
    JUDGE_TIMEOUT = "judge_timeout"
    """The judge took longer than the per-metric time limit."""
    JUDGE_OUTPUT = "judge_output"
    """The judge gave no answer that validates against the schema, after its retries."""
    PROMPT_TOO_LONG = "prompt_too_long"
    """The judge prompt does not fit the judge model's context window."""
    JUDGE_ERROR = "judge_error"
    """Any other failure of a judge call (the detail has the exception)."""
    REFUSAL = "refusal"
    """The answer only declines to answer ("I don't know"): it makes no claim to check."""
    LANGUAGE_MISMATCH = "language_mismatch"
    """The answer and the contexts are in different languages, which the judge cannot
    compare."""
    NOT_FINITE = "not_finite"
    """The metric computed NaN or infinity from what the judge said."""


class NotScorable(BaseModel):
    """Why one metric has no score for one sample.

    Example:
        >>> NotScorable(kind="missing_reference", detail="no reference answer").kind.value
        'missing_reference'
    """

    kind: NotScorableKind
    """The typed reason."""
    detail: str = ""
    """Human-readable detail (the exception text, what the judge returned)."""


class MetricScore(BaseModel):
    """One metric on one sample: a finite value, or why there is none.

    Example:
        >>> MetricScore(metric="MRR", value=0.5).scored
        True
    """

    metric: str
    value: float | None = None
    """The score, finite, usually in [0, 1]; None when not scorable."""
    reason: str = ""
    """The judge's reasons (verdicts and their explanations), or how the value was computed."""
    not_scorable: NotScorable | None = None
    """Set exactly when ``value`` is None."""
    judge_calls: int = 0
    """Judge calls made for this metric on this sample."""
    seconds: float = 0.0
    """Wall time spent scoring this metric on this sample."""

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("a score must be finite; give a NotScorable reason instead")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> MetricScore:
        if (self.value is None) == (self.not_scorable is None):
            raise ValueError("a score has either a value or a not_scorable reason, not both")
        return self

    @property
    def scored(self) -> bool:
        """True when the sample has a numeric score for this metric."""
        return self.value is not None


class SampleResult(BaseModel):
    """One dataset row, what the target returned for it, and its scores.

    Example:
        >>> SampleResult(index=0, question="q").answer is None
        True
    """

    index: int
    """Position in the dataset (0-based)."""
    id: str | None = None
    question: str
    answer: str | None = None
    contexts: list[str] = Field(default_factory=list)
    context_ids: list[str] = Field(default_factory=list)
    """Ids of the retrieved contexts (chunk or source ids), best first, when known."""
    reference: str | None = None
    relevant_ids: dict[str, float] = Field(default_factory=dict)
    """Relevance judgments: id -> grade (above 0 is relevant)."""
    target_error: str | None = None
    """The exception the target raised, if it did."""
    target_seconds: float = 0.0
    scores: dict[str, MetricScore] = Field(default_factory=dict)


class MetricSummary(BaseModel):
    """A metric over the whole run.

    Example:
        >>> summarize("x", [MetricScore(metric="x", value=1.0)]).mean
        1.0
    """

    metric: str
    mean: float | None = None
    """Mean over the scored samples; None when no sample was scored."""
    n_scored: int = 0
    n_not_scorable: int = 0
    not_scorable_kinds: dict[str, int] = Field(default_factory=dict)
    """Count per :class:`NotScorableKind` value."""
    minimum: float | None = None
    maximum: float | None = None


class JudgeUsage(BaseModel):
    """How much judging a run (or a judge) did.

    Example:
        >>> JudgeUsage(calls=3, seconds=1.5).calls
        3
    """

    calls: int = 0
    """generate() calls Ragas made (one per prompt)."""
    attempts: int = 0
    """Model invocations, retries included."""
    failures: int = 0
    """Calls that ended without a valid answer."""
    seconds: float = 0.0
    """Wall time inside judge calls (waiting for the model lock included)."""


class RunMetadata(BaseModel):
    """What was run, with what, when, and how long it took.

    Example:
        >>> RunMetadata(judge_model="SmolLM2").judge_model
        'SmolLM2'
    """

    judge_model: str | None = None
    embeddings_model: str | None = None
    target: str | None = None
    dataset: str | None = None
    metrics: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: str = ""
    """ISO 8601 time, UTC."""
    seconds: float = 0.0
    judge: JudgeUsage = Field(default_factory=JudgeUsage)
    calibration: dict[str, Any] | None = None
    """The judge's agreement on the labelled calibration set, when it was measured."""


class EvalResult(BaseModel):
    """The result of :func:`~localchain.evals.evaluate_rag`: samples, summaries, metadata.

    Example:
        >>> result = EvalResult(samples=[], summary={})
        >>> result.not_scorable_count
        0
    """

    metadata: RunMetadata = Field(default_factory=RunMetadata)
    summary: dict[str, MetricSummary] = Field(default_factory=dict)
    samples: list[SampleResult] = Field(default_factory=list)

    @property
    def not_scorable_count(self) -> int:
        """Scores that are typed "not scorable" reasons, over every metric and sample."""
        return sum(s.n_not_scorable for s in self.summary.values())

    def means(self) -> dict[str, float | None]:
        """Metric -> mean over the scored samples."""
        return {name: s.mean for name, s in self.summary.items()}

    def worst(self, metric: str, n: int = 3) -> list[SampleResult]:
        """The ``n`` samples with the lowest score for ``metric``, not-scorable ones first."""
        having = [s for s in self.samples if metric in s.scores]

        def key(sample: SampleResult) -> tuple[int, float]:
            value = sample.scores[metric].value
            return (0, 0.0) if value is None else (1, value)

        return sorted(having, key=key)[:n]

    def write_json(self, path: str | Path) -> Path:
        """Write every sample, score, reason and the metadata as JSON; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return target

    @classmethod
    def read_json(cls, path: str | Path) -> EvalResult:
        """Load a result written by :meth:`write_json` (a baseline, for example)."""
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def summarize(metric: str, scores: list[MetricScore]) -> MetricSummary:
    """Mean, counts and not-scorable kinds of one metric's scores."""
    values = [s.value for s in scores if s.value is not None]
    kinds: dict[str, int] = {}
    for score in scores:
        if score.not_scorable is not None:
            kinds[score.not_scorable.kind.value] = kinds.get(score.not_scorable.kind.value, 0) + 1
    return MetricSummary(
        metric=metric,
        mean=sum(values) / len(values) if values else None,
        n_scored=len(values),
        n_not_scorable=len(scores) - len(values),
        not_scorable_kinds=kinds,
        minimum=min(values) if values else None,
        maximum=max(values) if values else None,
    )
