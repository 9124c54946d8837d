"""The packages that import their exports lazily list every name twice: in ``__all__``
(read by the docs and ``import *``) and in the submodule map of ``_lazy_exports``. This
keeps the two lists the same, and every name importable."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "localchain",
    "localchain.agents",
    "localchain.retrievers",
    "localchain.evals",
    "localchain.topics",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_and_the_lazy_map_name_the_same_exports(name: str) -> None:
    package = importlib.import_module(name)
    lazy = {n for n in package.__dir__() if n not in vars(package) or n in package.__all__}
    missing = sorted(n for n in package.__all__ if not hasattr(package, n))
    assert not missing, f"in {name}.__all__ but not importable: {missing}"
    unlisted = sorted(n for n in lazy - set(package.__all__) if not n.startswith("_"))
    assert not unlisted, f"lazily exported by {name} but not in __all__: {unlisted}"
