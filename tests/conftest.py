"""Shared fixtures: the real embedded model, and settings isolated from the user's machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_settings import TEST_CTX, llama_server

from localchain.models import LlamaCppChat, embedded_model_path


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (``nohup make test &``) inherits Ctrl-C ignored, and
    the Ctrl-C tests (in this process and in the CLI processes it starts) would get no
    signal: give SIGINT Python's default handler back."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No LOCALCHAIN_* variables, config files or saved sessions from the machine leak in."""
    for name in list(os.environ):
        if name.startswith("LOCALCHAIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def chat() -> LlamaCppChat:
    """The embedded model, greedy, with a short answer budget."""
    return LlamaCppChat(temperature=0, max_tokens=48, n_ctx=TEST_CTX, seed=42)


@pytest.fixture(scope="session")
def server_url(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, serving the embedded
    model as ``smollm2``; one for the whole run."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with llama_server(model_path, log) as url:
        yield url
