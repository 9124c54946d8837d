"""The usage examples in the docstrings of localchain.evals run (those not marked SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["calibration", "compare", "dataset", "embeddings", "harness", "judge", "metrics",
           "pytest_plugin", "report", "results", "targets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"localchain.evals.{name}")
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0
