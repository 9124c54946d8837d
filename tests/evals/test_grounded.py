"""The grounded faithfulness judge: claims, evidence, conflicts, not-scorable answers, and
its place in the harness, calibration and the command line (real MiniLM embeddings; the
LLM vote through a scripted judge)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedChat
from ragas.metrics.collections.base import BaseMetric

from localchain.errors import NotScorableError
from localchain.evals import (
    ConstrainedJudge,
    EvalSettings,
    GroundedFaithfulness,
    calibrate,
    evaluate_rag,
    load_calibration_set,
)
from localchain.evals.grounded import (
    guess_language,
    is_embedded_judge,
    resolve_faithfulness_judge,
    split_claims,
    split_sentences,
)
from localchain.evals.results import NotScorableKind

ARMSTRONG = "Neil Armstrong was the first person to walk on the Moon, in July 1969."


@pytest.fixture(scope="module")
def grounded() -> GroundedFaithfulness:
    return GroundedFaithfulness()


def test_sentences_keep_abbreviations_and_initials_whole() -> None:
    assert split_sentences("Dr. Watson met J. R. Holmes in 1881. They shared rooms.\n\n"
                           "- A list item") == [
        "Dr. Watson met J. R. Holmes in 1881.", "They shared rooms.", "- A list item"]


def test_claims_are_sentences_and_clauses_without_yes_no_or_refusals() -> None:
    assert split_claims("Mars has two moons.") == (["Mars has two moons."], [])
    assert split_claims("No, penguins cannot fly; they swim.") == (
        ["penguins cannot fly", "they swim."], [])
    claims, refusals = split_claims("The context doesn't say, but it was founded in 1793.")
    assert claims == ["it was founded in 1793."] and refusals == ["The context doesn't say"]
    assert split_claims("Canberra is the capital, which is also its largest city.")[0] == [
        "Canberra is the capital", "which is also its largest city."]
    assert split_claims("I don't know.") == ([], ["I don't know."])


def test_a_changed_number_a_name_and_a_negation_are_conflicts(
        grounded: GroundedFaithfulness) -> None:
    check = grounded.check("Who walked on the Moon first?",
                           "Buzz Aldrin walked on the Moon first, in 1975.", [ARMSTRONG])
    assert check.score == 0.0
    assert check.claims[0].conflicts == ["1975 is in no context",
                                         "Buzz Aldrin is in no context"]
    spider = grounded.check("Legs?", "A spider has six legs.",
                            ["Spiders are arachnids with eight legs."])
    assert spider.claims[0].conflicts == ["6 is in no context"]  # number words count
    flies = grounded.check("Can penguins fly?", "Penguins can fly.",
                           ["Penguins are birds that cannot fly."])
    assert flies.score == 0.0 and "does not negate" in flies.claims[0].conflicts[0]


def test_what_the_context_says_differently_is_no_conflict(
        grounded: GroundedFaithfulness) -> None:
    # Thousands separators, acronyms of the context's names, a possessive.
    check = grounded.check(
        "Is Pluto a planet?",
        "The IAU has called Pluto a dwarf planet since 2006. The wall is 21000 km long. "
        "Einstein's theory dates from 1915.",
        ["Since 2006 the International Astronomical Union has classified Pluto as a dwarf "
         "planet. The Great Wall is about 21,000 kilometres long. Albert Einstein published "
         "general relativity in 1915."])
    assert [c.conflicts for c in check.claims] == [[], [], []]


def test_faithful_answers_score_1_and_unfaithful_0_with_reasons_that_quote(
        grounded: GroundedFaithfulness) -> None:
    faithful = grounded.check("Who first walked on the Moon?",
                              "Neil Armstrong walked on the Moon first, in 1969.", [ARMSTRONG])
    swapped = grounded.check("What do plants absorb?", "Plants absorb helium.",
                             ["Plants absorb carbon dioxide from the air and release oxygen."])
    assert faithful.score == 1.0 and swapped.score == 0.0
    assert swapped.claims[0].conflicts == []  # caught by the evidence score, not a conflict
    assert swapped.claims[0].new_overlap == 0.0
    reason = faithful.reason()
    assert reason.startswith('[supported] "Neil Armstrong walked on the Moon first, in 1969."')
    assert f'closest context: "{ARMSTRONG}"' in reason


def test_a_partly_supported_answer_scores_the_share_of_supported_claims(
        grounded: GroundedFaithfulness) -> None:
    check = grounded.check(
        "Tell me about the Amazon.",
        "The Amazon carries more water than any other river. It flows into the Pacific Ocean.",
        ["The Amazon river carries more water than any other river. It flows into the "
         "Atlantic Ocean."])
    assert [c.supported for c in check.claims] == [True, False] and check.score == 0.5
    assert check.claims[1].conflicts == ["Pacific Ocean is in no context"]


def test_a_context_longer_than_the_embedding_window_is_split_not_cut(
        grounded: GroundedFaithfulness) -> None:
    filler = " ".join(f"word{i}" for i in range(700))  # one 700-word "sentence"
    context = f"{filler} and at the very end the tower was finished in 1889 by Gustave Eiffel"
    check = grounded.check("When was the tower finished?",
                           "The tower was finished in 1889 by Gustave Eiffel.", [context])
    claim = check.claims[0]
    assert claim.supported and claim.conflicts == []
    assert "finished in 1889" in claim.evidence and len(claim.evidence.split()) <= 48
    assert claim.similarity is not None and claim.similarity > 0.5


def test_refusals_empty_answers_and_other_languages_are_not_scorable(
        grounded: GroundedFaithfulness) -> None:
    refusal = grounded.check("Population of Oslo?", "I don't know.", ["Oslo is in Norway."])
    assert refusal.not_scorable is not None
    assert refusal.not_scorable.kind == NotScorableKind.REFUSAL and refusal.score is None
    assert grounded.check("q", "  ", ["c"]).not_scorable.kind == NotScorableKind.EMPTY_ANSWER
    german = grounded.check("Who was first on the Moon?", "Neil Armstrong was the first "
                            "person to walk on the Moon.", [
                                "Neil Armstrong war 1969 der erste Mensch auf dem Mond und "
                                "ist bis heute ein Symbol der Raumfahrt."])
    assert german.not_scorable.kind == NotScorableKind.LANGUAGE_MISMATCH
    assert "reads as en and the contexts as de" in german.not_scorable.detail
    assert guess_language("Московский Кремль - крепость в центре Москвы") == "non-latin"
    assert guess_language("Paris.") is None


def test_it_is_a_ragas_metric_that_raises_typed_not_scorable(
        grounded: GroundedFaithfulness) -> None:
    assert isinstance(grounded, BaseMetric) and grounded.name == "faithfulness"
    result = grounded.score(user_input="Legs?", response="A spider has eight legs.",
                            retrieved_contexts=["Spiders are arachnids with eight legs."])
    assert result.value == 1.0 and result.reason.startswith("[supported]")
    with pytest.raises(NotScorableError) as caught:
        grounded.score(user_input="q", response="I am not sure.", retrieved_contexts=["c d"])
    assert caught.value.kind == "refusal"


def test_signals_alone_and_bad_settings() -> None:
    overlap_only = GroundedFaithfulness(signals=("overlap",)).check(
        "What do plants absorb?", "Plants absorb helium.", ["Plants absorb carbon dioxide."])
    claim = overlap_only.claims[0]
    assert claim.similarity is None and claim.conflicts == [] and not claim.supported
    assert (claim.overlap, claim.new_overlap) == (0.667, 0.0)  # "helium" is all it adds
    conflicts_only = GroundedFaithfulness(signals=("conflicts",)).check(
        "Legs?", "A spider has six legs.", ["Spiders have eight legs."])
    assert conflicts_only.score == 0.0 and conflicts_only.claims[0].overlap is None
    with pytest.raises(ValueError, match="non-empty subset"):
        GroundedFaithfulness(signals=("vibes",))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        GroundedFaithfulness(threshold=1.5)


def test_the_llm_vote_is_one_more_vote_and_its_text_is_never_the_reason() -> None:
    prompts: list[str] = []

    def vote(messages: list) -> str:
        prompts.append(str(messages[-1].content))
        return '{"supported": "no"}'

    judge = ConstrainedJudge(ScriptedChat(replies=[vote]))
    metric = GroundedFaithfulness(judge, signals=("overlap", "llm"), llm_weight=0.6)
    check = metric.check("Where is Paris?", "Paris is in France.",
                         ["Paris is the capital of France."])
    assert check.claims[0].llm_vote is False and check.score == 0.0  # the vote outweighed
    assert "Statement: Paris is in France." in prompts[0]
    assert "Paris is the capital of France." in prompts[0]
    assert "model no" in check.reason() and "Albert Einstein" not in check.reason()
    assert judge.usage.calls == 1


def test_the_harness_uses_grounded_for_the_embedded_judge_and_llm_for_others(
        scripted: Any) -> None:
    scripted_judge, _ = scripted()
    assert resolve_faithfulness_judge("auto", scripted_judge) == "llm"
    assert not is_embedded_judge(scripted_judge)
    rows = [
        {"question": "Who first walked on the Moon?", "answer": "Buzz Aldrin, in 1975.",
         "contexts": [ARMSTRONG]},
        {"question": "Who first walked on the Moon?", "answer": "Neil Armstrong, in 1969.",
         "contexts": [ARMSTRONG]},
        {"question": "Who first walked on the Moon?", "answer": "I don't know.",
         "contexts": [ARMSTRONG]},
    ]
    result = evaluate_rag(None, rows, metrics=["faithfulness"], judge=scripted_judge,
                          settings=EvalSettings(faithfulness_judge="grounded"), progress=False)
    scores = [s.scores["faithfulness"] for s in result.samples]
    assert [s.value for s in scores] == [0.0, 1.0, None]
    assert scores[2].not_scorable.kind == NotScorableKind.REFUSAL
    assert "Buzz Aldrin" in scores[0].reason and "1975 is in no context" in scores[0].reason
    assert result.metadata.settings["faithfulness"]["judge"] == "grounded"
    assert result.metadata.judge.calls == 0  # no LLM vote by default
    assert result.summary["faithfulness"].not_scorable_kinds == {"refusal": 1}
    llm = evaluate_rag(None, rows[:1], metrics=["faithfulness"], judge=scripted_judge,
                       progress=False)  # auto, with a judge that is not the embedded model
    assert llm.metadata.settings["faithfulness"] == {"judge": "llm"}
    assert llm.metadata.judge.calls == 2  # Ragas: statements, then verdicts


def test_calibrate_takes_own_labels_and_reports_the_confusion_table(
        scripted: Any, tmp_path: Path) -> None:
    scripted_judge, _ = scripted()
    labels = tmp_path / "mine.jsonl"
    rows = [
        ("Legs?", "Spiders have eight legs.", "A spider has eight legs.", True, "dev"),
        ("Legs?", "Spiders have eight legs.", "A spider has six legs.", False, "dev"),
        ("Moon?", ARMSTRONG, "Buzz Aldrin, in 1975.", False, "heldout"),
        ("Moon?", ARMSTRONG, "I don't know.", True, "heldout"),
    ]
    labels.write_text("".join(json.dumps({"id": f"m{n}", "question": q, "context": c,
                                          "answer": a, "faithful": f, "split": s,
                                          "kind": "mine"}) + "\n"
                              for n, (q, c, a, f, s) in enumerate(rows)), encoding="utf-8")
    report = calibrate(scripted_judge, labels, faithfulness_judge="grounded", progress=False)
    assert report.faithfulness_judge == "grounded" and report.n == 4
    assert report.accuracy == 1.0 and report.per_split == {"dev": 1.0, "heldout": 1.0}
    table = report.confusion
    assert (table.caught, table.missed, table.false_alarms, table.passed) == (2, 0, 0, 2)
    assert report.precision_unfaithful == 1.0 and report.recall_unfaithful == 1.0
    assert "label unfaithful                 2" in report.text()
    held = calibrate(scripted_judge, labels, split="heldout", faithfulness_judge="grounded",
                     progress=False)
    assert held.n == 2 and held.per_split == {"heldout": 1.0}


def test_the_shipped_set_has_a_heldout_split_of_every_kind() -> None:
    items = load_calibration_set()
    held = [i for i in items if i.split == "heldout"]
    assert len(items) >= 80 and len(held) >= 30
    kinds = {i.kind for i in held}
    assert {"number", "date", "name", "negation", "added_claim", "partial", "paraphrase",
            "refusal"} <= kinds
    assert sum(not i.faithful for i in held) * 2 == len(held)


def test_calibrate_on_the_command_line_with_own_labels(tmp_path: Path) -> None:
    labels = tmp_path / "mine.jsonl"
    labels.write_text(json.dumps({"id": "a", "question": "Legs?", "context": "Spiders have "
                                  "eight legs.", "answer": "Spiders have six legs.",
                                  "faithful": False}) + "\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    done = subprocess.run(
        [sys.executable, "-m", "localchain", "eval", "calibrate", "--labels", str(labels),
         "--faithfulness-judge", "grounded", "--out", "cal.json"],
        cwd=tmp_path, capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(grounded): agreement 1.00 on 1 items" in done.stdout
    assert '"unfaithful": precision 1.00, recall 1.00' in done.stdout
    saved = json.loads((tmp_path / "cal.json").read_text(encoding="utf-8"))
    assert saved["confusion"]["caught"] == 1 and saved["dataset"] == str(labels)
    bad = subprocess.run(
        [sys.executable, "-m", "localchain", "eval", "calibrate", "--faithfulness-judge",
         "vibes"], cwd=tmp_path, capture_output=True, text=True, env=environ, timeout=120)
    assert bad.returncode == 2 and "'vibes' is not auto, grounded or llm" in bad.stderr


def test_the_grounded_section_of_the_docs_runs_and_prints_what_it_says() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "evals.md").read_text(
        encoding="utf-8")
    section = page.split("## Faithfulness on the embedded stack")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks):
            exec(compile(block, f"evals.md[grounded {number}]", "exec"), {})  # noqa: S102
    out = printed.getvalue()
    assert out.startswith("0.0\n[not supported] \"Buzz Aldrin walked on the Moon first, in "
                          "1975.\" - 1975 is in no context; Buzz Aldrin is in no context")
    assert "[0.0, None]\n{'refusal': 1}\n" in out
