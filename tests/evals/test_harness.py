"""evaluate_rag with a scripted judge: no NaN ever, typed reasons, retrieval metrics, targets."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from localchain.errors import EvalDatasetError
from localchain.evals import EvalResult, EvalSettings, NotScorableKind, evaluate_rag
from localchain.evals.harness import EvalInterrupted, PartialRun

ROW = {"question": "Where is the Eiffel Tower?", "answer": "In Paris.",
       "contexts": ["The Eiffel Tower is in Paris."], "reference": "Paris, France."}
ALL = ["faithfulness", "answer_relevancy", "context_precision", "context_recall",
       "factual_correctness"]


def _kinds(result: EvalResult, metric: str) -> list[str | None]:
    return [s.scores[metric].not_scorable.kind.value if s.scores[metric].not_scorable else None
            for s in result.samples]


def _no_nan(result: EvalResult) -> None:
    for sample in result.samples:
        for score in sample.scores.values():
            assert (score.value is None) != (score.not_scorable is None)
            assert score.value is None or math.isfinite(score.value)
    for summary in result.summary.values():
        assert summary.n_scored + summary.n_not_scorable == len(result.samples)
        assert summary.mean is None or math.isfinite(summary.mean)


def test_every_sample_is_scored_or_has_a_typed_reason(scripted: Any, fake_embeddings: Any) -> None:
    judge, _ = scripted(script={
        # First sample: the judge finds no statements; second: statements but no verdicts.
        "StatementGeneratorOutput": ['{"statements": []}', '{"statements": ["a"]}'],
        "NLIStatementOutput": ['{"statements": []}'],
        "ContextRecallOutput": ['{"classifications": []}', ('{"classifications": ['
                                '{"statement": "s", "reason": "r", "attributed": 1}]}')],
        "ClaimDecompositionOutput": ['{"claims": []}', '{"claims": []}',
                                     '{"claims": ["c"]}'],
    })
    rows = [ROW, dict(ROW, question="Second?"), dict(ROW, question="Third?", answer=None),
            dict(ROW, question="Fourth?", contexts=[], reference=None)]
    result = evaluate_rag(None, rows, metrics=ALL, judge=judge, embeddings=fake_embeddings,
                          progress=False)
    _no_nan(result)
    assert _kinds(result, "faithfulness") == ["no_statements", "no_verdicts", "empty_answer",
                                              "no_contexts"]
    assert _kinds(result, "context_recall") == ["no_verdicts", None, None, "missing_reference"]
    assert _kinds(result, "factual_correctness")[0] == "no_statements"
    assert _kinds(result, "context_precision")[3] == "missing_reference"
    summary = result.summary["faithfulness"]
    assert summary.mean is None and summary.n_not_scorable == 4
    assert summary.not_scorable_kinds == {"no_statements": 1, "no_verdicts": 1,
                                          "empty_answer": 1, "no_contexts": 1}
    assert result.not_scorable_count >= 10
    assert result.metadata.judge.calls > 0 and result.metadata.judge_model == "scripted-judge"


def test_reasons_are_the_judges_verdicts(scripted: Any, fake_embeddings: Any) -> None:
    judge, _ = scripted(script={"NLIStatementOutput": [(
        '{"statements": [{"statement": "In Paris.", "reason": "the context names Paris", '
        '"verdict": 1}, {"statement": "Built in 1700.", "reason": "no date in the context", '
        '"verdict": 0}]}')]})
    result = evaluate_rag(None, [ROW], metrics=["faithfulness"], judge=judge, progress=False)
    score = result.samples[0].scores["faithfulness"]
    assert score.value == 0.5 and score.judge_calls == 2
    assert "[supported] In Paris. - the context names Paris" in score.reason
    assert "[not supported] Built in 1700. - no date in the context" in score.reason


def test_invalid_judge_answers_and_timeouts_are_reported_per_sample(scripted: Any) -> None:
    judge, _ = scripted(max_retries=1, script={"StatementGeneratorOutput": ["not json"]})
    result = evaluate_rag(None, [ROW], metrics=["faithfulness"], judge=judge, progress=False)
    score = result.samples[0].scores["faithfulness"]
    assert score.not_scorable.kind is NotScorableKind.JUDGE_OUTPUT
    assert "2 attempt(s)" in score.not_scorable.detail and "failed" in score.reason
    assert result.metadata.judge.failures == 1

    slow, _ = scripted(delay_s=0.5)
    result = evaluate_rag(None, [ROW, dict(ROW, question="Again?")], metrics=["faithfulness"],
                          judge=slow, settings=EvalSettings(metric_timeout_s=0.2),
                          progress=False)
    assert _kinds(result, "faithfulness") == ["judge_timeout", "judge_timeout"]
    assert "0.2 s" in result.samples[0].scores["faithfulness"].not_scorable.detail


def test_target_failures_and_empty_answers_lose_nothing(scripted: Any) -> None:
    judge, _ = scripted()

    def target(question: str) -> Any:
        if question.startswith("Boom"):
            raise RuntimeError("index unavailable")
        if question.startswith("Empty"):
            return {"answer": None, "contexts": ["x"]}
        return {"answer": "In Paris.", "contexts": ["The Eiffel Tower is in Paris."]}

    rows = [{"question": "Boom?"}, {"question": "Empty?"}, {"question": "Fine?"}]
    result = evaluate_rag(target, rows, metrics=["faithfulness"], judge=judge, progress=False)
    assert _kinds(result, "faithfulness") == ["target_error", "empty_answer", None]
    assert result.samples[0].target_error == "RuntimeError: index unavailable"
    assert result.samples[2].scores["faithfulness"].value == 1.0


def test_concurrent_scoring_gives_the_same_result(scripted: Any) -> None:
    judge, _ = scripted(delay_s=0.01)
    rows = [dict(ROW, question=f"Q{i}?") for i in range(6)]
    result = evaluate_rag(None, rows, metrics=["faithfulness", "context_recall"], judge=judge,
                          settings=EvalSettings(concurrency=4), progress=False)
    assert [s.index for s in result.samples] == list(range(6))
    assert result.summary["faithfulness"].mean == 1.0 and result.summary["context_recall"].n_scored == 6
    assert result.metadata.judge.calls == 6 * 3
    assert list(result.samples[0].scores) == ["faithfulness", "context_recall"]


def _rag_output(question: str) -> dict[str, Any]:
    # The shape of localchain.chains.rag_chain's result.
    return {"question": question, "answer": "Paris [1]", "citations": [1], "sources": [
        {"number": 1, "id": "c9", "text": "Rome is in Italy.", "metadata": {"source": "it.md"}},
        {"number": 2, "id": "c1", "text": "Paris is in France.", "metadata": {"source": "fr.md"}},
        {"number": 3, "id": "c2", "text": "Lyon is in France.", "metadata": {"source": "fr.md"}},
    ]}


def test_retrieval_metrics_from_chunk_ids_or_sources() -> None:
    rows = [{"question": "By chunk?", "relevant_ids": ["c1", "c7"]},
            {"question": "By source?", "relevant_ids": {"fr.md": 1}},
            {"question": "Unjudged?"}]
    result = evaluate_rag(_rag_output, rows, metrics=["retrieval"], settings=EvalSettings(k=2),
                          progress=False)
    first, second, third = result.samples
    assert first.context_ids == ["c9", "c1", "c2"]
    assert first.scores["MRR"].value == 0.5 and first.scores["recall@2"].value == 0.5
    assert first.scores["MAP"].value == pytest.approx(0.25)
    assert second.context_ids == ["c9", "fr.md", "fr.md"]
    assert second.scores["recall@2"].value == 1.0 and second.scores["MRR"].value == 0.5
    assert second.scores["nDCG@2"].value == pytest.approx(1 / 1.5849625007211563)
    assert third.scores["MRR"].not_scorable.kind is NotScorableKind.NO_RELEVANCE_JUDGMENTS
    assert result.summary["MRR"].mean == 0.5 and result.summary["MRR"].n_not_scorable == 1
    assert result.metadata.judge_model is None and result.metadata.judge.calls == 0


def test_runnables_async_functions_and_documents_are_targets() -> None:
    docs = [Document("Paris is in France.", id="c1", metadata={"source": "fr.md"})]
    runnable = RunnableLambda(lambda q: {"result": "Paris", "source_documents": docs})

    async def async_target(question: str) -> tuple[str, list[Document]]:
        await asyncio.sleep(0)
        return "Paris", docs

    rows = [{"question": "Where?", "relevant_ids": ["c1"]}]
    for target in (runnable, async_target):
        result = evaluate_rag(target, rows, metrics=["MRR"], progress=False)
        assert result.samples[0].answer == "Paris" and result.summary["MRR"].mean == 1.0
    assert evaluate_rag(runnable, rows, metrics=["mrr"], progress=False).metadata.target


def test_the_colleague_rag_chain_output_is_read(scripted: Any) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from localchain.chains import rag_chain
    from localchain.retrievers import BM25Retriever

    retriever = BM25Retriever.from_texts(
        ["The Eiffel Tower is in Paris.", "The Colosseum is in Rome."], k=2)
    chain = rag_chain(retriever, FakeListChatModel(responses=["It is in Paris [1]."]))
    judge, _ = scripted()
    result = evaluate_rag(chain, [{"question": "Where is the Eiffel Tower?"}],
                          metrics=["faithfulness"], judge=judge, progress=False)
    sample = result.samples[0]
    assert sample.answer.startswith("It is in Paris") and sample.target_error is None
    assert "The Eiffel Tower is in Paris." in sample.contexts
    assert sample.scores["faithfulness"].value == 1.0


def test_bad_requests_fail_early_with_clear_errors(scripted: Any) -> None:
    with pytest.raises(EvalDatasetError, match="row 1 has no 'answer' or 'contexts' and no target"):
        evaluate_rag(None, [{"question": "q"}], metrics=["faithfulness"], progress=False)
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        evaluate_rag(None, [ROW], metrics=["bleu"], progress=False)


def test_defaults_follow_the_data(scripted: Any, fake_embeddings: Any) -> None:
    judge, _ = scripted()
    no_reference = dict(ROW, reference=None)
    result = evaluate_rag(None, [no_reference], judge=judge, embeddings=fake_embeddings,
                          progress=False)
    assert list(result.summary) == ["faithfulness", "answer_relevancy"]
    result = evaluate_rag(None, [dict(ROW, relevant_ids=["x"])], judge=judge,
                          embeddings=fake_embeddings, progress=False)
    assert list(result.summary) == [*ALL, "recall@5", "MRR", "MAP", "nDCG@5"]


def test_evaluate_rag_works_inside_a_running_event_loop(scripted: Any) -> None:
    judge, _ = scripted()

    async def inside() -> EvalResult:
        return evaluate_rag(None, [ROW], metrics=["faithfulness"], judge=judge, progress=False)

    assert asyncio.run(inside()).summary["faithfulness"].mean == 1.0


THREE = [dict(ROW, question=q) for q in ("First?", "Second?", "Third?")]


def _progress_lines(err: str) -> list[str]:
    """The progress lines of stderr without their "[eval  0.1 s] " clock."""
    return [line.split("] ", 1)[1] for line in err.splitlines() if line.startswith("[eval ")]


def test_progress_off_a_terminal_is_a_line_per_finished_sample(
    scripted: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    judge, _ = scripted()
    evaluate_rag(None, THREE, metrics=["faithfulness", "context_recall"], judge=judge)
    lines = _progress_lines(capsys.readouterr().err)  # captured: stderr is no terminal
    assert lines == [
        "judging 3 samples on faithfulness, context_recall",
        "scored 1/3 (#1 'First?'): faithfulness 1.000, context_recall 1.000",
        "scored 2/3 (#2 'Second?'): faithfulness 1.000, context_recall 1.000",
        "scored 3/3 (#3 'Third?'): faithfulness 1.000, context_recall 1.000",
    ]

    def target(question: str) -> Any:
        if question.startswith("Boom"):
            raise RuntimeError("index unavailable")
        return {"answer": "In Paris.", "contexts": ["The Eiffel Tower is in Paris."]}

    evaluate_rag(target, [{"question": "Fine?"}, {"question": "Boom?"}], metrics=["faithfulness"],
                 judge=judge, progress="lines")
    lines = _progress_lines(capsys.readouterr().err)
    assert lines[0] == "answering 2 questions"
    assert lines[1].startswith("answered 1/2 in ") and lines[1].endswith(": 'Fine?'")
    assert lines[2].endswith(": 'Boom?'; target error: RuntimeError: index unavailable")
    assert lines[3:] == ["judging 2 samples on faithfulness",
                         "scored 1/2 (#1 'Fine?'): faithfulness 1.000",
                         "scored 2/2 (#2 'Boom?'): faithfulness not scorable (target_error)"]


def test_progress_on_a_terminal_is_a_bar(
    scripted: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    judge, _ = scripted()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    evaluate_rag(None, THREE, metrics=["faithfulness"], judge=judge)
    err = capsys.readouterr().err
    assert "judging: 100%" in err and "3/3" in err
    assert not _progress_lines(err)
    evaluate_rag(None, THREE, metrics=["faithfulness"], judge=judge, progress=False)
    assert capsys.readouterr().err == ""


def _ctrl_c_when(question: str) -> Any:
    """A judge reply for the statements prompt that presses Ctrl-C when it judges
    ``question`` (SIGINT to this process, as a terminal sends it)."""

    def reply(prompt: str) -> str:
        if question in prompt:
            os.kill(os.getpid(), signal.SIGINT)
        return '{"statements": ["The answer is stated."]}'

    return reply


def test_ctrl_c_while_judging_gives_what_was_scored(scripted: Any) -> None:
    judge, _ = scripted(script={"StatementGeneratorOutput": [_ctrl_c_when("Second?")]})
    with pytest.raises(EvalInterrupted) as stopped:
        evaluate_rag(None, THREE, metrics=["faithfulness"], judge=judge, progress=False)
    assert isinstance(stopped.value, KeyboardInterrupt)
    result = stopped.value.result
    assert result.partial == PartialRun(phase="judging", samples=3, answered=3, scores=3,
                                        scored=1)
    assert str(stopped.value) == ("interrupted while judging: 3 of 3 samples answered, 1 of 3 "
                                  "judge scores done")
    assert [list(s.scores) for s in result.samples] == [["faithfulness"], [], []]
    assert result.samples[0].scores["faithfulness"].value == 1.0
    summary = result.summary["faithfulness"]
    assert (summary.mean, summary.n_scored, summary.n_not_scorable) == (1.0, 1, 0)
    assert result.metadata.judge_model == "scripted-judge" and result.metadata.judge.calls >= 2


def test_ctrl_c_while_answering_keeps_the_answers_given(scripted: Any) -> None:
    judge, _ = scripted()

    async def target(question: str) -> Any:
        if question == "Second?":
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(60)  # the interrupt cancels this wait
        return {"answer": "In Paris.", "contexts": [Document("The Eiffel Tower is in Paris.",
                                                             id="c1")]}

    rows = [{"question": q, "relevant_ids": ["c1"]} for q in ("First?", "Second?", "Third?")]
    started = time.perf_counter()
    with pytest.raises(EvalInterrupted) as stopped:
        evaluate_rag(target, rows, metrics=["faithfulness", "MRR"], judge=judge, progress=False)
    assert time.perf_counter() - started < 30
    result = stopped.value.result
    assert result.partial == PartialRun(phase="answering", samples=3, answered=1, scores=3,
                                        scored=0)
    assert [s.question for s in result.samples] == ["First?"]
    assert list(result.samples[0].scores) == ["MRR"]  # retrieval is scored as it answers
    assert result.summary["MRR"].mean == 1.0 and result.summary["faithfulness"].n_scored == 0


def test_ctrl_c_inside_a_running_event_loop(scripted: Any) -> None:
    judge, _ = scripted(script={"StatementGeneratorOutput": [_ctrl_c_when("Second?")]})

    async def inside() -> EvalResult:
        return evaluate_rag(None, THREE, metrics=["faithfulness"], judge=judge, progress=False)

    loop = asyncio.new_event_loop()  # no Ctrl-C handler of asyncio.run: KeyboardInterrupt
    try:
        with pytest.raises(EvalInterrupted) as stopped:
            loop.run_until_complete(inside())
    finally:
        loop.close()
    assert stopped.value.result.partial.scored == 1
    assert [list(s.scores) for s in stopped.value.result.samples] == [["faithfulness"], [], []]
