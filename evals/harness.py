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
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field
from ragas.embeddings.base import BaseRagasEmbedding
from tqdm.auto import tqdm

from localchain.errors import ContextOverflowError, EvalDatasetError, JudgeOutputError
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

__all__ = ["EvalSettings", "aevaluate_rag", "evaluate_rag", "package_versions"]

_K = NotScorableKind


class EvalSettings(BaseModel):
    """Settings of an evaluation run.

    Example:
        >>> EvalSettings(k=3, concurrency=2).metric_timeout_s
        300.0
    """

    k: int = Field(5, ge=1)
    """Cut-off of recall@k and nDCG@k."""
    concurrency: int = Field(1, ge=1)
    """(sample, metric) jobs in flight. A local judge serializes on its lock anyway; raise it
    for a remote judge."""
    metric_timeout_s: float = Field(300.0, gt=0)
    """Time limit for one metric on one sample; past it the score is ``judge_timeout``."""
    target_timeout_s: float = Field(300.0, gt=0)
    """Time limit for the target to answer one question."""
    strictness: int = Field(3, ge=1)
    """Questions answer relevancy generates back from each answer."""
    factual_mode: str = Field("f1", pattern="^(precision|recall|f1)$")
    """Factual correctness mode."""


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
    with judge_trace() as calls:
        try:
            arguments = spec.arguments(sample.question, sample.answer or "", contexts,
                                       sample.reference)
            result = await asyncio.wait_for(ragas_metric.ascore(**arguments),
                                            settings.metric_timeout_s)
            value, failure = float(result.value), None
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
    reason = explain_calls(recorded)
    failure = failure or empty_judgment(metric, recorded)
    if failure is None and (value is None or not math.isfinite(value)):
        failure = NotScorable(kind=_K.NOT_FINITE, detail=f"the metric computed {value}")
    seconds = time.perf_counter() - started
    if failure is not None:
        return MetricScore(metric=metric, not_scorable=failure, reason=reason,
                           judge_calls=len(recorded), seconds=seconds)
    return MetricScore(metric=metric, value=value, reason=reason, judge_calls=len(recorded),
                       seconds=seconds)


async def aevaluate_rag(
    target: Target | None,
    dataset: DatasetSource | Sequence[EvalSample],
    metrics: Sequence[str] | None = None,
    judge: ConstrainedJudge | BaseChatModel | None = None,
    embeddings: Embeddings | BaseRagasEmbedding | None = None,
    *,
    settings: EvalSettings | None = None,
    progress: bool = True,
    calibration: dict[str, Any] | None = None,
) -> EvalResult:
    """The async form of :func:`evaluate_rag` (same arguments).

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
    settings = settings or EvalSettings()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    name = (str(dataset) if isinstance(dataset, str | Path)
            else f"{len(dataset)} rows given in code")
    if isinstance(dataset, Sequence) and dataset and isinstance(dataset[0], EvalSample):
        samples = list(dataset)  # type: ignore[arg-type]
    else:
        samples = load_dataset(dataset)  # type: ignore[arg-type]
    if target is None:
        for number, sample in enumerate(samples, 1):
            if not sample.precomputed:
                raise EvalDatasetError(
                    str(name or "<list>"),
                    f"row {number} has no 'answer' or 'contexts' and no target was given to "
                    "generate them; pass a target (or --store on the command line)",
                    field="answer")
    chosen = resolve_metrics(metrics, has_reference=any(s.reference for s in samples),
                             has_judgments=any(s.has_judgments for s in samples), k=settings.k)
    judged = [m for m in chosen if m in JUDGE_METRICS]
    retrieval = [m for m in chosen if m not in JUDGE_METRICS]
    the_judge = as_judge(judge) if judged else None
    ragas_embeddings = None
    if "answer_relevancy" in judged:
        from localchain.evals.embeddings import as_ragas_embeddings

        ragas_embeddings = as_ragas_embeddings(embeddings)
    options = {"strictness": settings.strictness, "factual_mode": settings.factual_mode}
    built = {m: judge_metric_spec(m).build(the_judge, ragas_embeddings, options) for m in judged}
    if the_judge is not None:
        the_judge.reset_usage()
    gate = asyncio.Semaphore(settings.concurrency)
    results: list[SampleResult] = []

    bar = tqdm(total=len(samples), desc="answering", unit="q", disable=not progress)

    async def answer(index: int, sample: EvalSample) -> SampleResult:
        async with gate:
            output, error, seconds = await _answer(target, sample, settings.target_timeout_s)
        bar.update(1)
        return SampleResult(
            index=index, id=sample.id, question=sample.question, answer=output.answer,
            contexts=output.contexts,
            context_ids=ranked_ids(output.context_ids, output.context_sources,
                                   sample.relevant_ids) if output.contexts else [],
            reference=sample.reference, relevant_ids=sample.relevant_ids,
            target_error=error, target_seconds=round(seconds, 3))

    results = list(await asyncio.gather(*(answer(i, s) for i, s in enumerate(samples))))
    bar.close()
    for sample in results:
        sample.scores.update(retrieval_scores(retrieval, sample.context_ids, sample.relevant_ids,
                                              settings.k))

    bar = tqdm(total=len(results) * len(judged), desc="judging", unit="score",
               disable=not progress or not judged)

    async def score(sample: SampleResult, metric: str) -> None:
        async with gate:
            sample.scores[metric] = await _judge_score(metric, built[metric], sample, settings)
        bar.update(1)

    await asyncio.gather(*(score(s, m) for s in results for m in judged))
    bar.close()
    for sample in results:  # metric order as chosen, whatever order the jobs finished in
        sample.scores = {m: sample.scores[m] for m in chosen if m in sample.scores}
    metadata = RunMetadata(
        judge_model=the_judge.model_name if the_judge else None,
        embeddings_model=getattr(ragas_embeddings, "model_name", None),
        target=target_name(target) or "answers and contexts from the dataset",
        dataset=str(name) if name else None,
        metrics=chosen,
        settings={**settings.model_dump(), "judge": the_judge.describe() if the_judge else None},
        versions=package_versions(),
        started_at=started_at,
        seconds=round(time.perf_counter() - started, 3),
        judge=the_judge.usage if the_judge else RunMetadata().judge,
        calibration=calibration,
    )
    summary = {m: summarize(m, [s.scores[m] for s in results]) for m in chosen}
    return EvalResult(metadata=metadata, summary=summary, samples=results)


def evaluate_rag(
    target: Target | None,
    dataset: DatasetSource | Sequence[EvalSample],
    metrics: Sequence[str] | None = None,
    judge: ConstrainedJudge | BaseChatModel | None = None,
    embeddings: Embeddings | BaseRagasEmbedding | None = None,
    *,
    settings: EvalSettings | None = None,
    progress: bool = True,
    calibration: dict[str, Any] | None = None,
) -> EvalResult:
    """Run ``target`` over ``dataset`` and score every sample; never a NaN.

    ``target``: a Runnable, a function of the question, or None when every row carries its
    own ``answer`` and ``contexts``. ``dataset``: a JSONL / JSON / CSV path or a list of
    dicts (see :mod:`localchain.evals.dataset`). ``metrics``: names (see
    :func:`~localchain.evals.metrics.resolve_metrics`); None picks what the data supports.
    ``judge``: a :class:`ConstrainedJudge` or any LangChain chat model; None is the embedded
    model. ``embeddings`` (answer relevancy): LangChain or Ragas embeddings; None is MiniLM.
    ``calibration``: the judge's calibration report (a dict) to carry into the reports.

    Example:
        >>> rows = [{"question": "What is 2 + 2?", "answer": "4", "contexts": ["2 + 2 = 4"]}]
        >>> result = evaluate_rag(None, rows, metrics=["faithfulness"])   # doctest: +SKIP
        >>> result.summary["faithfulness"].n_scored + result.summary["faithfulness"].n_not_scorable  # doctest: +SKIP
        1
    """
    coroutine = aevaluate_rag(target, dataset, metrics, judge, embeddings, settings=settings,
                              progress=progress, calibration=calibration)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside an event loop (a notebook, an async test): run on a thread of its own.
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = asyncio.run(coroutine)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread below
            box["error"] = err

    thread = threading.Thread(target=run, name="localchain-eval")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
