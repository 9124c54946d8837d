"""The localchain command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "localchain", *args], cwd=cwd, input=stdin, text=True,
        capture_output=True, env=environ, timeout=timeout,
    )


def test_help_lists_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("ask", "chat", "models", "config"):
        assert command in result.stdout


def test_ask_json(tmp_path: Path) -> None:
    result = run("ask", "What is the capital of France? Answer with one word.", "--json",
                 "--n-ctx", "2048", "--max-tokens", "32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert "Paris" in data["answer"]
    assert data["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert data["finish_reason"] == "stop"
    assert data["usage"]["output_tokens"] > 0
    assert data["timings"]["prompt_eval_s"] > 0 and data["timings"]["load_s"] > 0


def test_ask_streams_text_matching_json_answer(tmp_path: Path) -> None:
    args = ("ask", "What is 2 + 2?", "--n-ctx", "2048", "--max-tokens", "32")
    text = run(*args, cwd=tmp_path)
    as_json = run(*args, "--json", cwd=tmp_path)
    assert text.returncode == 0 and as_json.returncode == 0
    assert text.stdout == json.loads(as_json.stdout)["answer"] + "\n"


def test_ask_reads_question_from_stdin(tmp_path: Path) -> None:
    result = run("ask", "-", "--json", "--n-ctx", "2048", "--max-tokens", "16",
                 cwd=tmp_path, stdin="What is 2 + 2?")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["question"] == "What is 2 + 2?"


def test_missing_model_is_an_error_on_stderr(tmp_path: Path) -> None:
    result = run("ask", "hi", "--json", "--model", str(tmp_path / "missing.gguf"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "model file not found" in result.stderr and "missing.gguf" in result.stderr


def test_not_gguf_is_an_error_on_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_text("hello")
    result = run("models", "--model", str(fake), cwd=tmp_path)
    assert result.returncode == 1
    assert "not a GGUF file" in result.stderr


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    result = run("ask", "hi", "--max-tokens", "many", cwd=tmp_path)
    assert result.returncode == 2
    assert "max-tokens" in result.stderr


def test_models_json(tmp_path: Path) -> None:
    result = run("models", "--json", "--n-ctx", "2048", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "llamacpp"
    assert data["quantization"] == "Q4_1"
    assert data["context_length"] == 8192 and data["n_ctx"] == 2048
    assert data["chat_template"] == "gguf (chatml)"
    assert data["size_bytes"] == Path(data["path"]).stat().st_size


def test_config_json_shows_sources(tmp_path: Path) -> None:
    (tmp_path / "localchain.toml").write_text("n_ctx = 1024\n")
    result = run("config", "--json", cwd=tmp_path,
                 env={"LOCALCHAIN_TEMPERATURE": "0.4", "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["n_ctx"] == {"value": 1024, "source": str(tmp_path / "localchain.toml")}
    assert settings["temperature"] == {"value": 0.4, "source": "env LOCALCHAIN_TEMPERATURE"}
    assert settings["seed"]["source"] == "default"


def test_config_text(tmp_path: Path) -> None:
    result = run("config", cwd=tmp_path, env={"LOCALCHAIN_SEED": "9"})
    assert result.returncode == 0
    assert "env LOCALCHAIN_SEED" in result.stdout


@pytest.mark.parametrize("command", ["ask", "models"])
def test_openai_url_that_does_not_answer(tmp_path: Path, command: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["--base-url", f"http://127.0.0.1:{port}/v1"]
    if command == "ask":
        result = run("ask", "hi", *args, cwd=tmp_path, env={"LOCALCHAIN_MAX_RETRIES": "0"})
        assert result.returncode == 1
        assert f"127.0.0.1:{port}" in result.stderr
    else:
        result = run("models", "--json", *args, cwd=tmp_path)
        assert result.returncode == 0
        assert json.loads(result.stdout)["backend"] == "openai"
