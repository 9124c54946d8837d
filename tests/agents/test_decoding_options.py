"""Self-consistency over the calculator's input and answers that must quote the result:
the GrammarDecoder's mechanics, with its model calls scripted (no model loaded)."""

from __future__ import annotations

from typing import Any

import pytest

from localchain.agents.decoding import GrammarDecoder, StepContext, StepLimits
from localchain.agents.grammar import answer_grammar, result_value
from localchain.agents.prompt import ReActPrompt
from localchain.agents.tools import Calculator


class Scripted(GrammarDecoder):
    """A GrammarDecoder whose model calls return scripted text and are recorded."""

    def __init__(self, outputs: list[str], **options: Any) -> None:
        calculator = Calculator()
        self.prompt, self.tools, self.limits = ReActPrompt(), [calculator], StepLimits()
        self.by_name = {"calculator": calculator}
        self.input_grammars, self.ground_numbers, self.ground_queries = {}, True, True
        self.samples = options.get("samples", 1)
        self.sample_temperature = options.get("sample_temperature", 0.8)
        self.quote_result = options.get("quote_result", False)
        self.outputs, self.calls = list(outputs), []

    def prefix(self, ctx: StepContext) -> str:
        return "prompt"

    def _generate(self, ctx: StepContext, text: str, **options: Any) -> str:  # type: ignore[override]
        self.calls.append(options)
        return self.outputs.pop(0)


def context(*results: str) -> StepContext:
    return StepContext(question="What is 2 + 2?", history=None, scratchpad="",
                       texts_in_view=["What is 2 + 2?"], results=list(results))  # fmt: skip


@pytest.mark.parametrize(
    ("greedy", "sampled", "chosen"),
    [
        ("2 + 3", [" 2 + 2", " 2 * 2"], "2 + 2"),  # 4 twice beats 5 once
        ("2 + 2", [" 2 * 3", " 2 + 5"], "2 + 2"),  # all differ: greedy breaks the tie
        ("2 / 0", [" 2 * 3", " 2 ** 9 ** 9"], "2 * 3"),  # an error never wins
        ("2 / 0", [" 1 / 0", " sqrt(-1)"], "2 / 0"),  # all errors: greedy
    ],
)
def test_vote_acts_on_the_majority_result(greedy: str, sampled: list[str], chosen: str) -> None:
    decoder = Scripted(sampled, samples=3, sample_temperature=0.7)
    ctx = context()
    assert decoder._vote(ctx, "prompt", "grammar", decoder.by_name["calculator"], greedy) == chosen
    # Two extra samples, each under the input grammar, at the temperature, with its own seed.
    assert [(c["temperature"], c["seed"], c["grammar"]) for c in decoder.calls] == [
        (0.7, 1, "grammar"),
        (0.7, 2, "grammar"),
    ]


def test_decode_samples_only_for_pure_tools_and_only_when_asked() -> None:
    step = [" I add.", "Action: calculator", " 2 + 3\n"]
    greedy_only = Scripted(step)
    parsed = _run(greedy_only.decode(context()))
    assert parsed.tool_input == "2 + 3" and len(greedy_only.calls) == 3
    voting = Scripted([*step, " 2 + 2\n", " 2 * 2\n"], samples=3)
    ctx = context()
    parsed = _run(voting.decode(ctx))
    assert parsed.tool_input == "2 + 2" and len(voting.calls) == 5
    assert ctx.notices == ["self-consistency: 2 of 3 inputs for calculator gave 4 (greedy: 5)"]
    impure = Scripted(step, samples=3)
    impure.by_name["calculator"].pure = False  # a tool with side effects is never re-run
    assert _run(impure.decode(context())).tool_input == "2 + 3" and len(impure.calls) == 3


def _run(generator: Any) -> Any:
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        return stop.value


def test_answer_must_quote_the_last_result_when_asked() -> None:
    quoting = Scripted([" The answer is 25200 seconds."], quote_result=True)
    ctx = context("25200 s")
    assert quoting._answer(ctx, "prompt") == "The answer is 25200 seconds."
    assert quoting.calls[0]["grammar"] == answer_grammar(["25200 s"], require="25200")
    plain = Scripted([" 25200"], quote_result=False)
    plain._answer(context("25200 s"), "prompt")
    assert plain.calls[0]["grammar"] == answer_grammar(["25200 s"])
    # A passage is not one value: nothing to quote, numbers grounded as before.
    passage = Scripted([" Canberra"], quote_result=True)
    passage._answer(context("Canberra is the capital of Australia."), "prompt")
    assert passage.calls[0]["grammar"] == answer_grammar(["Canberra is the capital of Australia."])


def test_quoting_grammar_requires_the_result_or_says_it_is_not_the_answer() -> None:
    grammar = answer_grammar(["178377"], require="178377")
    assert 'req ::= "178377"' in grammar
    assert '"The result " req " is not the answer:"' in grammar
    root = grammar.splitlines()[0]
    assert root.count("req") == 3  # every alternative quotes the result
    assert result_value("294 km") == "294" and result_value("-3.5") == "-3.5"
    assert result_value("cannot calculate '1/0': division by zero") is None
