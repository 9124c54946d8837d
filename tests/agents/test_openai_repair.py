"""The parse-with-repair path against a real OpenAI-compatible server: llama-cpp-python's own
server on 127.0.0.1 serving the embedded model, reached through langchain-openai."""

from __future__ import annotations


import pytest

from localchain import load_chat_model
from localchain.agents import ReActAgent
from localchain.agents.tools import Calculator
from localchain.models import OpenAICompatibleChat

pytestmark = pytest.mark.slow


def test_repair_path_on_an_openai_compatible_server(server_url: str) -> None:
    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=128)
    assert isinstance(chat, OpenAICompatibleChat)
    agent = ReActAgent(llm=chat, tools=[Calculator()], max_iterations=4, max_seconds=600)
    assert agent.uses_grammar is False
    events = list(agent.stream({"input": "What is 15% of 840?"}))
    result = events[-1]
    assert result["grammar"] is False
    # Every unparseable reply was counted, reported as an event and retried.
    failures = [event for event in events if "parse_failure" in event]
    assert result["parse_failures"] == len(failures)
    assert all(1 <= event["attempt"] <= 3 for event in failures)  # max_parse_retries=2
    assert sum("parse failure" in notice for notice in result["notices"]) == len(failures)
    assert result["stopped_reason"] in ("final_answer", "repeated_action", "stalled",
                                        "parse_failures")  # fmt: skip
    assert result["output"].strip()
    assert all(step.tool == "calculator" for step in result["intermediate_steps"])
