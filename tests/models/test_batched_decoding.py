"""Batched decoding on the real embedded model: concurrent calls share decode steps, each
with its own sampling, grammar, stop strings and stream; a cancelled or failing request
ends alone; a follow-up lands on the slot holding its prefix."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from localchain.errors import ContextOverflowError
from localchain.models import LlamaCppChat
from localchain.models.engine import grammar_text
from localchain.sampling import SamplingParams

pytestmark = pytest.mark.slow

NUMBER = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
YES_NO = 'root ::= "yes" | "no"'


@pytest.fixture(scope="module")
def batched() -> LlamaCppChat:
    return LlamaCppChat(temperature=0, max_tokens=24, n_ctx=1024, n_parallel=4, seed=42)


def test_eight_threads_with_their_own_grammars_and_settings_all_get_whole_answers(
    batched: LlamaCppChat,
) -> None:
    number = batched.engine.grammar(grammar_text(json_schema=NUMBER))
    yes_no = batched.engine.grammar(YES_NO)
    jobs: list[tuple[str, dict[str, Any], Any]] = [
        ("What is 2 + 3?", {"temperature": 0.0, "max_tokens": 24}, number),
        ("Name three colors.", {"temperature": 0.0, "max_tokens": 6}, None),
        ("Is the sky blue?", {"temperature": 0.9, "max_tokens": 4, "seed": 3}, yes_no),
        ("What is 7 * 8?", {"temperature": 0.5, "max_tokens": 24, "seed": 4}, number),
        ("Say hello.", {"temperature": 0.8, "max_tokens": 12, "top_k": 10, "seed": 5}, None),
        ("Is fire cold?", {"temperature": 0.0, "max_tokens": 4}, yes_no),
        ("Count to five.", {"temperature": 0.0, "max_tokens": 20, "repeat_penalty": 1.3}, None),
        ("Give a number.", {"temperature": 1.0, "max_tokens": 24, "seed": 8}, number),
    ]  # fmt: skip
    results: dict[int, Any] = {}

    def run(index: int, question: str, options: dict[str, Any], grammar: Any) -> None:
        tokens = batched._tokens([HumanMessage(question)])
        try:
            results[index] = batched.engine.complete(
                tokens, SamplingParams(**options), stop=["<|im_end|>"], grammar=grammar
            )
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            results[index] = err

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(results) == list(range(8))
    for index, (question, options, grammar) in enumerate(jobs):
        assert not isinstance(results[index], BaseException), (question, results[index])
        text, stats = results[index]
        assert 0 < stats.completion_tokens <= options["max_tokens"], question
        assert stats.finish_reason in ("stop", "length")
        if grammar is number:
            assert isinstance(json.loads(text)["answer"], int), text
        elif grammar is yes_no:
            assert text in ("yes", "no"), text
        else:
            assert text.strip(), question
    assert results[1][1].finish_reason == "length"  # 6 tokens cannot name three colors


def test_stream_pieces_join_to_the_answer_complete_gives(batched: LlamaCppChat) -> None:
    tokens = batched._tokens([HumanMessage("What is the capital of France?")])
    params = SamplingParams(temperature=0, max_tokens=16)
    batched.engine.reset()
    text, stats = batched.engine.complete(tokens, params)
    batched.engine.reset()
    items = list(batched.engine.stream(tokens, params))
    *pieces, last = items
    assert len(pieces) > 3 and "".join(pieces) == text
    assert last.completion_tokens == stats.completion_tokens
    assert "Paris" in text


def test_closing_one_stream_midway_leaves_the_others_whole(batched: LlamaCppChat) -> None:
    long = batched._tokens([HumanMessage("Write a long story about a dragon.")])
    results: dict[str, Any] = {}

    def answer(name: str, question: str) -> None:
        results[name] = batched.engine.complete(
            batched._tokens([HumanMessage(question)]), SamplingParams(temperature=0, max_tokens=12)
        )

    others = [
        threading.Thread(target=answer, args=(f"q{i}", q))
        for i, q in enumerate(["Name a fruit.", "Name an ocean.", "Name a planet."])
    ]
    stream = batched.engine.stream(long, SamplingParams(temperature=0, max_tokens=300))
    first = [next(stream) for _ in range(3)]
    for thread in others:
        thread.start()
    more = [next(stream) for _ in range(3)]
    stream.close()
    for thread in others:
        thread.join(timeout=300)
    assert all(isinstance(piece, str) for piece in first + more)
    assert sorted(results) == ["q0", "q1", "q2"]
    for text, stats in results.values():
        assert text.strip() and stats.completion_tokens <= 12
    # Its slot is free again: four answers at once still all finish.
    four = [threading.Thread(target=answer, args=(f"r{i}", "Say hi.")) for i in range(4)]
    for thread in four:
        thread.start()
    for thread in four:
        thread.join(timeout=300)
    assert all(results[f"r{i}"][0].strip() for i in range(4))


def test_a_follow_up_turn_reuses_the_prefix_its_slot_holds(batched: LlamaCppChat) -> None:
    first = [HumanMessage("Hi! My name is Maarten.")]
    reply = batched.invoke(first)
    follow_up = batched.invoke([*first, reply, HumanMessage("What is my name?")])
    cached = follow_up.usage_metadata["input_token_details"]["cache_read"]
    assert cached >= reply.usage_metadata["input_tokens"]


def test_a_failing_request_fails_alone(batched: LlamaCppChat) -> None:
    engine = batched.engine
    good = batched._tokens([HumanMessage("Name a color.")])
    outcomes: dict[str, Any] = {}

    def run(name: str, call: Any) -> None:
        try:
            outcomes[name] = call()
        except BaseException as err:  # noqa: BLE001 - the outcome under test
            outcomes[name] = err

    params = SamplingParams(temperature=0, max_tokens=8)
    calls = {
        "overflow": lambda: engine.complete(list(good) * 200, params),
        "bad grammar": lambda: _complete_with_source(engine, good, params, "root ::= ("),
        "good 1": lambda: engine.complete(good, params),
        "good 2": lambda: engine.complete(good, params),
    }
    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert isinstance(outcomes["overflow"], ContextOverflowError)
    assert isinstance(outcomes["bad grammar"], ValueError)
    for name in ("good 1", "good 2"):
        text, stats = outcomes[name]
        assert text.strip() and stats.finish_reason in ("stop", "length"), name


def _complete_with_source(engine: Any, tokens: list[int], params: SamplingParams, gbnf: str) -> Any:
    """A request carrying a grammar llama.cpp rejects, past the engine's own check."""
    done = threading.Event()
    request = engine.scheduler.submit(
        tokens,
        params,
        stop=None,
        grammar=(gbnf, "root"),
        emit=lambda _: None,
        cancel=threading.Event(),
        on_done=lambda _: done.set(),
    )
    done.wait(timeout=120)
    if request.error is not None:
        raise request.error
    return request.stats


def test_batch_and_abatch_answer_every_input(batched: LlamaCppChat) -> None:
    questions = [
        "Name a fruit.",
        "Name an ocean.",
        "Name a planet.",
        "Name a color.",
        "Name a tree.",
        "Name a bird.",
    ]
    batched.engine.scheduler.peak_running = 0
    answers = batched.batch(questions)
    assert batched.engine.scheduler.peak_running >= 2
    assert [bool(a.content.strip()) for a in answers] == [True] * 6
    assert all(a.usage_metadata["output_tokens"] <= 24 for a in answers)


def test_n_parallel_is_a_setting_and_one_keeps_the_single_context() -> None:
    from localchain.settings import Settings

    assert Settings(n_parallel=4).n_parallel == 4
    single = LlamaCppChat(n_ctx=512, seed=42)
    assert single.engine.scheduler is None
    with pytest.raises(ValueError):
        LlamaCppChat(n_ctx=512, n_parallel=0)


def test_the_reranker_and_the_eval_judge_use_the_parallel_slots(
    batched: LlamaCppChat, chat: LlamaCppChat
) -> None:
    from langchain_core.documents import Document

    from localchain.evals.harness import EvalSettings, _parallel_of
    from localchain.models.capabilities import capabilities
    from localchain.retrievers.llm_rerank import LLMReranker

    assert capabilities(batched).parallel == 4 and capabilities(chat).parallel == 1
    from localchain.evals import ConstrainedJudge

    assert EvalSettings().concurrency is None and _parallel_of(batched, None) == 4
    assert _parallel_of(ConstrainedJudge(batched), None) == 4
    assert _parallel_of(ConstrainedJudge(chat), None) == 1
    docs = [Document(text) for text in (
        "Paris is the capital of France.", "Bananas are yellow.", "France borders Spain.",
        "The Seine flows through Paris.", "Cats sleep a lot.")]  # fmt: skip
    batched.engine.scheduler.peak_running = 0
    scores = LLMReranker(llm=batched).score("What is the capital of France?", docs)
    assert len(scores) == 5 and set(scores) <= {0.0, 1.0}
    assert batched.engine.scheduler.peak_running >= 2  # judged together, not one by one
    # (Scores may differ from one-by-one judging: a batch's arithmetic differs a little
    # from a single sequence's, which can flip a 135M model's borderline yes/no.)
