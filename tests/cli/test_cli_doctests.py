"""The usage examples in the docstrings of localchain.cli run (those not marked SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["agent", "eval", "options", "output", "retrieve"]
"""The CLI modules with examples that run (stores and repl have only SKIP examples)."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"localchain.cli.{name}")
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0 and attempted > 0
