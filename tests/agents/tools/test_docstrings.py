"""The usage examples in the tools' docstrings run as written (network examples are skipped)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "localchain.agents.tools",
    "localchain.agents.tools.calculator",
    "localchain.agents.tools._expression_text",
    "localchain.agents.tools.units",
    "localchain.agents.tools.web_search",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    if name.endswith(("calculator", "_expression_text", "units")):
        assert result.attempted > 0
