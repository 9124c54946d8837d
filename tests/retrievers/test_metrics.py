"""Retrieval metrics: hand-worked examples, properties, judgment files, Cranfield reference run."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import localchain.retrievers.metrics as metrics
from localchain.errors import JudgmentsFormatError
from localchain.retrievers.bm25 import BOOK_BM25, BM25Retriever
from localchain.retrievers.metrics import (
    RetrievalReport,
    average_precision,
    dcg_at_k,
    evaluate_run,
    load_jsonl_qrels,
    load_trec_qrels,
    load_trec_run,
    mean_average_precision,
    mean_reciprocal_rank,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    run_from_retriever,
)

CRANFIELD = Path(__file__).resolve().parents[2] / "data" / "cranfield"


# --- hand-worked examples ---------------------------------------------------------------


def test_average_precision_worked_examples() -> None:
    # Average precision worked by hand, from the simplest case up: one relevant result
    # at rank 1, then at rank 3, then two relevant results (R = number of relevant docs):
    # 1) one relevant document, ranked 1st: P@1 = 1/1 -> AP = 1 / R(1) = 1.0
    assert average_precision(["rel", "x", "y"], {"rel"}) == 1.0
    # 2) one relevant document, ranked 3rd: P@3 = 1/3 -> AP = (1/3) / 1 = 0.333...
    assert average_precision(["x", "y", "rel"], {"rel"}) == pytest.approx(1 / 3)
    # 3) two relevant documents, ranked 1st and 3rd: P@1 = 1/1, P@3 = 2/3
    #    -> AP = (1 + 0.667) / 2 = 0.833...
    assert average_precision(["r1", "x", "r2"], {"r1", "r2"}) == pytest.approx(5 / 6)
    # MAP is the mean over the queries: (1 + 1/3 + 5/6) / 3 = 13/18 = 0.722...
    run = {"q1": ["rel", "x", "y"], "q2": ["x", "y", "rel"], "q3": ["r1", "x", "r2"]}
    qrels = {"q1": {"rel": 1}, "q2": {"rel": 1}, "q3": {"r1": 1, "r2": 1}}
    assert mean_average_precision(run, qrels) == pytest.approx(13 / 18)
    # 4) a relevant document never retrieved still counts in R: P@1 = 1 -> AP = 1 / 2 = 0.5
    assert average_precision(["r1", "x"], {"r1", "missed"}) == 0.5
    # 5) with a cut-off of 2, the relevant document at rank 3 no longer counts: AP@2 = 1/2
    assert average_precision(["r1", "x", "r2"], {"r1", "r2"}, k=2) == 0.5


def test_precision_recall_and_reciprocal_rank_worked_examples() -> None:
    ranked = ["a", "x", "b", "y", "c"]
    relevant = {"a", "b", "c", "z"}
    assert precision_at_k(ranked, relevant, 1) == 1.0  # a
    assert precision_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)  # a, b
    assert precision_at_k(ranked, relevant, 10) == 0.3  # 3 hits / 10, fewer returned
    assert recall_at_k(ranked, relevant, 3) == 0.5  # 2 of the 4 relevant
    assert recall_at_k(ranked, relevant, 5) == 0.75
    assert reciprocal_rank(ranked, relevant) == 1.0
    assert reciprocal_rank(["x", "y", "b"], relevant) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y", "b"], relevant, k=2) == 0.0
    # MRR over two queries: (1/1 + 1/3) / 2
    run = {"q1": ranked, "q2": ["x", "y", "b"]}
    assert mean_reciprocal_rank(
        run, {"q1": dict.fromkeys(relevant, 1), "q2": {"b": 1}}
    ) == pytest.approx(2 / 3)


def test_ndcg_worked_example_with_graded_relevance() -> None:
    grades = {"d1": 3, "d2": 0, "d3": 2, "d4": 1, "d5": 3}
    ranked = ["d1", "d2", "d3", "d4"]
    # DCG@4 = 3/log2(2) + 0/log2(3) + 2/log2(4) + 1/log2(5) = 3 + 0 + 1 + 0.4307 = 4.4307
    dcg = 3 + 0 + 2 / 2 + 1 / math.log2(5)
    assert dcg_at_k(ranked, grades, 4) == pytest.approx(dcg)
    # Ideal order d1/d5 (3), d3 (2), d4 (1): IDCG@4 = 3 + 3/log2(3) + 2/2 + 1/log2(5) = 6.3235
    ideal = 3 + 3 / math.log2(3) + 1 + 1 / math.log2(5)
    assert ndcg_at_k(ranked, grades, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranked, grades, 4) == pytest.approx(0.70067, abs=1e-5)
    # Exponential gains 2**g - 1: DCG = 7 + 0 + 3/2 + 1/log2(5),
    # IDCG = 7 + 7/log2(3) + 3/2 + 1/log2(5)
    exp_dcg = 7 + 1.5 + 1 / math.log2(5)
    exp_ideal = 7 + 7 / math.log2(3) + 1.5 + 1 / math.log2(5)
    assert ndcg_at_k(ranked, grades, 4, gain="exponential") == pytest.approx(exp_dcg / exp_ideal)
    assert ndcg_at_k(["d5", "d1", "d3", "d4"], grades, 4) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, {"d2": 0}, 4) == 0.0  # nothing relevant: 0, not a division error


def test_repeated_ids_count_once() -> None:
    # Three chunks of one document are one retrieved document.
    assert precision_at_k(["a", "a", "a", "b"], {"a", "b"}, 2) == 1.0
    assert average_precision(["a", "a", "b"], {"a", "b"}) == 1.0


def test_bad_cutoffs() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        precision_at_k(["a"], {"a"}, 0)


def test_evaluate_run_averages_judged_queries() -> None:
    run = {"q1": ["a", "b"], "q3": ["z"], "q4": ["a"]}
    qrels = {"q1": {"a": 1, "c": 2}, "q2": {"x": 1}, "q4": {"a": 0}}
    report = evaluate_run(run, qrels, ks=(1, 2), depth=10)
    # q2 is judged but missing from the run: it scores 0. q4 has no relevant doc: left out.
    assert report.num_queries == 2 and sorted(report.per_query) == ["q1", "q2"]
    assert report.unjudged_queries == ["q3", "q4"]
    assert report.per_query["q2"] == dict.fromkeys(report.per_query["q2"], 0.0)
    assert report.per_query["q1"]["AP"] == 0.5  # a at 1; c never retrieved
    assert report.metrics["MAP"] == 0.25 and report.metrics["MRR"] == 0.5
    assert report.metrics["P@1"] == 0.5 and report.metrics["recall@2"] == 0.25
    # nDCG@2 for q1: 1/1 over ideal (c=2, a=1): 2 + 1/log2(3)
    assert report.per_query["q1"]["nDCG@2"] == pytest.approx(1 / (2 + 1 / math.log2(3)))
    assert set(report.metrics) == {
        "P@1",
        "recall@1",
        "nDCG@1",
        "P@2",
        "recall@2",
        "nDCG@2",
        "MAP",
        "MRR",
    }
    assert evaluate_run({}, {}).metrics == {}


# --- properties -------------------------------------------------------------------------

DOCS = st.sampled_from([f"d{i}" for i in range(12)])
RANKING = st.lists(DOCS, max_size=15)
GRADES = st.dictionaries(DOCS, st.integers(min_value=-1, max_value=3), max_size=12)
K = st.integers(min_value=1, max_value=20)


@settings(max_examples=200, deadline=None)
@given(ranked=RANKING, grades=GRADES, k=K)
def test_every_metric_is_between_0_and_1(ranked: list[str], grades: dict[str, int], k: int) -> None:
    for value in (
        precision_at_k(ranked, grades, k),
        recall_at_k(ranked, grades, k),
        average_precision(ranked, grades),
        average_precision(ranked, grades, k),
        reciprocal_rank(ranked, grades),
        ndcg_at_k(ranked, grades, k),
        ndcg_at_k(ranked, grades, k, gain="exponential"),
    ):
        assert 0.0 <= value <= 1.0 + 1e-12


@settings(max_examples=200, deadline=None)
@given(ranked=RANKING, grades=GRADES, k=K)
def test_deeper_cutoffs_never_find_fewer(ranked: list[str], grades: dict[str, int], k: int) -> None:
    assert recall_at_k(ranked, grades, k) <= recall_at_k(ranked, grades, k + 1)
    assert precision_at_k(ranked, grades, k) * k <= precision_at_k(ranked, grades, k + 1) * (k + 1)
    assert average_precision(ranked, grades, k) <= average_precision(ranked, grades, k + 1) + 1e-12
    assert reciprocal_rank(ranked, grades, k) <= reciprocal_rank(ranked, grades)


@settings(max_examples=200, deadline=None)
@given(grades=GRADES, k=K)
def test_the_ideal_ranking_scores_1(grades: dict[str, int], k: int) -> None:
    relevant = [d for d, g in sorted(grades.items(), key=lambda item: -item[1]) if g > 0]
    assume(relevant)
    ideal = relevant + [d for d in grades if grades[d] <= 0]
    assert average_precision(ideal, grades) == pytest.approx(1.0)
    assert ndcg_at_k(ideal, grades, k) == pytest.approx(1.0)
    assert ndcg_at_k(ideal, grades, k, gain="exponential") == pytest.approx(1.0)
    assert reciprocal_rank(ideal, grades) == 1.0
    assert recall_at_k(ideal, grades, max(k, len(relevant))) == 1.0


@settings(max_examples=200, deadline=None)
@given(
    ranked=st.lists(DOCS, unique=True, min_size=2, max_size=12), grades=GRADES, k=K, data=st.data()
)
def test_moving_a_relevant_document_up_never_hurts(
    ranked: list[str], grades: dict[str, int], k: int, data: st.DataObject
) -> None:
    # Swap a relevant document with the non-relevant one just above it.
    i = data.draw(st.integers(min_value=1, max_value=len(ranked) - 1))
    grades = {
        **grades,
        ranked[i]: data.draw(st.integers(1, 3)),
        ranked[i - 1]: data.draw(st.integers(-1, 0)),
    }
    better = ranked.copy()
    better[i - 1], better[i] = better[i], better[i - 1]
    assert average_precision(better, grades) >= average_precision(ranked, grades)
    assert ndcg_at_k(better, grades, k) >= ndcg_at_k(ranked, grades, k) - 1e-12
    assert reciprocal_rank(better, grades) >= reciprocal_rank(ranked, grades)
    assert precision_at_k(better, grades, k) >= precision_at_k(ranked, grades, k)


@settings(max_examples=100, deadline=None)
@given(ranked=RANKING, grades=GRADES, k=K)
def test_binary_judgments_as_a_set_or_grades_agree(
    ranked: list[str], grades: dict[str, int], k: int
) -> None:
    relevant = {d for d, g in grades.items() if g > 0}
    binary = {d: 1 for d in relevant}
    assert precision_at_k(ranked, relevant, k) == precision_at_k(ranked, grades, k)
    assert average_precision(ranked, relevant) == average_precision(ranked, grades)
    assert ndcg_at_k(ranked, relevant, k) == ndcg_at_k(ranked, binary, k)


# --- judgment and run files -------------------------------------------------------------


def test_trec_qrels_four_and_three_columns(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text(
        "# topic iter doc grade\n401 0 FT-1 2\n401 0 FT-2 0\n\n402 0 LA-9 1\n402 LA-7 3\n"
    )
    assert load_trec_qrels(path) == {
        "401": {"FT-1": 2.0, "FT-2": 0.0},
        "402": {"LA-9": 1.0, "LA-7": 3.0},
    }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("401 FT-1", "got 2 fields"),
        ("401 0 FT-1 2 extra", "got 5 fields"),
        ("401 0 FT-1 high", "'high' is not a number"),
        ("401 0 FT-1 nan", "not a finite number"),
        # Three fields is the short form (qid docid grade), so the doc id is read as a grade.
        ("401 0 FT-1", "'FT-1' is not a number"),
    ],
)
def test_malformed_trec_lines_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"401 0 FT-0 1\n{line}\n")
    with pytest.raises(JudgmentsFormatError, match=reason) as info:
        load_trec_qrels(path)
    assert (info.value.path, info.value.line_number) == (str(path), 2)


def test_cranfield_qrels_load_and_match_the_reference_parser() -> None:
    path = CRANFIELD / "cranqrel"
    raw = load_trec_qrels(path)
    assert len(raw) == 225 and sum(len(v) for v in raw.values()) == 1837
    assert raw["1"]["184"] == 2.0 and raw["1"]["486"] == -1.0
    # Cranfield grades run 1 (best) to 4, -1 for none; flip them into gains 4..1.
    qrels = load_trec_qrels(path, grade_map=lambda g: 5 - g if g > 0 else 0)
    assert qrels["1"]["184"] == 3.0 and qrels["1"]["486"] == 0.0
    # The collection's own parser (data/cranfield/load.py) keeps only relevant ones.
    reference: dict[str, dict[str, float]] = {}
    for line in path.read_text().split("\n"):
        q, d, g = [*line.split(), "", "", ""][:3]
        if g and int(g) > 0:
            reference.setdefault(q, {})[d] = 5 - int(g)
    assert {q: {d: g for d, g in v.items() if g > 0} for q, v in qrels.items()} == reference


def test_jsonl_qrels(tmp_path: Path) -> None:
    path = tmp_path / "qrels.jsonl"
    rows = [{"query_id": "q1", "doc_id": "a", "relevance": 2}, {"query_id": 7, "doc_id": 3}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert load_jsonl_qrels(path) == {"q1": {"a": 2.0}, "7": {"3": 1.0}}
    for bad, reason in [
        ("{oops", "not JSON"),
        ('{"doc_id": "a"}', "query_id"),
        ("[1]", "query_id"),
        ('{"query_id": 1, "doc_id": 2, "relevance": "x"}', "not a number"),
    ]:
        path.write_text('{"query_id": 1, "doc_id": 1}\n' + bad + "\n")
        with pytest.raises(JudgmentsFormatError, match=reason) as info:
            load_jsonl_qrels(path)
        assert info.value.line_number == 2


def test_trec_run_is_ranked_by_score(tmp_path: Path) -> None:
    path = tmp_path / "run.txt"
    path.write_text("1 Q0 c 3 0.1 bm25\n1 Q0 a 1 0.9 bm25\n1 Q0 b 2 0.9 bm25\n2 Q0 z 1 5 bm25\n")
    assert load_trec_run(path) == {"1": ["a", "b", "c"], "2": ["z"]}
    path.write_text("1 Q0 a 1 0.9\n")
    with pytest.raises(JudgmentsFormatError, match="got 5 fields"):
        load_trec_run(path)


def test_run_from_retriever_by_id_or_metadata_key() -> None:
    from langchain_core.documents import Document

    docs = [
        Document(t, metadata={"doc": d}, id=i)
        for t, d, i in [
            ("solar wind speed", "D1", "c1"),
            ("solar wind pressure", "D1", "c2"),
            ("lunar dust", "D2", "c3"),
        ]
    ]
    retriever = BM25Retriever.from_documents(docs, k=5)
    assert run_from_retriever(retriever, {"q": "solar wind"}) == {"q": ["c1", "c2"]}
    assert run_from_retriever(retriever, {"q": "solar wind"}, id_key="doc") == {"q": ["D1"]}
    with pytest.raises(ValueError, match="no metadata\\['missing'\\]"):
        run_from_retriever(retriever, {"q": "dust"}, id_key="missing")


def _cranfield_bm25(**options: object) -> RetrievalReport:
    import importlib.util

    spec = importlib.util.spec_from_file_location("cranfield_load", CRANFIELD / "load.py")
    assert spec is not None
    cran = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cran)  # type: ignore[union-attr]
    docs = cran.docs()
    retriever = BM25Retriever.from_texts(
        [f"{title} {text}" for title, text in docs.values()], ids=list(docs), k=100, **options
    )
    run = run_from_retriever(retriever, cran.queries())
    qrels = load_trec_qrels(CRANFIELD / "cranqrel", grade_map=lambda g: 5 - g if g > 0 else 0)
    return evaluate_run(run, qrels, ks=(10,), depth=100)


def test_bm25_on_cranfield_reproduces_the_reference_numbers() -> None:
    # data/README.md: rank_bm25 with the book's tokenizer, title + text per
    # document, all 225 queries -> nDCG@10 0.348, MAP@100 0.275, recall@10 0.381.
    report = _cranfield_bm25(**BOOK_BM25)
    assert report.num_queries == 225
    assert round(report.metrics["nDCG@10"], 3) == 0.348
    assert round(report.metrics["MAP"], 3) == 0.275
    assert round(report.metrics["recall@10"], 3) == 0.381


def test_default_bm25_on_cranfield_beats_the_reference() -> None:
    # Stems, Lucene IDF, k1=1.2 and RM3 feedback (docs/benchmarks.md section 7): 0.424
    # against the raw library's 0.348; MAP 0.275 -> 0.359, recall@10 0.381 -> 0.468.
    report = _cranfield_bm25()
    assert report.num_queries == 225
    assert report.metrics["nDCG@10"] >= 0.42
    assert report.metrics["MAP"] >= 0.35 and report.metrics["recall@10"] >= 0.46


def test_docstring_examples_run() -> None:
    failures, _ = doctest.testmod(metrics)
    assert failures == 0
