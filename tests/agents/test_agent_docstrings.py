"""The usage examples in the agent modules' docstrings run as written (model runs skipped)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "localchain.agents",
    "localchain.agents.decoding",
    "localchain.agents.executor",
    "localchain.agents.grammar",
    "localchain.agents.guards",
    "localchain.agents.parser",
    "localchain.agents.prompt",
    "localchain.agents.result",
    "localchain.agents.tool_call",
    "localchain.agents.trace",
    "localchain.agents.tools.retriever",
    "localchain.cli.agent",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
