"""localchain.retrievers exports what its modules define, and its docstring example runs."""

from __future__ import annotations

import doctest

import localchain.retrievers as retrievers


def test_exports_resolve() -> None:
    missing = [name for name in retrievers.__all__ if not hasattr(retrievers, name)]
    assert missing == []
    assert len(set(retrievers.__all__)) == len(retrievers.__all__)


def test_docstring_example_runs() -> None:
    failures, tried = doctest.testmod(retrievers)
    assert failures == 0 and tried > 0
