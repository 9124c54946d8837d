"""The usage examples in the agent modules' docstrings run as written (model runs skipped)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import localchain.agents

# Each module and the number of its examples that run (not +SKIP): a module whose examples
# are lost, or all skipped, fails here instead of passing with nothing run. Raise a number
# when examples are added; lower it only when an example is removed on purpose.
MODULES = {
    "localchain.agents": 2,
    "localchain.agents.decoding": 11,
    "localchain.agents.examples": 8,
    "localchain.agents.executor": 4,
    "localchain.agents.grammar": 30,  # 3 examples moved to localchain.grammars
    "localchain.agents.guards": 10,
    "localchain.agents.parser": 11,
    "localchain.agents.prompt": 16,
    "localchain.agents.result": 11,
    "localchain.agents.tool_call": 11,
    "localchain.agents.trace": 7,
    "localchain.agents.tools.retriever": 17,
    "localchain.cli.agent": 2,
}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    assert result.attempted >= MODULES[name], (
        f"{name} ran {result.attempted} docstring examples, expected at least {MODULES[name]}"
    )


def test_every_agent_module_with_examples_is_listed() -> None:
    package = localchain.agents
    names = [package.__name__]
    names += [info.name for info in pkgutil.walk_packages(package.__path__, "localchain.agents.")]
    found = set()
    for name in names:
        # The tools' examples run in tests/agents/tools/test_docstrings.py.
        if name.startswith("localchain.agents.tools") and name not in MODULES:
            continue
        tests = doctest.DocTestFinder().find(importlib.import_module(name))
        if any(test.examples for test in tests):
            found.add(name)
    assert found <= set(MODULES), f"examples not run here: {sorted(found - set(MODULES))}"
    assert found == set(MODULES) - {"localchain.cli.agent"}  # the CLI is outside the package
