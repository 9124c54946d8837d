"""The docstring examples of localchain.topics run (after the other topic tests: numba has
compiled UMAP by then)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["labels", "metrics", "results", "progress", "fit", "report", "backend"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"localchain.topics.{name}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0 and result.attempted > 0
