"""Tool calling on the OpenAI-compatible path: ``bind_tools`` passes through langchain-openai
to llama-cpp-python's server on 127.0.0.1, started here with a function-calling chat format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from model_settings import llama_server

from localchain import load_chat_model

pytestmark = pytest.mark.slow


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture(scope="module")
def tools_url(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("tools-server") / "server.log"
    with llama_server(model_path, log, "--chat_format", "chatml-function-calling") as url:
        yield url


def test_tool_calls_round_trip_through_the_server(tools_url: str) -> None:
    chat = load_chat_model("smollm2", base_url=tools_url, temperature=0, max_tokens=64)
    bound = chat.bind_tools([add], tool_choice={"type": "function", "function": {"name": "add"}})
    question = HumanMessage("Add 2 and 3.")
    reply = bound.invoke([question])
    (call,) = reply.tool_calls
    assert call["name"] == "add" and set(call["args"]) == {"a", "b"}
    assert call["id"]  # the server's id, which the ToolMessage answers
    result = ToolMessage(str(add(**call["args"])), tool_call_id=call["id"])
    # The server takes the tool result back; the model answers in text.
    answer = chat.bind_tools([add], tool_choice="none").invoke([question, reply, result])
    assert isinstance(answer, AIMessage) and not answer.tool_calls
