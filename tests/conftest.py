"""Shared fixtures: the real embedded model, and settings isolated from the user's machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localchain.models import LlamaCppChat, embedded_model_path

from model_settings import TEST_CTX


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
