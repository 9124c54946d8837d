"""The parse-with-repair path against a real OpenAI-compatible server: llama-cpp-python's own
server on 127.0.0.1 serving the embedded model, reached through langchain-openai."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from localchain import load_chat_model
from localchain.agents import ReActAgent
from localchain.agents.tools import Calculator
from localchain.models import OpenAICompatibleChat

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
             "--model_alias", "smollm2"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log_tail = log.read_text()[-3000:]
                    raise RuntimeError(f"server did not start:\n{log_tail}") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


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
