"""Judge calibration: how often the judge's faithfulness verdict agrees with human labels.

``evals/data/faithfulness_calibration.jsonl`` holds hand-written (question, context,
answer, faithful yes/no) items, half of them unfaithful (the answer contradicts the
context). :func:`calibrate` scores each with the harness's own faithfulness metric and
calls an answer faithful when its score reaches ``threshold``; the report gives accuracy,
agreement per class, and the judge model, so a report can say how far to trust its scores.
An item the judge cannot score counts as a disagreement and is counted separately.

Example:
    >>> len(load_calibration_set()) >= 30
    True
    >>> report = calibrate(limit=2)                       # doctest: +SKIP
    >>> report.judge_model, report.accuracy               # doctest: +SKIP
    ('SmolLM2-135M-Instruct.Q4_1', 0.5)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from localchain.errors import EvalDatasetError
from localchain.evals.harness import EvalSettings, evaluate_rag
from localchain.evals.judge import ConstrainedJudge, as_judge
from localchain.evals.results import JudgeUsage, NotScorable

__all__ = [
    "CALIBRATION_SET",
    "CalibrationItem",
    "CalibrationOutcome",
    "CalibrationReport",
    "calibrate",
    "load_calibration_set",
]

CALIBRATION_SET = Path(__file__).parent / "data" / "faithfulness_calibration.jsonl"
"""The labelled set shipped with localchain."""


class CalibrationItem(BaseModel):
    """One labelled item.

    Example:
        >>> CalibrationItem(id="x", question="q", context="c", answer="a", faithful=True).faithful
        True
    """

    id: str
    question: str
    context: str
    answer: str
    faithful: bool
    """The human label: every claim of the answer is supported by the context."""
    split: Literal["dev", "heldout"] = "dev"
    """``heldout`` items were written before any judge was tuned and are never tuned on."""
    kind: str = ""
    """What the item tests (``number``, ``date``, ``name``, ``negation``, ``added_claim``,
    ``partial``, ``paraphrase``, ``refusal``, ...); free text in a user's own set."""


class CalibrationOutcome(BaseModel):
    """The judge's verdict on one item."""

    id: str
    label: bool
    predicted: bool | None = None
    """None when the judge could not score the item."""
    score: float | None = None
    not_scorable: NotScorable | None = None
    reason: str = ""

    @property
    def agrees(self) -> bool:
        """True when the judge's verdict equals the label."""
        return self.predicted is not None and self.predicted == self.label


class CalibrationReport(BaseModel):
    """Agreement of a judge with the labels.

    Example:
        >>> CalibrationReport(judge_model="m", n=2, accuracy=0.5).summary_line()
        'judge m: agreement 0.50 on 2 items (faithful 0.00, unfaithful 0.00; not scorable 0)'
    """

    judge_model: str
    n: int = 0
    n_faithful: int = 0
    n_unfaithful: int = 0
    accuracy: float = 0.0
    """Share of items where the verdict equals the label (not scorable counts as wrong)."""
    per_class: dict[str, float] = Field(default_factory=lambda: {"faithful": 0.0,
                                                                 "unfaithful": 0.0})
    """Agreement on the faithful items and on the unfaithful items."""
    n_not_scorable: int = 0
    threshold: float = 0.5
    seconds: float = 0.0
    judge: JudgeUsage = Field(default_factory=JudgeUsage)
    dataset: str = ""
    outcomes: list[CalibrationOutcome] = Field(default_factory=list)

    def summary_line(self) -> str:
        """One line for a terminal or a log."""
        return (f"judge {self.judge_model}: agreement {self.accuracy:.2f} on {self.n} items "
                f"(faithful {self.per_class.get('faithful', 0.0):.2f}, unfaithful "
                f"{self.per_class.get('unfaithful', 0.0):.2f}; not scorable "
                f"{self.n_not_scorable})")


def load_calibration_set(path: str | Path | None = None) -> list[CalibrationItem]:
    """The labelled items of a JSONL file (default: the shipped set).

    Example:
        >>> items = load_calibration_set()
        >>> sum(not i.faithful for i in items) * 2 >= len(items)
        True
    """
    source = Path(path) if path is not None else CALIBRATION_SET
    if not source.is_file():
        raise EvalDatasetError(str(source), "no such file")
    items = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(CalibrationItem.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise EvalDatasetError(str(source), f"not a calibration item ({reason})",
                                   line=number) from None
    if not items:
        raise EvalDatasetError(str(source), "the calibration set has no items")
    return items


def calibrate(
    judge: ConstrainedJudge | BaseChatModel | None = None,
    items: list[CalibrationItem] | str | Path | None = None,
    *,
    threshold: float = 0.5,
    limit: int | None = None,
    settings: EvalSettings | None = None,
    progress: bool = True,
) -> CalibrationReport:
    """Run the judge's faithfulness metric on the labelled set and measure agreement.

    ``limit`` keeps the first ``limit`` items of each class (a quick check).

    Example:
        >>> calibrate(limit=1).n                              # doctest: +SKIP
        2
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    source = str(items) if isinstance(items, str | Path) else str(CALIBRATION_SET)
    chosen = items if isinstance(items, list) else load_calibration_set(items)
    if limit is not None:
        chosen = ([i for i in chosen if i.faithful][:limit]
                  + [i for i in chosen if not i.faithful][:limit])
    the_judge = as_judge(judge)
    rows = [{"id": i.id, "question": i.question, "answer": i.answer, "contexts": [i.context]}
            for i in chosen]
    result = evaluate_rag(None, rows, metrics=["faithfulness"], judge=the_judge,
                          settings=settings, progress=progress)
    outcomes = []
    for item, sample in zip(chosen, result.samples, strict=True):
        score = sample.scores["faithfulness"]
        predicted = None if score.value is None else score.value >= threshold
        outcomes.append(CalibrationOutcome(
            id=item.id, label=item.faithful, predicted=predicted, score=score.value,
            not_scorable=score.not_scorable, reason=score.reason))

    def agreement(group: list[CalibrationOutcome]) -> float:
        return sum(o.agrees for o in group) / len(group) if group else 0.0

    faithful = [o for o in outcomes if o.label]
    unfaithful = [o for o in outcomes if not o.label]
    return CalibrationReport(
        judge_model=the_judge.model_name,
        n=len(outcomes),
        n_faithful=len(faithful),
        n_unfaithful=len(unfaithful),
        accuracy=agreement(outcomes),
        per_class={"faithful": agreement(faithful), "unfaithful": agreement(unfaithful)},
        n_not_scorable=sum(o.predicted is None for o in outcomes),
        threshold=threshold,
        seconds=result.metadata.seconds,
        judge=result.metadata.judge,
        dataset=source,
        outcomes=outcomes,
    )
