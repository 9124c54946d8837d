"""Retrieval metrics from a run and relevance judgments: P@k, recall@k, AP/MAP, MRR, nDCG@k.

Two plain shapes carry the data, so runs and judgments from anywhere fit:

* a **run** maps a query id to the doc ids a system returned, best first
  (``{"q1": ["d3", "d1", ...]}``); :func:`run_from_retriever` makes one from any retriever;
* **qrels** (relevance judgments) map a query id to ``{doc_id: grade}``; a grade above 0 means
  relevant, and larger grades are more relevant (nDCG uses them as gains). Load them from
  TREC files (:func:`load_trec_qrels`) or JSONL (:func:`load_jsonl_qrels`).

Conventions (those of trec_eval): a doc id repeated in a ranking counts once, at its first
position; P@k divides by k even when fewer than k were returned; AP divides by every relevant
document, retrieved or not. :func:`evaluate_run` averages over the judged queries with at
least one relevant document; a judged query missing from the run scores 0.

Example:
    >>> run = {"q1": ["d1", "d2", "d3"], "q2": ["d9", "d4"]}
    >>> qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d4": 2}}
    >>> report = evaluate_run(run, qrels, ks=(2,))
    >>> report.metrics["MAP"], report.metrics["MRR"], report.metrics["P@2"]
    (0.6666666666666666, 0.75, 0.5)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, Field

from localchain.errors import JudgmentsFormatError

__all__ = [
    "Run",
    "Qrels",
    "Gain",
    "RetrievalReport",
    "precision_at_k",
    "recall_at_k",
    "average_precision",
    "reciprocal_rank",
    "dcg_at_k",
    "ndcg_at_k",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "evaluate_run",
    "load_trec_qrels",
    "load_jsonl_qrels",
    "load_trec_run",
    "run_from_retriever",
]

Run = Mapping[str, Sequence[str]]
"""Query id -> doc ids, best first."""
Qrels = Mapping[str, Mapping[str, float]]
"""Query id -> {doc id: relevance grade}; grades above 0 are relevant."""
Gain = Literal["linear", "exponential"]
Judgments = Mapping[str, float] | Collection[str]


class RetrievalReport(BaseModel):
    """Mean scores over the evaluated queries, and each query's own scores.

    Example:
        >>> evaluate_run({"q": ["a"]}, {"q": {"a": 1}}, ks=(1,)).metrics["nDCG@1"]
        1.0
    """

    metrics: dict[str, float] = Field(default_factory=dict)
    """Means: ``P@k``, ``recall@k``, ``nDCG@k`` per cut-off, ``MAP`` and ``MRR``."""
    per_query: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Query id -> ``P@k``, ``recall@k``, ``nDCG@k``, ``AP``, ``RR``."""
    num_queries: int = 0
    """Queries averaged: judged, with at least one relevant document."""
    unjudged_queries: list[str] = Field(default_factory=list)
    """Run queries with no relevant judgment; left out of the means."""


def _grades(relevance: Judgments) -> Mapping[str, float]:
    if isinstance(relevance, Mapping):
        return relevance
    return dict.fromkeys(relevance, 1.0)


def _first_k(ranked: Sequence[str], k: int | None) -> list[str]:
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    # A repeated id (several chunks of one document) is one retrieved document.
    unique = list(dict.fromkeys(ranked))
    return unique if k is None else unique[:k]


def _relevant(grades: Mapping[str, float]) -> set[str]:
    return {doc for doc, grade in grades.items() if grade > 0}


def precision_at_k(ranked: Sequence[str], relevance: Judgments, k: int) -> float:
    """Share of the first ``k`` results that are relevant.

    Example:
        >>> precision_at_k(["a", "b", "c"], {"a", "c"}, k=2)
        0.5
    """
    relevant = _relevant(_grades(relevance))
    return sum(doc in relevant for doc in _first_k(ranked, k)) / k


def recall_at_k(ranked: Sequence[str], relevance: Judgments, k: int) -> float:
    """Share of the relevant documents found in the first ``k`` results (0 if none exist).

    Example:
        >>> recall_at_k(["a", "b", "c"], {"a", "c", "z"}, k=2)
        0.3333333333333333
    """
    relevant = _relevant(_grades(relevance))
    if not relevant:
        return 0.0
    return sum(doc in relevant for doc in _first_k(ranked, k)) / len(relevant)


def average_precision(ranked: Sequence[str], relevance: Judgments, k: int | None = None) -> float:
    """Mean of P@i over the positions i of relevant results, divided by all relevant docs.

    Example:
        >>> average_precision(["a", "x", "b"], {"a", "b"})  # (1/1 + 2/3) / 2
        0.8333333333333333
    """
    relevant = _relevant(_grades(relevance))
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for position, doc in enumerate(_first_k(ranked, k), 1):
        if doc in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevance: Judgments, k: int | None = None) -> float:
    """1 / position of the first relevant result (0 if none in the first ``k``).

    Example:
        >>> reciprocal_rank(["x", "y", "a"], {"a"})
        0.3333333333333333
    """
    relevant = _relevant(_grades(relevance))
    for position, doc in enumerate(_first_k(ranked, k), 1):
        if doc in relevant:
            return 1 / position
    return 0.0


def _gain(grade: float, gain: Gain) -> float:
    if grade <= 0:
        return 0.0
    return grade if gain == "linear" else 2.0**grade - 1


def dcg_at_k(ranked: Sequence[str], relevance: Judgments, k: int, gain: Gain = "linear") -> float:
    """Discounted cumulative gain: sum of gain(grade) / log2(position + 1) over the top ``k``.

    ``gain="linear"`` uses the grade itself (trec_eval); ``"exponential"`` uses
    ``2**grade - 1`` (Burges et al.), which weighs highly relevant documents more.

    Example:
        >>> dcg_at_k(["a", "b"], {"a": 3, "b": 1}, k=2)  # 3/log2(2) + 1/log2(3)
        3.6309297535714578
    """
    grades = _grades(relevance)
    return sum(
        _gain(grades.get(doc, 0.0), gain) / math.log2(position + 1)
        for position, doc in enumerate(_first_k(ranked, k), 1)
    )


def ndcg_at_k(ranked: Sequence[str], relevance: Judgments, k: int, gain: Gain = "linear") -> float:
    """DCG@k divided by the DCG@k of the ideal ranking of the judged documents (0 if none).

    Example:
        >>> grades = {"a": 3, "b": 1}
        >>> ndcg_at_k(["a", "b"], grades, k=2), round(ndcg_at_k(["b", "a"], grades, k=2), 3)
        (1.0, 0.797)
    """
    grades = _grades(relevance)
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    best = sum(_gain(g, gain) / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    if best == 0:
        return 0.0
    return dcg_at_k(ranked, grades, k, gain) / best


def mean_average_precision(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """MAP: mean :func:`average_precision` over the judged queries (see module notes).

    Example:
        >>> qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
        >>> mean_average_precision({"q1": ["a"], "q2": ["x", "b"]}, qrels)
        0.75
    """
    return _mean(average_precision(run.get(q, ()), qrels[q], k) for q in _judged(qrels))


def mean_reciprocal_rank(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """MRR: mean :func:`reciprocal_rank` over the judged queries.

    Example:
        >>> mean_reciprocal_rank({"q1": ["a"], "q2": ["x", "b"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
        0.75
    """
    return _mean(reciprocal_rank(run.get(q, ()), qrels[q], k) for q in _judged(qrels))


def evaluate_run(
    run: Run,
    qrels: Qrels,
    *,
    ks: Iterable[int] = (1, 5, 10),
    depth: int | None = None,
    gain: Gain = "linear",
) -> RetrievalReport:
    """Every metric at once, per query and averaged.

    Args:
        run: query id -> ranked doc ids.
        qrels: query id -> {doc id: grade}.
        ks: cut-offs for P@k, recall@k and nDCG@k.
        depth: cut-off for AP and RR (e.g. 100 for MAP@100); ``None`` uses the whole ranking.
        gain: nDCG gain, see :func:`dcg_at_k`.

    Example:
        >>> run = {"q1": ["d3", "d1", "d7"], "q2": ["d2", "d9"], "q3": ["d4"]}
        >>> qrels = {"q1": {"d1": 1}, "q2": {"d2": 1, "d5": 1}}
        >>> report = evaluate_run(run, qrels, ks=(1, 2))
        >>> report.metrics["P@1"], report.metrics["recall@2"], report.metrics["MRR"]
        (0.5, 0.75, 0.75)
        >>> report.num_queries, report.unjudged_queries
        (2, ['q3'])
    """
    cutoffs = sorted(set(ks))
    judged = _judged(qrels)
    per_query: dict[str, dict[str, float]] = {}
    for query in judged:
        ranked, grades = run.get(query, ()), qrels[query]
        scores: dict[str, float] = {}
        for k in cutoffs:
            scores[f"P@{k}"] = precision_at_k(ranked, grades, k)
            scores[f"recall@{k}"] = recall_at_k(ranked, grades, k)
            scores[f"nDCG@{k}"] = ndcg_at_k(ranked, grades, k, gain)
        scores["AP"] = average_precision(ranked, grades, depth)
        scores["RR"] = reciprocal_rank(ranked, grades, depth)
        per_query[query] = scores
    names = {"AP": "MAP", "RR": "MRR"}
    metrics = {}
    if per_query:
        for key in next(iter(per_query.values())):
            metrics[names.get(key, key)] = _mean(s[key] for s in per_query.values())
    return RetrievalReport(
        metrics=metrics,
        per_query=per_query,
        num_queries=len(per_query),
        unjudged_queries=sorted(q for q in run if q not in per_query),
    )


def load_trec_qrels(
    path: str | Path, *, grade_map: Callable[[float], float] | None = None
) -> dict[str, dict[str, float]]:
    """Read TREC relevance judgments: ``qid iter docid grade`` (or ``qid docid grade``) lines.

    Blank lines and lines starting with ``#`` are ignored. ``grade_map`` rewrites grades, for
    collections whose scale runs the other way - Cranfield grades 1 (most relevant) to 4 and
    uses -1 for none: ``grade_map=lambda g: 5 - g if g > 0 else 0``.

    Raises:
        JudgmentsFormatError: a line has the wrong number of fields or a non-numeric grade.

    Example:
        >>> _ = Path("q.txt").write_text("1 0 d7 2\\n1 0 d9 0\\n")
        >>> load_trec_qrels("q.txt")
        {'1': {'d7': 2.0, 'd9': 0.0}}
    """
    qrels: dict[str, dict[str, float]] = {}
    for number, fields in _lines(path):
        if len(fields) == 4:
            query, _, doc, grade = fields
        elif len(fields) == 3:
            query, doc, grade = fields
        else:
            raise JudgmentsFormatError(
                str(path), number, f"expected 'qid iter docid grade', got {len(fields)} fields"
            )
        value = _number(grade, path, number)
        qrels.setdefault(query, {})[doc] = grade_map(value) if grade_map else value
    return qrels


def load_jsonl_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """Read judgments as JSON lines: ``{"query_id": ..., "doc_id": ..., "relevance": 2}``.

    Ids may be strings or numbers (read as strings); a missing ``relevance`` means 1.

    Example:
        >>> _ = Path("q.jsonl").write_text('{"query_id": 1, "doc_id": "a", "relevance": 3}\\n')
        >>> load_jsonl_qrels("q.jsonl")
        {'1': {'a': 3.0}}
    """
    qrels: dict[str, dict[str, float]] = {}
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query, doc = str(row["query_id"]), str(row["doc_id"])
        except json.JSONDecodeError as err:
            raise JudgmentsFormatError(str(path), number, f"not JSON ({err.msg})") from err
        except (KeyError, TypeError) as err:
            raise JudgmentsFormatError(
                str(path), number, 'expected an object with "query_id" and "doc_id"'
            ) from err
        value = _number(row.get("relevance", 1), path, number)
        qrels.setdefault(query, {})[doc] = value
    return qrels


def load_trec_run(path: str | Path) -> dict[str, list[str]]:
    """Read a TREC run file (``qid Q0 docid rank score tag``), ranked by score then rank.

    Example:
        >>> _ = Path("r.txt").write_text("1 Q0 b 2 0.5 bm25\\n1 Q0 a 1 0.9 bm25\\n")
        >>> load_trec_run("r.txt")
        {'1': ['a', 'b']}
    """
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for number, fields in _lines(path):
        if len(fields) != 6:
            raise JudgmentsFormatError(
                str(path),
                number,
                f"expected 'qid Q0 docid rank score tag', got {len(fields)} fields",
            )
        query, _, doc, rank, score, _ = fields
        key = (-_number(score, path, number), _number(rank, path, number), doc)
        rows.setdefault(query, []).append(key)
    return {q: [doc for *_, doc in sorted(r)] for q, r in rows.items()}


def run_from_retriever(
    retriever: BaseRetriever, queries: Mapping[str, str], *, id_key: str | None = None
) -> dict[str, list[str]]:
    """Ask ``retriever`` every query and record the doc ids it returns, best first.

    A hit's doc id is ``doc.metadata[id_key]``, or ``doc.id`` when ``id_key`` is None. Use an
    id_key shared by a document's chunks (e.g. ``"source"``) when judgments are per document;
    repeats then count once, at their best rank.

    Example:
        >>> from localchain.retrievers.bm25 import BM25Retriever
        >>> r = BM25Retriever.from_texts(["red fox", "blue sky", "red sky"], ids=["a", "b", "c"])
        >>> run_from_retriever(r, {"q1": "red"})
        {'q1': ['a', 'c']}
    """
    run = {}
    for query_id, text in queries.items():
        ids = []
        for doc in retriever.invoke(text):
            doc_id = doc.metadata.get(id_key) if id_key else doc.id
            if doc_id is None:
                where = f"metadata[{id_key!r}]" if id_key else "Document.id"
                raise ValueError(f"a hit for query {query_id!r} has no {where}")
            ids.append(str(doc_id))
        run[query_id] = list(dict.fromkeys(ids))
    return run


def _judged(qrels: Qrels) -> list[str]:
    return [q for q, grades in qrels.items() if any(g > 0 for g in grades.values())]


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _lines(path: str | Path) -> Iterable[tuple[int, list[str]]]:
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line.split()


def _number(value: object, path: str | Path, line: int) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise JudgmentsFormatError(str(path), line, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise JudgmentsFormatError(str(path), line, f"{value!r} is not a finite number")
    return number
