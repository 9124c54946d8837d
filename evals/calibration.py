"""Judge calibration: how often the judge's faithfulness verdict agrees with human labels.

``evals/data/faithfulness_calibration.jsonl`` holds 96 hand-written (question, context,
answer, faithful yes/no) items of the kinds RAG answers go wrong in - changed numbers and
dates, swapped names, negations, added and partly supported claims - and faithful
paraphrases and refusals; 38 of them are a held-out split written before any judge was tuned.
A user's own JSONL of the same fields works too. :func:`calibrate` scores each item with the
harness's own faithfulness metric (``faithfulness_judge`` picks grounded or llm) and calls an
answer faithful when its score reaches ``threshold`` (default 1.0: every claim supported,
which is what the label says). The report gives agreement overall, per class, per split and
per kind, precision and recall of "unfaithful" and the confusion table, so a report can say
how far to trust its scores. An answer that only declines to answer (not scorable:
``refusal``) claims nothing, so it counts as faithful; any other item the judge cannot score
counts as a disagreement and is counted separately.

Example:
    >>> len(load_calibration_set()) >= 30
    True
    >>> report = calibrate(limit=2)                       # doctest: +SKIP
    >>> report.faithfulness_judge, report.accuracy        # doctest: +SKIP
    ('grounded', 1.0)
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
from localchain.evals.results import JudgeUsage, NotScorable, NotScorableKind

__all__ = [
    "CALIBRATION_SET",
    "CalibrationItem",
    "CalibrationOutcome",
    "CalibrationReport",
    "Confusion",
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
    split: str = "dev"
    kind: str = ""
    predicted: bool | None = None
    """None when the judge could not score the item."""
    score: float | None = None
    not_scorable: NotScorable | None = None
    reason: str = ""

    @property
    def agrees(self) -> bool:
        """True when the judge's verdict equals the label."""
        return self.predicted is not None and self.predicted == self.label


class Confusion(BaseModel):
    """The confusion table of "unfaithful" (the class a judge is there to catch).

    Example:
        >>> table = Confusion(caught=8, missed=2, false_alarms=1, passed=9)
        >>> table.precision, table.recall
        (0.889, 0.8)
    """

    caught: int = 0
    """Unfaithful items the judge called unfaithful (true positives)."""
    missed: int = 0
    """Unfaithful items the judge called faithful, or could not score."""
    false_alarms: int = 0
    """Faithful items the judge called unfaithful."""
    passed: int = 0
    """Faithful items the judge called faithful."""
    not_scored: int = 0
    """Faithful items the judge could not score."""

    @property
    def precision(self) -> float:
        """Of the items called unfaithful, the share that are (0 when none was called)."""
        called = self.caught + self.false_alarms
        return round(self.caught / called, 3) if called else 0.0

    @property
    def recall(self) -> float:
        """Of the unfaithful items, the share the judge caught."""
        unfaithful = self.caught + self.missed
        return round(self.caught / unfaithful, 3) if unfaithful else 0.0

    def rows(self) -> list[str]:
        """The table as text lines."""
        return [
            "                 judged unfaithful  judged faithful  not scored",
            f"label unfaithful {self.caught:>17}  {self.missed:>15}  {'(in missed)':>10}",
            f"label faithful   {self.false_alarms:>17}  {self.passed:>15}  {self.not_scored:>10}",
        ]


class CalibrationReport(BaseModel):
    """Agreement of a judge with the labels.

    Example:
        >>> CalibrationReport(judge_model="m", n=2, accuracy=0.5).summary_line()
        'judge m (llm): agreement 0.50 on 2 items (faithful 0.00, unfaithful 0.00; not scorable 0)'
    """

    judge_model: str
    faithfulness_judge: str = "llm"
    """``grounded`` or ``llm``: who scored faithfulness (see ``EvalSettings``)."""
    n: int = 0
    n_faithful: int = 0
    n_unfaithful: int = 0
    accuracy: float = 0.0
    """Share of items where the verdict equals the label (not scorable counts as wrong)."""
    per_class: dict[str, float] = Field(default_factory=lambda: {"faithful": 0.0,
                                                                 "unfaithful": 0.0})
    """Agreement on the faithful items and on the unfaithful items."""
    per_split: dict[str, float] = Field(default_factory=dict)
    """Agreement per split (``dev``, ``heldout``)."""
    per_kind: dict[str, float] = Field(default_factory=dict)
    """Agreement per kind of item."""
    confusion: Confusion = Field(default_factory=Confusion)
    precision_unfaithful: float = 0.0
    recall_unfaithful: float = 0.0
    n_not_scorable: int = 0
    threshold: float = 1.0
    seconds: float = 0.0
    seconds_per_item: float = 0.0
    judge: JudgeUsage = Field(default_factory=JudgeUsage)
    dataset: str = ""
    outcomes: list[CalibrationOutcome] = Field(default_factory=list)

    def summary_line(self) -> str:
        """One line for a terminal or a log."""
        return (f"judge {self.judge_model} ({self.faithfulness_judge}): agreement "
                f"{self.accuracy:.2f} on {self.n} items (faithful "
                f"{self.per_class.get('faithful', 0.0):.2f}, unfaithful "
                f"{self.per_class.get('unfaithful', 0.0):.2f}; not scorable "
                f"{self.n_not_scorable})")

    def text(self) -> str:
        """The summary line, the splits, precision and recall, and the confusion table."""
        lines = [self.summary_line()]
        if self.per_split:
            lines.append("by split: " + ", ".join(f"{k} {v:.2f}"
                                                  for k, v in self.per_split.items()))
        lines.append(f'"unfaithful": precision {self.precision_unfaithful:.2f}, recall '
                     f"{self.recall_unfaithful:.2f}")
        lines.extend(self.confusion.rows())
        return "\n".join(lines)


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
    threshold: float = 1.0,
    limit: int | None = None,
    split: str | None = None,
    faithfulness_judge: str | None = None,
    settings: EvalSettings | None = None,
    progress: bool = True,
) -> CalibrationReport:
    """Run the judge's faithfulness metric on a labelled set and measure agreement.

    ``items``: a list, a JSONL path (question, context, answer, faithful; split and kind
    optional), or None for the shipped set. ``limit`` keeps the first ``limit`` items of
    each class (a quick check); ``split`` keeps one split (``dev`` or ``heldout``).
    ``faithfulness_judge`` (``auto``, ``grounded``, ``llm``) overrides the settings'.

    Example:
        >>> calibrate(limit=1).n                              # doctest: +SKIP
        2
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    source = str(items) if isinstance(items, str | Path) else str(CALIBRATION_SET)
    chosen = items if isinstance(items, list) else load_calibration_set(items)
    if split is not None:
        chosen = [i for i in chosen if i.split == split]
        if not chosen:
            raise EvalDatasetError(source, f"no items in split {split!r}")
    if limit is not None:
        chosen = ([i for i in chosen if i.faithful][:limit]
                  + [i for i in chosen if not i.faithful][:limit])
    the_judge = as_judge(judge)
    run_settings = (settings or EvalSettings()).model_copy()
    if faithfulness_judge is not None:
        run_settings = run_settings.model_copy(update={"faithfulness_judge": faithfulness_judge})
    rows = [{"id": i.id, "question": i.question, "answer": i.answer, "contexts": [i.context]}
            for i in chosen]
    result = evaluate_rag(None, rows, metrics=["faithfulness"], judge=the_judge,
                          settings=run_settings, progress=progress)
    outcomes = []
    for item, sample in zip(chosen, result.samples, strict=True):
        score = sample.scores["faithfulness"]
        predicted = None if score.value is None else score.value >= threshold - 1e-9
        if score.not_scorable is not None and score.not_scorable.kind == NotScorableKind.REFUSAL:
            predicted = True  # a refusal claims nothing, so it claims nothing unfaithful
        outcomes.append(CalibrationOutcome(
            id=item.id, label=item.faithful, split=item.split, kind=item.kind,
            predicted=predicted, score=score.value, not_scorable=score.not_scorable,
            reason=score.reason))

    def agreement(group: list[CalibrationOutcome]) -> float:
        return round(sum(o.agrees for o in group) / len(group), 3) if group else 0.0

    faithful = [o for o in outcomes if o.label]
    unfaithful = [o for o in outcomes if not o.label]
    confusion = Confusion(
        caught=sum(o.predicted is False for o in unfaithful),
        missed=sum(o.predicted is not False for o in unfaithful),
        false_alarms=sum(o.predicted is False for o in faithful),
        passed=sum(o.predicted is True for o in faithful),
        not_scored=sum(o.predicted is None for o in faithful),
    )
    used = (result.metadata.settings.get("faithfulness") or {}).get("judge", "llm")
    return CalibrationReport(
        judge_model=the_judge.model_name,
        faithfulness_judge=used,
        n=len(outcomes),
        n_faithful=len(faithful),
        n_unfaithful=len(unfaithful),
        accuracy=agreement(outcomes),
        per_class={"faithful": agreement(faithful), "unfaithful": agreement(unfaithful)},
        per_split={name: agreement([o for o in outcomes if o.split == name])
                   for name in dict.fromkeys(o.split for o in outcomes)},
        per_kind={name: agreement([o for o in outcomes if o.kind == name])
                  for name in sorted({o.kind for o in outcomes if o.kind})},
        confusion=confusion,
        precision_unfaithful=confusion.precision,
        recall_unfaithful=confusion.recall,
        n_not_scorable=sum(o.predicted is None for o in outcomes),
        threshold=threshold,
        seconds=result.metadata.seconds,
        seconds_per_item=round(result.metadata.seconds / len(outcomes), 3) if outcomes else 0.0,
        judge=result.metadata.judge,
        dataset=source,
        outcomes=outcomes,
    )
