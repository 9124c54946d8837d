"""Worked examples: the bank, the BM25 selector, and how the agent puts them in its prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_fakes import action, final
from fakes import ScriptedChat
from langchain_core.example_selectors import BaseExampleSelector

from localchain.agents import ReActAgent, ReActPrompt
from localchain.agents.examples import (
    EXAMPLE_BANK,
    BM25ExampleSelector,
    examples_for_tools,
    format_examples,
)
from localchain.agents.prompt import BOOK_REACT_TEMPLATE, CALCULATOR_EXAMPLES
from localchain.agents.tools import Calculator

QUESTIONS = Path(__file__).parents[2] / "bench" / "data" / "agent_questions.jsonl"


def test_calculator_examples_show_what_the_calculator_returns() -> None:
    calculator = Calculator()
    for example in examples_for_tools(["calculator"]):
        assert calculator.invoke(example["tool_input"]) == example["observation"], example


def test_no_example_is_a_benchmark_question() -> None:
    benchmark = {json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()}
    assert not benchmark & {example["question"] for example in EXAMPLE_BANK}


@pytest.mark.parametrize(
    ("question", "expected_input"),
    [
        ("How many seconds are in 9 hours?", "2.5 minutes to seconds"),
        ("A coat costs 90 dollars and is 20% off. What is the sale price?", "60 - 15% of 60"),
        ("Who wrote the novel Emma?", "wrote novel Dracula"),
    ],
)
def test_selector_puts_the_most_similar_example_last(question: str, expected_input: str) -> None:
    selector = BM25ExampleSelector(examples=list(EXAMPLE_BANK), k=3)
    picked = selector.select_examples({"input": question})
    assert len(picked) == 3 and picked[-1]["tool_input"] == expected_input


def test_selector_is_a_langchain_example_selector_and_validates() -> None:
    selector = BM25ExampleSelector(examples=[], k=2)
    assert isinstance(selector, BaseExampleSelector)
    assert selector.select_examples({"input": "anything"}) == []
    selector.add_example(dict(EXAMPLE_BANK[0]))
    assert selector.select_examples({"input": "multiply"}) == [dict(EXAMPLE_BANK[0])]
    with pytest.raises(ValueError, match="needs"):
        BM25ExampleSelector(examples=[{"question": "q"}])
    with pytest.raises(ValueError):
        BM25ExampleSelector(examples=[], k=0)


def make(**options: object) -> tuple[ReActAgent, ScriptedChat]:
    llm = ScriptedChat(replies=[action("calculator", "4 * 3600"), final("14400")])
    return ReActAgent(llm=llm, tools=[Calculator()], **options), llm  # type: ignore[arg-type]


def test_selected_examples_are_the_default_and_reach_the_prompt() -> None:
    agent, llm = make()
    assert agent.examples == "selected" and agent.example_count == 3
    agent.invoke("How many seconds are in 4 hours?")
    prompt = llm.prompt_text(0)
    assert "Examples:" in prompt and "Action Input: 2.5 minutes to seconds" in prompt
    assert "web_search" not in agent.examples_for("Who wrote Dracula?")  # tools it has only
    assert agent.examples_for("x").count("Question:") == 3


def test_no_examples_is_the_books_prompt_exactly() -> None:
    agent, llm = make(examples=None)
    agent.invoke("How many seconds are in 4 hours?")
    expected = ReActPrompt(template=BOOK_REACT_TEMPLATE).render(
        tools=[Calculator()], question="How many seconds are in 4 hours?"
    )
    assert llm.prompt_text(0) == expected and "\nExamples:\n" not in expected


def test_fixed_examples_custom_selectors_and_prompt_text() -> None:
    fixed, _ = make(examples="fixed")
    assert fixed.examples_for("anything") == CALCULATOR_EXAMPLES

    class First(BaseExampleSelector):
        def add_example(self, example: dict[str, str]) -> None: ...

        def select_examples(self, input_variables: dict[str, str]) -> list[dict]:
            return [dict(EXAMPLE_BANK[1])]

    custom, _ = make(examples=First())
    assert custom.examples_for("q") == format_examples([EXAMPLE_BANK[1]])
    own, _ = make(prompt=ReActPrompt(examples="Question: mine"))
    assert own.examples_for("q") == ""  # the prompt's own text wins, and is shown
    with pytest.raises(ValueError):
        make(examples="random")
