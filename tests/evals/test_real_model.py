"""The harness on the real embedded model: a tiny dataset, calibration, and `eval --store`.

The 135M judge is slow on 2 cores (a Ragas prompt is ~400-750 tokens), so the sets are
tiny and answer relevancy asks one question back; what is checked is that nothing is
NaN, that every sample the judge scores today is scored (all of them, on every metric),
that any unscored sample says why with a typed reason, and that the judge's calls were
counted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from localchain.cli import main
from localchain.evals import (
    ConstrainedJudge,
    EvalSettings,
    NotScorableKind,
    calibrate,
    evaluate_rag,
)
from localchain.models import LlamaCppChat

pytestmark = pytest.mark.slow

ROWS = [
    {"question": "Where is the Eiffel Tower?", "answer": "The Eiffel Tower is in Paris.",
     "contexts": [{"text": "The Eiffel Tower is a landmark in Paris, France.", "id": "c1"}],
     "relevant_ids": ["c1"]},
    {"question": "How many legs does a spider have?", "answer": "A spider has six legs.",
     "contexts": [{"text": "Spiders are arachnids with eight legs.", "id": "c2"}],
     "relevant_ids": ["c9"]},
]
# Every metric both samples are scored on with the 135M judge (greedy, so on every run).
SCORED = ["faithfulness", "answer_relevancy", "recall@5", "MRR", "MAP", "nDCG@5"]


@pytest.fixture(scope="module")
def real_judge() -> ConstrainedJudge:
    chat = LlamaCppChat(temperature=0, n_ctx=2048)
    return ConstrainedJudge(chat, max_items=4, max_chars=160, max_tokens=512)


def test_tiny_dataset_on_the_real_judge_has_no_nan(real_judge: ConstrainedJudge) -> None:
    # concurrency 2: both samples' judge calls race for the one model; the lock queues them.
    result = evaluate_rag(None, ROWS, metrics=["faithfulness", "answer_relevancy", "retrieval"],
                          judge=real_judge, settings=EvalSettings(strictness=1, concurrency=2),
                          progress=False)
    for sample in result.samples:
        for score in sample.scores.values():
            assert (score.value is None) != (score.not_scorable is None)
            if score.value is not None:
                assert math.isfinite(score.value)
            else:
                assert isinstance(score.not_scorable.kind, NotScorableKind)
                assert score.not_scorable.kind.value and score.not_scorable.detail
    assert len(result.samples) == 2
    for sample in result.samples:
        unscored = {name: score.not_scorable for name, score in sample.scores.items()
                    if score.value is None}  # fmt: skip
        assert set(SCORED) <= set(sample.scores) and unscored == {}
    faith = result.summary["faithfulness"]
    assert faith.n_scored + faith.n_not_scorable == 2
    for name in SCORED:
        assert (result.summary[name].n_scored, result.summary[name].n_not_scorable) == (2, 0)
    assert result.summary["MRR"].mean == 0.5  # retrieval metrics need no judge
    # The embedded judge model: faithfulness is the grounded judge's (no LLM call), and it
    # catches the spider's six legs.
    assert result.metadata.settings["faithfulness"]["judge"] == "grounded"
    assert [s.scores["faithfulness"].value for s in result.samples] == [1.0, 0.0]
    assert "6 is in no context" in result.samples[1].scores["faithfulness"].reason
    usage = result.metadata.judge
    assert usage.calls >= 2 and usage.seconds > 0  # answer relevancy, one call per sample
    assert result.metadata.judge_model == "SmolLM2-135M-Instruct.Q4_1"
    assert result.metadata.settings["judge"]["decoding"] == "json-schema grammar"
    assert result.metadata.embeddings_model == "sentence-transformers/all-MiniLM-L6-v2"


def test_calibration_on_the_real_judge_reports_agreement(real_judge: ConstrainedJudge) -> None:
    grounded = calibrate(real_judge, limit=1, progress=False)  # auto: grounded for this model
    assert grounded.faithfulness_judge == "grounded" and grounded.accuracy == 1.0
    assert grounded.judge.calls == 0
    # Ragas' LLM judge on the same model, chosen by name.
    report = calibrate(real_judge, limit=1, faithfulness_judge="llm", progress=False)
    assert report.faithfulness_judge == "llm"
    assert (report.n, report.n_faithful, report.n_unfaithful) == (2, 1, 1)
    assert report.judge_model == "SmolLM2-135M-Instruct.Q4_1"
    assert 0.0 <= report.accuracy <= 1.0 and set(report.per_class) == {"faithful", "unfaithful"}
    assert report.accuracy == sum(o.agrees for o in report.outcomes) / 2
    # Both items get a verdict today; one without would have to say why.
    for outcome in report.outcomes:
        assert (outcome.predicted is None) == (outcome.not_scorable is not None)
        if outcome.not_scorable is not None:
            assert isinstance(outcome.not_scorable.kind, NotScorableKind)
    assert [o.predicted is not None for o in report.outcomes] == [True, True]
    assert report.n_not_scorable == 0
    assert report.judge.calls >= 2 and "agreement" in report.summary_line()


def test_cli_eval_with_a_store_answers_with_the_rag_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "paris.txt").write_text("The Eiffel Tower is a landmark in Paris, France.",
                                  encoding="utf-8")
    (kb / "rome.txt").write_text("The Colosseum is an amphitheatre in Rome, Italy.",
                                 encoding="utf-8")
    assert main(["index", str(kb), "--store", str(tmp_path / "store"), "--no-progress"]) == 0
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": "Where is the Eiffel Tower?",
                                "relevant_ids": ["paris.txt"]}) + "\n", encoding="utf-8")
    capsys.readouterr()
    code = main(["eval", str(rows), "--store", str(tmp_path / "store"), "--metric", "retrieval",
                 "-k", "2", "--max-tokens", "24", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["means"]["MRR"] == 1.0 and data["not_scorable"] == 0
    assert data["samples"][0]["answer"]
