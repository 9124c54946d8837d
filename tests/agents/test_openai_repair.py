"""The parse-with-repair path against a real OpenAI-compatible server: llama-cpp-python's own
server on 127.0.0.1 serving the embedded model, reached through langchain-openai.

Without grammars the 135M model does not call the calculator for the book's question: it
answers in one reply, wrongly ("3"; 15% of 840 is 126), in every variant tried (worked
examples, ``tool_choice="required"``, other phrasings and sums). Greedy decoding makes
those replies the same on every run, so what is checked is the path each one takes: a
reply that parses ends the run at once; replies sent back are counted, reported and
retried until the final answer is forced.
"""

from __future__ import annotations

from typing import Any

import pytest

from localchain import load_chat_model
from localchain.agents import ReActAgent
from localchain.agents.tools import Calculator
from localchain.models import OpenAICompatibleChat

pytestmark = pytest.mark.slow

QUESTION = "What is 15% of 840?"


def run(server_url: str, **options: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=128)
    assert isinstance(chat, OpenAICompatibleChat)
    # The book's prompt (no examples) and the plain calculator's description: the scenario
    # these tests pin down (the units description changes the model's greedy reply).
    options = {"examples": None, "tool_choice": "auto", **options}
    agent = ReActAgent(llm=chat, tools=[Calculator(units=False)], max_iterations=4,
                       max_seconds=600, **options)  # fmt: skip
    assert agent.uses_grammar is False
    events = list(agent.stream({"input": QUESTION}))
    result = events[-1]
    assert result["grammar"] is False
    # Every unparseable reply was counted, reported as an event and retried.
    failures = [event for event in events if "parse_failure" in event]
    assert result["parse_failures"] == len(failures)
    assert sum("parse failure" in notice for notice in result["notices"]) == len(failures)
    return failures, result


def test_a_direct_answer_parses_and_ends_the_run(server_url: str) -> None:
    failures, result = run(server_url)
    assert result["stopped_reason"] == "final_answer"
    assert result["output"] == "3"  # the model's own (wrong) sum: no tool was called
    assert failures == [] and result["repaired"] == 0
    assert result["intermediate_steps"] == [] and result["notices"] == []


def test_repair_path_on_an_openai_compatible_server(server_url: str) -> None:
    # A tool is required: the model's direct answer is sent back with a correction each time.
    failures, result = run(server_url, tool_choice="required")
    assert [event["attempt"] for event in failures] == [1, 2, 3]  # max_parse_retries=2
    assert {event["parse_failure"] for event in failures} == {
        "a tool must be called before the Final Answer"
    }
    assert all(event["raw"].endswith("Final Answer: 3") for event in failures)
    assert result["stopped_reason"] == "parse_failures"
    forced = "the replies kept breaking the format: asking for the final answer"
    assert result["notices"][-1] == forced
    assert result["output"] == "15% of 840 = (15 * 2) / 100 = 3.5"  # forced, still no tool
    assert result["intermediate_steps"] == []
