"""The localchain command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "localchain", *args], cwd=cwd, input=stdin, text=True,
        capture_output=True, env=environ, timeout=timeout,
    )


TOP_LEVEL = {"agent", "ask", "chat", "config", "eval", "index", "models", "rag", "retrieve"}
"""Every command the app must register; dropping one fails the help tests."""
SUB_COMMANDS = {"rag ask"}
MODEL_COMMANDS = ["agent", "ask", "chat", "models", "rag ask", "serve", "topics"]
"""The commands that load a chat model, and so take every model option."""
PARTIAL_MODEL_COMMANDS = {
    "eval": {"model", "n_ctx", "n_parallel", "max_tokens"},
    "retrieve": {"model", "n_ctx"},
}
"""Commands that load a model only as a judge or reranker, at temperature 0, and take the
model options that matter for that."""
MODEL_OPTIONS = {
    "model": (["--model", "-m"], "GGUF path (or model name for a remote backend)."),
    "backend": (["--backend"], "llamacpp, openai or cohere."),
    "base_url": (["--base-url"], "OpenAI-compatible server URL (selects openai)."),
    "temperature": (["--temperature", "-t"], "Sampling temperature."),
    "max_tokens": (["--max-tokens"], "Most tokens per answer."),
    "n_ctx": (["--n-ctx"], "Context window in tokens."),
    "n_parallel": (["--n-parallel"], "Answers a local model decodes together (batched decoding)."),
    "seed": (["--seed"], "Sampling seed."),
    "chat_template": (
        ["--chat-template"], "Built-in template name or Jinja text (local models)."
    ),
}


def commands() -> dict[str, Any]:
    """Every command the Typer app registers, by its path ("rag ask"), with click's object."""
    import typer

    from localchain.cli import app

    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            found[" ".join([*path, name])] = sub
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_the_app_registers_the_known_commands() -> None:
    registered = set(commands())
    assert TOP_LEVEL | SUB_COMMANDS <= registered
    assert set(MODEL_COMMANDS) <= registered


def test_help_lists_commands(tmp_path: Path) -> None:
    top = {path for path in commands() if " " not in path}
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in top | TOP_LEVEL:
        assert command in result.stdout
    rag = run("rag", "--help", cwd=tmp_path)
    assert rag.returncode == 0 and "ask" in rag.stdout


def test_every_command_has_help(capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from localchain.cli import main

    monkeypatch.setenv("COLUMNS", "240")  # one option per line in rich's help table
    found = commands()
    for path in sorted(set(found) | TOP_LEVEL | SUB_COMMANDS):
        assert path in found, f"{path} is not registered"
        assert main([*path.split(), "--help"]) == 0, path
        shown = capsys.readouterr().out
        assert f"Usage: localchain {path}" in shown
        first_line = (found[path].help or "").strip().splitlines()[0]
        assert first_line and first_line in shown, path
        for param in found[path].params:
            if param.param_type_name == "option":
                assert param.opts[0] in shown, f"{path} --help does not show {param.opts[0]}"


def model_params(command: Any) -> dict[str, tuple[list[str], str | None, Any]]:
    return {
        p.name: (list(p.opts), p.help, p.default) for p in command.params if p.name in MODEL_OPTIONS
    }


def test_every_model_command_takes_the_same_model_options() -> None:
    found = commands()
    expected = {name: (opts, help_, None) for name, (opts, help_) in MODEL_OPTIONS.items()}
    for path in MODEL_COMMANDS:
        assert model_params(found[path]) == expected, path


def test_no_other_command_grows_its_own_model_options() -> None:
    found = commands()
    for path, command in found.items():
        if path in MODEL_COMMANDS:
            continue
        assert set(model_params(command)) == PARTIAL_MODEL_COMMANDS.get(path, set()), path


def test_model_options_make_the_settings() -> None:
    from localchain.cli.options import ModelOptions
    from localchain.settings import Settings

    settings = ModelOptions(
        model="other.gguf", backend="llamacpp", base_url="http://127.0.0.1:1/v1",
        temperature=0.7, max_tokens=12, n_ctx=1024, seed=5, chat_template="chatml",
    ).settings()  # fmt: skip
    assert (settings.model, settings.backend, settings.base_url) == (
        "other.gguf", "llamacpp", "http://127.0.0.1:1/v1"
    )
    assert (settings.temperature, settings.max_tokens, settings.n_ctx) == (0.7, 12, 1024)
    assert (settings.seed, settings.chat_template) == (5, "chatml")
    assert ModelOptions().settings() == Settings()  # not given: env, TOML, defaults


class Loaded(Exception):
    """Raised by the stand-in for load_chat_model, carrying the settings it was given."""

    def __init__(self, settings: Any) -> None:
        super().__init__("loaded")
        self.settings = settings


@pytest.mark.parametrize("path", MODEL_COMMANDS)
def test_every_model_command_loads_with_the_options_given(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from localchain.cli import main
    from localchain.models import registry

    def load_chat_model(*, settings: Any, **overrides: Any) -> Any:
        raise Loaded(settings)

    # The commands import load_chat_model when they run (start-up stays light), so the
    # stand-in replaces it where they import it from.
    monkeypatch.setattr(registry, "load_chat_model", load_chat_model)
    arguments = {
        "agent": ["agent", "What is 2 + 2?"],
        "ask": ["ask", "hi"],
        "chat": ["chat", "--sessions", str(tmp_path / "s.db")],
        "models": ["models"],
        # rerank loads the model before it opens the store
        "rag ask": ["rag", "ask", "hi", "--store", str(tmp_path), "--mode", "rerank"],
        "serve": ["serve", "--sessions", str(tmp_path / "s.db"), "--port", "0"],
        # topics opens the index before it loads the model that writes the labels
        "topics": ["topics", "--store", str(request.getfixturevalue("interstellar_store"))]
        if path == "topics" else [],
    }[path]
    options = ["-m", "other.gguf", "--backend", "llamacpp", "--base-url", "http://127.0.0.1:1/v1",
               "-t", "0.7", "--max-tokens", "12", "--n-ctx", "1024", "--seed", "5",
               "--chat-template", "chatml"]
    with pytest.raises(Loaded) as loaded:
        main([*arguments, *options])
    settings = loaded.value.settings
    assert (settings.model, settings.backend, settings.base_url) == (
        "other.gguf", "llamacpp", "http://127.0.0.1:1/v1"
    )
    assert (settings.temperature, settings.max_tokens, settings.n_ctx) == (0.7, 12, 1024)
    assert (settings.seed, settings.chat_template) == (5, "chatml")


def test_chat_seed_reaches_the_sampler(tmp_path: Path) -> None:
    def answer(seed: str) -> str:
        result = run("chat", "--seed", seed, "-t", "1.5", "--n-ctx", "2048", "--max-tokens", "24",
                     "--sessions", str(tmp_path / "s.db"), cwd=tmp_path,
                     stdin="Tell me a story about a cat.\n/exit\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("bot> ") == 1
        return result.stdout.split("bot> ", 1)[1].strip()

    first = answer("1")
    assert first and answer("1") == first
    assert answer("2") != first


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
    # echo "What is 2 + 2?" | localchain ask -: the line break echo adds is not the question's
    result = run("ask", "-", "--json", "--n-ctx", "2048", "--max-tokens", "16",
                 cwd=tmp_path, stdin="What is 2 + 2?\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["question"] == "What is 2 + 2?"
    two_lines = run("ask", "-", "--json", "--n-ctx", "2048", "--max-tokens", "16",
                    cwd=tmp_path, stdin="What is 2 + 2?\nAnswer with a number.\r\n\n")
    assert json.loads(two_lines.stdout)["question"] == "What is 2 + 2?\nAnswer with a number."


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


def test_models_text_in_a_pipe_prints_every_value_whole(tmp_path: Path, model_path: Path) -> None:
    result = run("models", "--n-ctx", "2048", cwd=tmp_path)  # stdout is a pipe here
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["path"] == str(model_path)  # rich cut it to "…/Smo…" at 80 columns
    assert rows["quantization"] == "Q4_1" and rows["n_ctx"] == "2048"
    assert rows["chat_template"] == "gguf (chatml)"


def test_config_text_in_a_pipe_prints_every_value_whole(tmp_path: Path) -> None:
    model = str(tmp_path / ("a-long-folder-name-" * 5) / "SmolLM2-135M-Instruct.Q4_1.gguf")
    result = run("config", cwd=tmp_path, env={"LOCALCHAIN_MODEL": model})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["setting", "value", "source"]
    assert next(line for line in lines if line.startswith("model ")).split() == [
        "model", model, "env", "LOCALCHAIN_MODEL"]


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
