"""Parse-with-repair of ReAct replies (the path for backends without grammars)."""

from __future__ import annotations

import pytest

from localchain.agents.parser import match_tool_name, parse_step, strip_wrapping
from localchain.errors import StepParseError

TOOLS = ["calculator", "web_search"]


def test_exact_format_needs_no_repair() -> None:
    step = parse_step(" I should multiply.\nAction: calculator\nAction Input: 17 * 23", TOOLS)
    assert (step.kind, step.thought, step.tool, step.tool_input) == (
        "action", "I should multiply.", "calculator", "17 * 23",
    )  # fmt: skip
    assert step.repairs == []


def test_final_answer() -> None:
    step = parse_step(" I now know the final answer\nFinal Answer: 391 EUR", TOOLS)
    assert (step.kind, step.answer, step.thought) == (
        "final",
        "391 EUR",
        "I now know the final answer",
    )


@pytest.mark.parametrize(
    ("reply", "tool", "tool_input", "repair"),
    [
        ("Action: Calculator\nAction Input: 2+2", "calculator", "2+2", "tool name"),
        ("**Action:** [calculator]\n**Action Input:** 2+2", "calculator", "2+2", "tool name"),
        ("Action: the web_search tool\nAction Input: capital of France", "web_search",
         "capital of France", "tool name"),
        ("Action: calculater\nAction Input: 2+2", "calculator", "2+2", "tool name"),
        ("Action: calculator(17 * 23)", "calculator", "17 * 23", "input in parentheses"),
        ('Action: web_search\nAction Input: "capital of France"', "web_search",
         "capital of France", "input quotes"),
        ("Action: calculator\nAction Input: ```\n2 ** 10\n```", "calculator", "", None),
        ("Action: calculator\nAction Input: `2 ** 10`", "calculator", "2 ** 10", "input quotes"),
        ("action : calculator\naction input : 3*3", "calculator", "3*3", None),
    ],
)  # fmt: skip
def test_near_misses_are_repaired(
    reply: str, tool: str, tool_input: str, repair: str | None
) -> None:
    step = parse_step(reply, TOOLS)
    assert step.kind == "action" and step.tool == tool
    if tool_input:
        assert step.tool_input == tool_input
    if repair:
        assert repair in step.repairs


def test_invented_observation_is_ignored() -> None:
    reply = "Action: calculator\nAction Input: 2+2\nObservation: 5\nFinal Answer: 5"
    step = parse_step(reply, TOOLS)
    assert step.kind == "action" and step.tool_input == "2+2"
    assert "invented observation" in step.repairs


def test_action_and_final_answer_the_first_written_wins() -> None:
    first_final = parse_step("Final Answer: 4\nAction: calculator\nAction Input: 2+2", TOOLS)
    assert first_final.kind == "final" and first_final.answer.startswith("4")
    first_action = parse_step("Action: calculator\nAction Input: 2+2\nFinal Answer: 4", TOOLS)
    assert first_action.kind == "action"
    assert "both action and final answer" in first_action.repairs


def test_input_is_one_line_for_text_tools() -> None:
    step = parse_step("Action: web_search\nAction Input: capital\nof France", TOOLS)
    assert step.tool_input == "capital"


def test_json_arguments_for_tools_with_several() -> None:
    reply = "Action: convert\nAction Input: {'amount': 2000, 'rate': 0.85}"
    step = parse_step(reply, ["convert"], json_tools=["convert"])
    assert step.tool_input == {"amount": 2000, "rate": 0.85}
    assert "json quotes" in step.repairs
    with pytest.raises(StepParseError, match="JSON object"):
        parse_step(
            "Action: convert\nAction Input: 2000 at 0.85", ["convert"], json_tools=["convert"]
        )


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("The answer is probably 4.", "no 'Action:' line"),
        ("Action: weather\nAction Input: Paris", "'weather' is not a tool"),
        ("Action: calculator", "'Action Input:' line is missing"),
        ("Final Answer:   ", "Final Answer is empty"),
        ("", "no 'Action:' line"),
    ],
)
def test_unrepairable_replies_raise_with_a_reason_for_the_model(reply: str, reason: str) -> None:
    with pytest.raises(StepParseError) as caught:
        parse_step(reply, TOOLS)
    assert reason in caught.value.reason
    assert caught.value.raw == reply or reply.startswith(caught.value.raw)


def test_tool_name_matching() -> None:
    assert match_tool_name("calculator", TOOLS) == ("calculator", False)
    assert match_tool_name("WEB_SEARCH", TOOLS) == ("web_search", True)
    assert match_tool_name("search", TOOLS) == (None, False)


def test_strip_wrapping() -> None:
    assert strip_wrapping("```python\n2+2\n```") == ("2+2", True)
    assert strip_wrapping("“quoted”") == ("quoted", True)
    assert strip_wrapping("plain") == ("plain", False)
