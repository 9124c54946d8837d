"""Fixtures of the CLI tests: the commands run as a user runs them, in a subprocess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_process import localchain

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"


@pytest.fixture(scope="session")
def interstellar_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 15 Interstellar chunks (split on "."), indexed by `localchain index`."""
    folder = tmp_path_factory.mktemp("films")
    shutil.copy(INTERSTELLAR, folder / "interstellar.txt")
    result = localchain("index", str(folder), "--store", str(folder / "store"),
                        "--chunker", "separator", cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    return folder / "store"
