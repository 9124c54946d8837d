"""``evaluate_rag``: run a RAG target over a dataset and score it, with no NaN.

Every (sample, metric) ends as a finite score with the judge's reasons, or as a typed
:class:`~localchain.evals.results.NotScorable`: an empty answer, no contexts, no reference,
no statements found, a judge that timed out or never produced a valid answer. Judge
metrics and retrieval metrics land in one :class:`~localchain.evals.results.EvalResult`.

Example:
    >>> rows = [{"question": "Where is the Eiffel Tower?", "relevant_ids": ["paris.md"]}]
    >>> def target(question):
    ...     return {"answer": "In Paris.", "sources": [
    ...         {"id": "c1", "text": "The Eiffel Tower is in Paris.", "metadata": {"source": "paris.md"}}]}
    >>> result = evaluate_rag(target, rows, metrics=["retrieval"], progress=False)
    >>> result.means()
    {'recall@5': 1.0, 'MRR': 1.0, 'MAP': 1.0, 'nDCG@5': 1.0}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
import math
import platform
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field
from ragas.embeddings.base import BaseRagasEmbedding
from tqdm.auto import tqdm

from localchain.errors import (
    ContextOverflowError,
    EvalDatasetError,
    JudgeOutputError,
    NotScorableError,
)
from localchain.evals.dataset import DatasetSource, EvalSample, load_dataset
from localchain.evals.judge import ConstrainedJudge, as_judge, judge_trace
from localchain.evals.metrics import (
    JUDGE_METRICS,
    empty_judgment,
    explain_calls,
    judge_metric_spec,
    ranked_ids,
    resolve_metrics,
    retrieval_scores,
)
from localchain.evals.results import (
    EvalResult,
    MetricScore,
    NotScorable,
    NotScorableKind,
    RunMetadata,
    SampleResult,
    summarize,
)
from localchain.evals.targets import Target, TargetOutput, arun_target, target_name

__all__ = [
    "EvalInterrupted",
    "EvalSettings",
    "PartialEvalResult",
    "PartialRun",
    "Progress",
    "aevaluate_rag",
    "evaluate_rag",
    "package_versions",
]

_K = NotScorableKind


class EvalSettings(BaseModel):
    """Settings of an evaluation run.

    Example:
        >>> EvalSettings(k=3, concurrency=2).metric_timeout_s
        300.0
    """

    k: int = Field(5, ge=1)
    """Cut-off of recall@k and nDCG@k."""
    concurrency: int | None = Field(None, ge=1)
    """(sample, metric) jobs in flight. None: as many as the judge decodes together (a
    llama.cpp judge loaded with ``n_parallel=N`` judges N statements at once; otherwise 1,
    as a local model answers one call at a time). Raise it for a remote judge."""
    metric_timeout_s: float = Field(300.0, gt=0)
    """Time limit for one metric on one sample; past it the score is ``judge_timeout``."""
    target_timeout_s: float = Field(300.0, gt=0)
    """Time limit for the target to answer one question."""
    strictness: int = Field(3, ge=1)
    """Questions answer relevancy generates back from each answer."""
    factual_mode: str = Field("f1", pattern="^(precision|recall|f1)$")
    """Factual correctness mode."""
    faithfulness_judge: Literal["auto", "grounded", "llm"] = "auto"
    """Who scores faithfulness: ``grounded`` (:class:`~localchain.evals.grounded.
    GroundedFaithfulness`: per-claim evidence from embeddings, word overlap and
    number / name / negation conflicts), ``llm`` (Ragas' Faithfulness, the judge model
    extracting and verifying statements), or ``auto``: grounded when the judge is the
    embedded model, llm for any other judge."""


def _parallel_of(*models: Any) -> int:
    """The most calls any of these models decodes together (1 when none says)."""
    from localchain.models.capabilities import capabilities

    found = [1]
    for model in models:
        # A judge holds its model as ``chat`` (ConstrainedJudge) or ``llm``.
        inner = getattr(model, "chat", None) or getattr(model, "llm", None) or model
        try:
            found.append(capabilities(inner).parallel)
        except Exception:  # noqa: BLE001 - a target that is not a model: 1
            continue
    return max(found)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the scores.

    Example:
        >>> "ragas" in package_versions()
        True
    """
    versions = {"python": platform.python_version()}
    for name in ("localchain", "ragas", "langchain-core", "llama-cpp-python", "pydantic",
                 "sentence-transformers"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _not(kind: NotScorableKind, detail: str, metric: str) -> MetricScore:
    return MetricScore(metric=metric, not_scorable=NotScorable(kind=kind, detail=detail))


async def _answer(target: Target | None, sample: EvalSample, timeout: float
                  ) -> tuple[TargetOutput, str | None, float]:
    started = time.perf_counter()
    if target is None:
        output = TargetOutput(answer=sample.answer, contexts=sample.contexts or [],
                              context_ids=sample.context_ids)
        return output, None, 0.0
    try:
        output = await asyncio.wait_for(arun_target(target, sample.question), timeout)
        return output, None, time.perf_counter() - started
    except TimeoutError:
        error = f"the target took longer than {timeout:g} s"
    except Exception as err:  # noqa: BLE001 - a failing target is reported per sample
        error = f"{type(err).__name__}: {err}"
    return TargetOutput(), error, time.perf_counter() - started


async def _judge_score(metric: str, ragas_metric: Any, sample: SampleResult,
                       settings: EvalSettings) -> MetricScore:
    spec = judge_metric_spec(metric)
    if sample.target_error is not None:
        return _not(_K.TARGET_ERROR, sample.target_error, metric)
    needs_answer = metric != "context_recall" and metric != "context_precision"
    if needs_answer and not (sample.answer or "").strip():
        return _not(_K.EMPTY_ANSWER, "the target's answer is empty or None", metric)
    if spec.needs_reference and not sample.reference:
        return _not(_K.MISSING_REFERENCE, "the row has no reference answer", metric)
    contexts = [c for c in sample.contexts if c.strip()]
    if spec.needs_contexts and not contexts:
        return _not(_K.NO_CONTEXTS, "the target returned no contexts", metric)
    started = time.perf_counter()
    own_reason = ""
    with judge_trace() as calls:
        try:
            arguments = spec.arguments(sample.question, sample.answer or "", contexts,
                                       sample.reference)
            result = await asyncio.wait_for(ragas_metric.ascore(**arguments),
                                            settings.metric_timeout_s)
            value, failure = float(result.value), None
            own_reason = getattr(result, "reason", None) or ""
        except NotScorableError as err:
            value, failure = None, NotScorable(kind=_K(err.kind), detail=err.detail)
            own_reason = err.reason
        except TimeoutError:
            value, failure = None, NotScorable(
                kind=_K.JUDGE_TIMEOUT,
                detail=f"no verdict within {settings.metric_timeout_s:g} s")
        except JudgeOutputError as err:
            value, failure = None, NotScorable(kind=_K.JUDGE_OUTPUT, detail=str(err))
        except ContextOverflowError as err:
            value, failure = None, NotScorable(kind=_K.PROMPT_TOO_LONG, detail=str(err))
        except Exception as err:  # noqa: BLE001 - one failing judge call must not end the run
            value, failure = None, NotScorable(kind=_K.JUDGE_ERROR,
                                               detail=f"{type(err).__name__}: {err}")
        recorded = list(calls)
    # A metric that explains itself (the grounded judge) gives its own reason.
    reason = own_reason or explain_calls(recorded)
    failure = failure or (None if own_reason else empty_judgment(metric, recorded))
    if failure is None and (value is None or not math.isfinite(value)):
        failure = NotScorable(kind=_K.NOT_FINITE, detail=f"the metric computed {value}")
    seconds = time.perf_counter() - started
    if failure is not None:
        return MetricScore(metric=metric, not_scorable=failure, reason=reason,
                           judge_calls=len(recorded), seconds=seconds)
    return MetricScore(metric=metric, value=value, reason=reason, judge_calls=len(recorded),
                       seconds=seconds)


Progress = bool | Literal["auto", "bars", "lines"]
"""How a run reports progress on stderr: ``"bars"`` (tqdm), ``"lines"`` (a line per
finished sample, for logs and pipes), ``"auto"`` or ``True`` (bars when stderr is a
terminal, else lines), ``False`` (nothing)."""


class PartialRun(BaseModel):
    """How far an interrupted run got: what a :class:`PartialEvalResult` covers.

    Example:
        >>> PartialRun(samples=3, answered=3, scores=6, scored=2).describe()
        'interrupted while judging: 3 of 3 samples answered, 2 of 6 judge scores done'
    """

    reason: str = "interrupted"
    """Why the run stopped early (Ctrl-C is ``interrupted``)."""
    phase: Literal["answering", "judging"] = "judging"
    """What the run was doing: the target answering the questions, or the judge scoring."""
    samples: int
    """Rows in the dataset."""
    answered: int
    """Rows the target had answered (all of them when the dataset carries the answers)."""
    scores: int
    """(sample, judge metric) scores the run would have computed."""
    scored: int
    """Of those, the ones computed; the samples hold only these."""

    def describe(self) -> str:
        """One line for people: what was done before the run stopped."""
        return (f"{self.reason} while {self.phase}: {self.answered} of {self.samples} samples "
                f"answered, {self.scored} of {self.scores} judge scores done")


class PartialEvalResult(EvalResult):
    """The result of a run that stopped early: the samples answered so far with the scores
    computed so far; summaries count only those. Its reports say it is partial.

    Example:
        >>> partial = PartialEvalResult(partial=PartialRun(samples=2, answered=1, scores=2,
        ...                                                scored=1))
        >>> partial.partial.scored, partial.not_scorable_count
        (1, 0)
    """

    partial: PartialRun
    """How far the run got."""


class EvalInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`evaluate_rag`; ``result`` holds what was scored until then.

    A ``KeyboardInterrupt``, so code that does not look for it stops as before.

    Example:
        >>> stop = EvalInterrupted(PartialEvalResult(partial=PartialRun(
        ...     samples=3, answered=1, scores=3, scored=0, phase="answering")))
        >>> print(stop)
        interrupted while answering: 1 of 3 samples answered, 0 of 3 judge scores done
    """

    def __init__(self, result: PartialEvalResult) -> None:
        super().__init__(result.partial.describe())
        self.result = result


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Reporter:
    """Progress of a run on stderr: tqdm bars, or a line per finished sample."""

    def __init__(self, progress: Progress) -> None:
        if progress is True or progress == "auto":
            progress = "bars" if sys.stderr.isatty() else "lines"
        self.mode = progress or None
        self.started = time.perf_counter()
        self._bar: Any = None
        self._count = 0
        self._total = 0
        self._waiting: dict[int, int] = {}

    def _line(self, text: str) -> None:
        print(f"[eval {time.perf_counter() - self.started:6.1f} s] {text}", file=sys.stderr,
              flush=True)

    def phase(self, name: str, total: int, unit: str, detail: str) -> None:
        self.close()
        self._count, self._total = 0, total
        if self.mode == "bars" and total:
            self._bar = tqdm(total=total, desc=name, unit=unit)
        elif self.mode == "lines" and total:
            self._line(f"{name} {detail}")

    def answered(self, sample: SampleResult) -> None:
        self._count += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.mode == "lines":
            error = f"; target error: {_short(sample.target_error)}" if sample.target_error else ""
            self._line(f"answered {self._count}/{self._total} in {sample.target_seconds:.1f} s: "
                       f"{_short(sample.question)!r}{error}")

    def expect(self, samples: list[SampleResult], metrics: int) -> None:
        """Each sample is finished once ``metrics`` judge scores of it are in; the lines
        count samples (the bar counts scores)."""
        self._waiting = {id(s): metrics for s in samples}
        self._count, self._total = 0, len(samples)

    def scored(self, sample: SampleResult) -> None:
        if self._bar is not None:
            self._bar.update(1)
            return
        self._waiting[id(sample)] -= 1
        if self.mode != "lines" or self._waiting[id(sample)]:
            return
        self._count += 1
        shown = ", ".join(
            f"{m} {s.value:.3f}" if s.value is not None
            else f"{m} not scorable ({s.not_scorable.kind.value})"  # type: ignore[union-attr]
            for m, s in sample.scores.items())
        self._line(f"scored {self._count}/{self._total} (#{sample.index + 1} "
                   f"{_short(sample.question, 40)!r}): {shown}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@dataclass
class _Run:
    """One evaluation as it goes: what is known so far, from which a result is built, whole
    at the end or partial when the run is interrupted."""

    settings: EvalSettings
    calibration: dict[str, Any] | None
    target: Target | None
    name: str
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"))
    started: float = field(default_factory=time.perf_counter)
    samples: int = 0
    chosen: list[str] = field(default_factory=list)
    judged: list[str] = field(default_factory=list)
    judge: ConstrainedJudge | None = None
    embeddings: Any = None
    faithfulness: dict[str, Any] | None = None
    """How faithfulness was judged (grounded or llm, and the grounded judge's settings)."""
    answered: dict[int, SampleResult] = field(default_factory=dict)
    scored: int = 0
    phase: Literal["answering", "judging"] = "answering"
    partial: PartialEvalResult | None = None
    """Set when the run was cancelled: the samples and scores it had."""

    def result(self) -> EvalResult:
        samples = [self.answered[i] for i in sorted(self.answered)]
        for sample in samples:  # metric order as chosen, whatever order the jobs finished in
            sample.scores = {m: sample.scores[m] for m in self.chosen if m in sample.scores}
        the_judge = self.judge
        metadata = RunMetadata(
            judge_model=the_judge.model_name if the_judge else None,
            embeddings_model=getattr(self.embeddings, "model_name", None),
            target=target_name(self.target) or "answers and contexts from the dataset",
            dataset=self.name or None,
            metrics=self.chosen,
            settings={**self.settings.model_dump(),
                      "judge": the_judge.describe() if the_judge else None,
                      "faithfulness": self.faithfulness},
            versions=package_versions(),
            started_at=self.started_at,
            seconds=round(time.perf_counter() - self.started, 3),
            judge=the_judge.usage if the_judge else RunMetadata().judge,
            calibration=self.calibration,
        )
        summary = {m: summarize(m, [s.scores[m] for s in samples if m in s.scores])
                   for m in self.chosen}
        return EvalResult(metadata=metadata, summary=summary, samples=samples)

    def interrupted(self) -> PartialEvalResult:
        whole = self.result()
        partial = PartialRun(phase=self.phase, samples=self.samples, answered=len(self.answered),
                             scores=self.samples * len(self.judged), scored=self.scored)
        return PartialEvalResult(**dict(whole), partial=partial)


async def aevaluate_rag(
    target: Target | None,
    dataset: DatasetSource | Sequence[EvalSample],
    metrics: Sequence[str] | None = None,
    judge: ConstrainedJudge | BaseChatModel | None = None,
    embeddings: Embeddings | BaseRagasEmbedding | None = None,
    *,
    settings: EvalSettings | None = None,
    progress: Progress = True,
    calibration: dict[str, Any] | None = None,
) -> EvalResult:
    """The async form of :func:`evaluate_rag` (same arguments).

    A cancelled run raises ``CancelledError`` as usual; only :func:`evaluate_rag` turns
    Ctrl-C into :class:`EvalInterrupted` with the partial result.

    Example:
        >>> import asyncio
        >>> from langchain_core.documents import Document
        >>> def target(question):
        ...     france = Document("Paris is the capital of France.", metadata={"source": "fr.md"})
        ...     return {"answer": "Paris.", "contexts": [france]}
        >>> rows = [{"question": "Capital of France?", "relevant_ids": ["fr.md"]}]
        >>> result = asyncio.run(aevaluate_rag(target, rows, metrics=["MRR"], progress=False))
        >>> result.summary["MRR"].mean                   # retrieval metrics need no judge model
        1.0
    """
    run = _Run(settings=settings or EvalSettings(), calibration=calibration, target=target,
               name=(str(dataset) if isinstance(dataset, str | Path)
                     else f"{len(dataset)} rows given in code"))
    return await _evaluate(run, dataset, metrics, judge, embeddings, _Reporter(progress))


async def _evaluate(
    run: _Run,
    dataset: DatasetSource | Sequence[EvalSample],
    metrics: Sequence[str] | None,
    judge: ConstrainedJudge | BaseChatModel | None,
    embeddings: Embeddings | BaseRagasEmbedding | None,
    reporter: _Reporter,
) -> EvalResult:
    settings, target = run.settings, run.target
    if isinstance(dataset, Sequence) and dataset and isinstance(dataset[0], EvalSample):
        samples = list(dataset)  # type: ignore[arg-type]
    else:
        samples = load_dataset(dataset)  # type: ignore[arg-type]
    if target is None:
        for number, sample in enumerate(samples, 1):
            if not sample.precomputed:
                raise EvalDatasetError(
                    str(run.name or "<list>"),
                    f"row {number} has no 'answer' or 'contexts' and no target was given to "
                    "generate them; pass a target (or --store on the command line)",
                    field="answer")
    run.samples = len(samples)
    run.chosen = resolve_metrics(metrics, has_reference=any(s.reference for s in samples),
                                 has_judgments=any(s.has_judgments for s in samples),
                                 k=settings.k)
    run.judged = [m for m in run.chosen if m in JUDGE_METRICS]
    retrieval = [m for m in run.chosen if m not in JUDGE_METRICS]
    run.judge = as_judge(judge) if run.judged else None
    if "answer_relevancy" in run.judged:
        from localchain.evals.embeddings import as_ragas_embeddings

        run.embeddings = as_ragas_embeddings(embeddings)
    options: dict[str, Any] = {"strictness": settings.strictness,
                               "factual_mode": settings.factual_mode}
    if "faithfulness" in run.judged:
        from localchain.evals.grounded import resolve_faithfulness_judge

        options["faithfulness_judge"] = resolve_faithfulness_judge(
            settings.faithfulness_judge, run.judge)
        options["embeddings"] = embeddings
    built = {m: judge_metric_spec(m).build(run.judge, run.embeddings, options)
             for m in run.judged}
    if "faithfulness" in built:
        describe = getattr(built["faithfulness"], "describe", None)
        run.faithfulness = describe() if callable(describe) else {"judge": "llm"}
    if run.judge is not None:
        run.judge.reset_usage()
    gate = asyncio.Semaphore(settings.concurrency or _parallel_of(judge, target))

    async def answer(index: int, sample: EvalSample) -> None:
        async with gate:
            output, error, seconds = await _answer(target, sample, settings.target_timeout_s)
        result = SampleResult(
            index=index, id=sample.id, question=sample.question, answer=output.answer,
            contexts=output.contexts,
            context_ids=ranked_ids(output.context_ids, output.context_sources,
                                   sample.relevant_ids) if output.contexts else [],
            reference=sample.reference, relevant_ids=sample.relevant_ids,
            target_error=error, target_seconds=round(seconds, 3))
        result.scores.update(retrieval_scores(retrieval, result.context_ids,
                                              result.relevant_ids, settings.k))
        run.answered[index] = result
        if target is not None:
            reporter.answered(result)

    async def score(sample: SampleResult, metric: str) -> None:
        async with gate:
            sample.scores[metric] = await _judge_score(metric, built[metric], sample, settings)
        run.scored += 1
        reporter.scored(sample)

    try:
        if target is not None:
            reporter.phase("answering", len(samples), "q", f"{len(samples)} questions")
        await asyncio.gather(*(answer(i, s) for i, s in enumerate(samples)))
        run.phase = "judging"
        answered = [run.answered[i] for i in sorted(run.answered)]
        reporter.phase("judging", len(answered) * len(run.judged), "score",
                       f"{len(answered)} samples on {', '.join(run.judged)}")
        reporter.expect(answered, len(run.judged))
        await asyncio.gather(*(score(s, m) for s in answered for m in run.judged))
    except asyncio.CancelledError:
        run.partial = run.interrupted()
        raise
    finally:
        reporter.close()
    return run.result()


def evaluate_rag(
    target: Target | None,
    dataset: DatasetSource | Sequence[EvalSample],
    metrics: Sequence[str] | None = None,
    judge: ConstrainedJudge | BaseChatModel | None = None,
    embeddings: Embeddings | BaseRagasEmbedding | None = None,
    *,
    settings: EvalSettings | None = None,
    progress: Progress = True,
    calibration: dict[str, Any] | None = None,
) -> EvalResult:
    """Run ``target`` over ``dataset`` and score every sample; never a NaN.

    ``target``: a Runnable, a function of the question, or None when every row carries its
    own ``answer`` and ``contexts``. ``dataset``: a JSONL / JSON / CSV path or a list of
    dicts (see :mod:`localchain.evals.dataset`). ``metrics``: names (see
    :func:`~localchain.evals.metrics.resolve_metrics`); None picks what the data supports.
    ``judge``: a :class:`ConstrainedJudge` or any LangChain chat model; None is the embedded
    model. ``embeddings`` (answer relevancy): LangChain or Ragas embeddings; None is MiniLM.
    ``progress``: see :data:`Progress` (default: bars on a terminal, else a line per
    finished sample on stderr). ``calibration``: the judge's calibration report (a dict) to
    carry into the reports.

    Ctrl-C stops the run and raises :class:`EvalInterrupted`, whose ``result`` is a
    :class:`PartialEvalResult` with the samples and scores finished so far (a judge call
    under way is waited for).

    Example:
        >>> rows = [{"question": "What is 2 + 2?", "answer": "4", "contexts": ["2 + 2 = 4"]}]
        >>> result = evaluate_rag(None, rows, metrics=["faithfulness"])   # doctest: +SKIP
        >>> result.summary["faithfulness"].n_scored + result.summary["faithfulness"].n_not_scorable  # doctest: +SKIP
        1
    """
    run = _Run(settings=settings or EvalSettings(), calibration=calibration, target=target,
               name=(str(dataset) if isinstance(dataset, str | Path)
                     else f"{len(dataset)} rows given in code"))
    coroutine = _evaluate(run, dataset, metrics, judge, embeddings, _Reporter(progress))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            # asyncio.run turns Ctrl-C into a cancel of the run, which records what it has.
            return asyncio.run(coroutine)
        except KeyboardInterrupt as err:
            if run.partial is None:
                raise
            raise EvalInterrupted(run.partial) from err
    return _run_on_thread(coroutine, run)


def _run_on_thread(coroutine: Any, run: _Run) -> EvalResult:
    """Called from inside an event loop (a notebook, an async test): run on a thread of its
    own. Ctrl-C reaches this (the main) thread; it cancels the run on the other one."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    box: dict[str, Any] = {}
    # An Event, not Thread.join: a join interrupted by Ctrl-C can leave the thread marked as
    # finished while it runs (Python 3.11), and the partial result would be read too early.
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = loop.run_until_complete(task)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread below
            box["error"] = err
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            done.set()

    thread = threading.Thread(target=work, name="localchain-eval")
    thread.start()
    try:
        done.wait()
    except KeyboardInterrupt as err:
        loop.call_soon_threadsafe(task.cancel)
        done.wait()
        if run.partial is None:
            raise
        raise EvalInterrupted(run.partial) from err
    finally:
        if done.is_set():
            thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
