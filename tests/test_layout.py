"""The layers are visible in the folders, and the imports keep to them (docs/architecture.md)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("agents", "chains", "memory", "retrievers", "topics", "evals", "serve", "cli")


def _package_dirs() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]["package-dir"]


def _imports(path: Path) -> set[str]:
    """Every localchain module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "localchain"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else "core"


def test_every_layer_is_a_root_folder() -> None:
    mapping = _package_dirs()
    assert mapping["localchain"] == "localchain"
    for layer in FEATURES:
        assert mapping[f"localchain.{layer}"] == layer
        assert (ROOT / layer / "__init__.py").is_file()
    assert not (ROOT / "localchain" / "cli").exists()


def test_the_core_imports_no_feature_package() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "localchain").rglob("*.py")
        if path.name != "__main__.py"  # `python -m localchain` starts the CLI
        for module in _imports(path)
        if _layer(module) != "core"
    }
    assert not offenders, sorted(offenders)


def test_nothing_imports_the_cli() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for layer in ("localchain", *FEATURES[:-1])
        for path in (ROOT / layer).rglob("*.py")
        if path.name != "__main__.py"
        for module in _imports(path)
        if _layer(module) == "cli"
    }
    assert not offenders, sorted(offenders)


def test_agents_and_evals_are_not_imported_below_them() -> None:
    lower = ("chains", "memory", "retrievers", "topics")
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for layer in lower
        for path in (ROOT / layer).rglob("*.py")
        for module in _imports(path)
        if _layer(module) in ("agents", "evals")
    }
    assert not offenders, sorted(offenders)


def test_only_the_cli_imports_the_server() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for layer in ("localchain", *FEATURES[:-2])
        for path in (ROOT / layer).rglob("*.py")
        for module in _imports(path)
        if _layer(module) == "serve"
    }
    assert not offenders, sorted(offenders)


def test_imports_are_sorted_with_localchain_as_first_party() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.fail("ruff is part of the test extra; run scripts/setup.sh")
    folders = ["localchain", *FEATURES, "tests"]
    result = subprocess.run(
        [ruff, "check", "--select", "I", "--no-cache", *folders],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
