"""The metrics the harness runs: five Ragas 0.4 judge metrics and four retrieval metrics.

Judge metrics (Ragas ``metrics.collections``): ``faithfulness``, ``answer_relevancy``,
``context_precision`` and ``context_recall`` (both against the reference), and
``factual_correctness`` (answer vs reference). Retrieval metrics, from the ranked ids of
the retrieved contexts and the row's relevant ids, computed by
:mod:`localchain.retrievers.metrics`: ``recall@k``, ``MRR``, ``MAP``, ``nDCG@k``.

Each judge metric knows what it needs (a reference, contexts), how to read the judge's
reasons from the calls it made, and which empty answers from the judge make a sample
not scorable rather than a silent NaN or a misleading 0.

Example:
    >>> resolve_metrics(None, has_reference=False, has_judgments=True, k=3)
    ['faithfulness', 'answer_relevancy', 'recall@3', 'MRR', 'MAP', 'nDCG@3']
    >>> ranked_ids(["c1", "c2"], ["a.md", "b.md"], {"b.md": 1.0})
    ['c1', 'b.md']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from localchain.evals.judge import JudgeCall
from localchain.evals.results import MetricScore, NotScorable, NotScorableKind
from localchain.retrievers.metrics import (
    average_precision,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

__all__ = [
    "JUDGE_METRICS",
    "REFERENCE_METRICS",
    "JudgeMetricSpec",
    "empty_judgment",
    "explain_calls",
    "judge_metric_spec",
    "ranked_ids",
    "resolve_metrics",
    "retrieval_scores",
]

JUDGE_METRICS = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "factual_correctness",
)
"""The Ragas metrics the judge model scores; the retrieval metrics need no judge."""
REFERENCE_METRICS = frozenset({"context_precision", "context_recall", "factual_correctness"})
_RETRIEVAL = ("recall@k", "MRR", "MAP", "nDCG@k")


@dataclass(frozen=True)
class JudgeMetricSpec:
    """How to build and call one Ragas metric.

    Example:
        >>> judge_metric_spec("context_recall").needs_reference
        True
    """

    name: str
    needs_reference: bool
    needs_contexts: bool
    build: Callable[[Any, Any, dict[str, Any]], Any]
    """(judge, ragas embeddings, options) -> a Ragas metric."""
    arguments: Callable[[str, str, list[str], str | None], dict[str, Any]]
    """(question, answer, contexts, reference) -> ``ascore`` keyword arguments."""


def _build(name: str) -> Callable[[Any, Any, dict[str, Any]], Any]:
    def build(judge: Any, embeddings: Any, options: dict[str, Any]) -> Any:
        # Imported here: ragas.metrics.collections pulls in much of Ragas.
        from ragas.metrics import collections as rc

        if name == "faithfulness":
            if options.get("faithfulness_judge") == "grounded":
                from localchain.evals.grounded import GroundedFaithfulness

                return GroundedFaithfulness(judge, _langchain_embeddings(
                    options.get("embeddings")))
            return rc.Faithfulness(llm=judge)
        if name == "answer_relevancy":
            return rc.AnswerRelevancy(llm=judge, embeddings=embeddings,
                                      strictness=options.get("strictness", 3))
        if name == "context_precision":
            return rc.ContextPrecision(llm=judge)
        if name == "context_recall":
            return rc.ContextRecall(llm=judge)
        return rc.FactualCorrectness(llm=judge, mode=options.get("factual_mode", "f1"))

    return build


def _langchain_embeddings(embeddings: Any) -> Any:
    """LangChain embeddings for the grounded judge (Ragas embeddings of localchain's
    adapter give back the LangChain ones they wrap); None is the embedded MiniLM."""
    return getattr(embeddings, "embeddings", embeddings)


_SPECS = {
    "faithfulness": JudgeMetricSpec(
        "faithfulness", False, True, _build("faithfulness"),
        lambda q, a, c, r: {"user_input": q, "response": a, "retrieved_contexts": c}),
    "answer_relevancy": JudgeMetricSpec(
        "answer_relevancy", False, False, _build("answer_relevancy"),
        lambda q, a, c, r: {"user_input": q, "response": a}),
    "context_precision": JudgeMetricSpec(
        "context_precision", True, True, _build("context_precision"),
        lambda q, a, c, r: {"user_input": q, "reference": r, "retrieved_contexts": c}),
    "context_recall": JudgeMetricSpec(
        "context_recall", True, True, _build("context_recall"),
        lambda q, a, c, r: {"user_input": q, "retrieved_contexts": c, "reference": r}),
    "factual_correctness": JudgeMetricSpec(
        "factual_correctness", True, False, _build("factual_correctness"),
        lambda q, a, c, r: {"response": a, "reference": r}),
}


def judge_metric_spec(name: str) -> JudgeMetricSpec:
    """The spec of a judge metric by name."""
    return _SPECS[name]


def resolve_metrics(
    metrics: Sequence[str] | None, *, has_reference: bool, has_judgments: bool, k: int
) -> list[str]:
    """Canonical metric names for a run.

    ``None`` picks the defaults: faithfulness and answer relevancy; the reference metrics
    when any row has a reference; the retrieval metrics when any row has relevant ids.
    ``"retrieval"`` stands for all four retrieval metrics. Names are case-insensitive.

    Example:
        >>> resolve_metrics(["Faithfulness", "mrr"], has_reference=False, has_judgments=False, k=5)
        ['faithfulness', 'MRR']
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    retrieval = [m.replace("@k", f"@{k}") for m in _RETRIEVAL]
    if metrics is None:
        chosen = [m for m in JUDGE_METRICS if has_reference or m not in REFERENCE_METRICS]
        return chosen + (retrieval if has_judgments else [])
    lookup = {m.lower(): m for m in JUDGE_METRICS}
    lookup.update({m.lower(): m for m in retrieval})
    lookup.update({m.lower(): r for m, r in zip(_RETRIEVAL, retrieval, strict=True)})
    chosen = []
    for name in metrics:
        key = name.strip().lower()
        if key == "retrieval":
            chosen.extend(retrieval)
        elif key in lookup:
            chosen.append(lookup[key])
        else:
            known = ", ".join([*JUDGE_METRICS, *retrieval, "retrieval"])
            raise ValueError(f"unknown metric {name!r}; known: {known}")
    return list(dict.fromkeys(chosen))


def ranked_ids(ids: Sequence[str], sources: Sequence[str], relevant: dict[str, float]) -> list[str]:
    """The ranking to score: per retrieved context, its chunk id, its source or the source's
    file name, whichever the judgments name (in that order), so relevant ids may be any.

    Example:
        >>> ranked_ids(["c1"], [""], {})
        ['c1']
    """
    ranking = []
    for position in range(max(len(ids), len(sources))):
        ident = ids[position] if position < len(ids) else ""
        source = sources[position] if position < len(sources) else ""
        if ident and ident in relevant:
            ranking.append(ident)
        elif source and source in relevant:
            ranking.append(source)
        elif source and PurePath(source).name in relevant:
            # Judgments may name a file ("paris.txt") where the index records its path.
            ranking.append(PurePath(source).name)
        else:
            ranking.append(ident or source or f"#unidentified-{position + 1}")
    return ranking


def retrieval_scores(
    names: Sequence[str], ranking: list[str], relevant: dict[str, float], k: int
) -> dict[str, MetricScore]:
    """Retrieval metrics of one sample (typed not-scorable when it has no judgments).

    Example:
        >>> scores = retrieval_scores(["MRR", "recall@2"], ["x", "a"], {"a": 1.0}, k=2)
        >>> scores["MRR"].value, scores["recall@2"].value
        (0.5, 1.0)
    """
    out = {}
    relevant_set = sorted(doc for doc, grade in relevant.items() if grade > 0)
    for name in names:
        if not relevant_set:
            out[name] = MetricScore(metric=name, not_scorable=NotScorable(
                kind=NotScorableKind.NO_RELEVANCE_JUDGMENTS,
                detail="the row lists no relevant ids"))
            continue
        if name.startswith("recall@"):
            value = recall_at_k(ranking, relevant, k)
        elif name.startswith("nDCG@"):
            value = ndcg_at_k(ranking, relevant, k)
        elif name == "MRR":
            value = reciprocal_rank(ranking, relevant)
        else:
            value = average_precision(ranking, relevant)
        found = [doc for doc in dict.fromkeys(ranking) if doc in relevant_set]
        reason = (f"retrieved (best first): {', '.join(ranking[:k]) or 'nothing'}; "
                  f"relevant: {', '.join(relevant_set)}; relevant found: {len(found)}")
        out[name] = MetricScore(metric=name, value=value, reason=reason)
    return out


def _short(text: Any, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(output: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in output.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                flag = item.get("verdict", item.get("attributed"))
                mark = "supported" if flag == 1 else "not supported" if flag == 0 else "?"
                lines.append(f"[{mark}] {_short(item.get('statement', ''))} - "
                             f"{_short(item.get('reason', ''))}")
        elif isinstance(value, list):
            shown = "; ".join(_short(v, 100) for v in value) if value else "(none)"
            lines.append(f"{key}: {shown}")
    if "question" in output:
        evasive = " (judged noncommittal)" if output.get("noncommittal") == 1 else ""
        lines.append(f"question generated from the answer: {_short(output['question'])}{evasive}")
    elif "verdict" in output and "reason" in output:
        mark = "useful" if output["verdict"] == 1 else "not useful"
        lines.append(f"[{mark}] {_short(output['reason'])}")
    return lines


def explain_calls(calls: Sequence[JudgeCall]) -> str:
    """The judge's reasons, one line per verdict, from the calls a metric made.

    Example:
        >>> explain_calls([JudgeCall(schema_name="S", output={"statements": ["Paris is in France."]})])
        'statements: Paris is in France.'
    """
    lines = []
    for call in calls:
        if call.output is None:
            lines.append(f"judge call {call.schema_name} failed: {_short(call.error, 300)}")
        else:
            lines.extend(_describe(call.output))
    return "\n".join(lines)


def empty_judgment(metric: str, calls: Sequence[JudgeCall]) -> NotScorable | None:
    """A typed reason when the judge's own answers leave nothing to score.

    Ragas returns NaN when the answer yields no statements, or a verdict list is empty;
    factual correctness then returns a 0 that measures nothing.

    Example:
        >>> empty_judgment("faithfulness", [JudgeCall(schema_name="S", output={"statements": []})]).kind
        <NotScorableKind.NO_STATEMENTS: 'no_statements'>
    """
    outputs = [c.output for c in calls if c.output is not None]
    if not outputs:
        return None
    first = outputs[0]
    listed = next((v for v in first.values() if isinstance(v, list)), None)
    if metric in ("faithfulness", "factual_correctness") and listed == []:
        what = "statements" if metric == "faithfulness" else "claims"
        return NotScorable(kind=NotScorableKind.NO_STATEMENTS,
                           detail=f"the judge found no {what} in the answer to check")
    if metric in ("faithfulness", "context_recall"):
        last = outputs[-1]
        verdicts = next((v for v in last.values() if isinstance(v, list)), None)
        if verdicts == [] and (metric == "context_recall" or len(outputs) > 1):
            return NotScorable(kind=NotScorableKind.NO_VERDICTS,
                               detail="the judge returned an empty list of verdicts")
    return None
