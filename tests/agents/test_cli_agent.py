"""`localchain agent` as a user runs it: a subprocess, JSON on stdout, the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localchain", "agent", *args],
        capture_output=True, text=True, timeout=900, cwd=cwd,
    )  # fmt: skip


def test_json_output(tmp_path: Path) -> None:
    done = run_cli("What is 17 * 23?", "--tools", "calculator", "--json", "--n-ctx", "2048",
                   "--verbose", "--max-seconds", "600", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # exactly one JSON object: the trace went to stderr
    assert set(data) >= {"input", "output", "intermediate_steps", "stopped_reason"}
    assert data["input"] == "What is 17 * 23?"
    assert "391" in data["output"]
    assert data["intermediate_steps"][0] == {
        "tool": "calculator", "tool_input": "17 * 23", "observation": "391",
    }  # fmt: skip
    assert data["stopped_reason"] in ("final_answer", "repeated_action", "stalled")
    assert "Action: calculator" in done.stderr


def test_unknown_tool_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("hi", "--tools", "calculator,weather", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown tool(s) weather" in done.stderr


def test_worked_examples_and_required_tool_choice(tmp_path: Path) -> None:
    # The question of test_react_model's tool_choice test: with worked examples in the prompt
    # the embedded model answers it from memory unless a tool call is required first.
    question = "Convert 5 miles to kilometers. One mile is 1.609 kilometers."
    common = ("--json", "--n-ctx", "2048", "--max-seconds", "600", "--examples", "fixed")
    auto = json.loads(run_cli(question, *common, "--tool-choice", "auto", cwd=tmp_path).stdout)
    assert auto["intermediate_steps"] == [] and "8.045" not in auto["output"]
    done = run_cli(question, *common, cwd=tmp_path)  # tool_choice="required" by default
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["intermediate_steps"][0] == {
        "tool": "calculator", "tool_input": "5 * 1.609", "observation": "8.045",
    }  # fmt: skip
    assert "8.045" in data["output"]


def test_unknown_tool_choice_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("hi", "--tool-choice", "always", cwd=tmp_path)
    assert done.returncode == 2
    message = " ".join(done.stderr.replace("│", " ").split())  # rich wraps it in a box
    assert "Invalid value for '--tool-choice'" in message
    assert "'always' is not one of 'auto', 'required'" in message
