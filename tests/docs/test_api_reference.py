"""The documentation site builds cleanly, its API reference shows every public name, and every
public class and function has a usage example that runs.

The site is built once per run with ``mkdocs build --strict`` (mkdocs.yml at the repository
root), into a temporary folder.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import griffe
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Package -> its reference page (docs/reference/<page>.md). localchain.errors is documented
# on the top-level page: the errors the subpackages raise are listed there too.
PAGES = {
    "localchain": "localchain",
    "localchain.errors": "localchain",
    "localchain.models": "models",
    "localchain.chains": "chains",
    "localchain.memory": "memory",
    "localchain.agents": "agents",
    "localchain.agents.tools": "tools",
    "localchain.retrievers": "retrievers",
    "localchain.evals": "evals",
    "localchain.topics": "topics",
}

# Modules whose docstring examples no other test runs. The agents, tools, retrievers, evals
# and RAG chain modules have their own doctest runs beside their tests.
LIGHT_DOCTESTS = [
    "localchain.errors",
    "localchain.settings",
    "localchain.gguf",
    "localchain.models.embedded",
    "localchain.models.openai_compat",
    "localchain.models.templates",
    "localchain.models.tool_calling",
    "localchain.chains",
    "localchain.chains.sequential",
    "localchain.chains.story",
    "localchain.memory",
    "localchain.memory.base",
    "localchain.memory.buffer",
    "localchain.memory.history",
    "localchain.memory.sqlite",
    "localchain.memory.summary",
    "localchain.memory.window",
    "localchain.evals",
]
# These load the embedded model, unload engines or register backends: they run in a process
# of their own, so nothing they do reaches the other tests.
MODEL_DOCTESTS = [
    "localchain",
    "localchain.models",
    "localchain.models.engine",
    "localchain.models.llamacpp",
    "localchain.models.registry",
    "localchain.chains.chat",
    "localchain.chains.prompt",
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _load_hook() -> ModuleType:
    """The mkdocs hook that lays the sources out for griffe (docs/reference/package_dir.py)."""
    spec = importlib.util.spec_from_file_location(
        "localchain_docs_package_dir", ROOT / "docs" / "reference" / "package_dir.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    site = tmp_path_factory.mktemp("site")
    process = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return process, site


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> griffe.Module:
    """localchain as griffe reads it (for the docstrings of constants, which only the source
    has), with the same docstring rewriting as the site."""
    tree = _load_hook().build_source_tree(tmp_path_factory.mktemp("api-src"))
    extensions = griffe.load_extensions(str(ROOT / "docs" / "reference" / "docstring_markup.py"))
    # try_relative_path=False: from the repository root, "localchain" is also a folder.
    return griffe.load(
        "localchain",
        search_paths=[str(tree)],
        try_relative_path=False,
        allow_inspection=False,
        extensions=extensions,
    )


def test_strict_build_has_no_warnings(build: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    process, site = build
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert not [line for line in output.splitlines() if "WARNING" in line], output
    assert (site / "reference" / "index.html").is_file()


@pytest.mark.parametrize("package", PAGES)
def test_reference_page_shows_every_public_name(
    package: str, build: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    process, site = build
    assert process.returncode == 0, process.stdout + process.stderr
    page = (site / "reference" / PAGES[package] / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(localchain[\w.]*)"', page))
    # The anchor is the exported name (localchain.memory.WindowMemory); a function named like
    # its module is rendered from the module (localchain.chains.sequential.sequential), and
    # the top-level page shows errors as exported (localchain.X) or not (localchain.errors.X).
    prefix = "localchain" if PAGES[package] == "localchain" else package
    missing = [
        name for name in importlib.import_module(package).__all__
        if not any(a.startswith(f"{prefix}.") and a.endswith(f".{name}") for a in anchors)
    ]  # fmt: skip
    assert not missing, f"not on reference/{PAGES[package]}.md: {missing}"
    # Examples are shown as code, not as Markdown text.
    assert "&gt;&gt;&gt;" in page and "<p>&gt;&gt;&gt;" not in page


def _has_example(doc: str) -> bool:
    if ">>>" in doc:
        return True
    heading = re.search(r"^\s*Examples?:\s*$", doc, re.MULTILINE)
    return heading is not None and "```" in doc[heading.end() :]


def _own_docstring(obj: Any) -> str:
    if inspect.isclass(obj):
        return vars(obj).get("__doc__") or ""
    return obj.__doc__ or ""


@pytest.mark.parametrize("package", PAGES)
def test_public_names_have_docstrings_with_examples(package: str, sources: griffe.Module) -> None:
    module = importlib.import_module(package)
    parsed = sources if package == "localchain" else sources[package.removeprefix("localchain.")]
    without_example, without_docstring = [], []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not _has_example(_own_docstring(obj)):
                without_example.append(name)
            continue
        # A constant (string, dict, tuple, type alias): the docstring under its assignment.
        member = parsed.members[name]
        while member.is_alias:
            member = member.target
        if member.docstring is None or not member.docstring.value.strip():
            without_docstring.append(name)
    assert not without_example, f"{package}: no usage example in the docstring of {without_example}"
    assert not without_docstring, f"{package}: no docstring under {without_docstring}"


@pytest.mark.parametrize("name", LIGHT_DOCTESTS)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    assert result.attempted > 0


_RUN_DOCTESTS = """
import doctest, importlib, json, sys
results = {}
for name in sys.argv[2:]:
    result = doctest.testmod(importlib.import_module(name), optionflags=int(sys.argv[1]))
    results[name] = [result.failed, result.attempted]
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def model_doctests(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    process = subprocess.run(
        [sys.executable, "-c", _RUN_DOCTESTS, str(FLAGS), *MODEL_DOCTESTS],
        check=False, cwd=tmp_path_factory.mktemp("doctests"), capture_output=True, text=True,
        timeout=1200,
    )  # fmt: skip
    output = process.stdout + process.stderr
    line = next((ln for ln in process.stdout.splitlines() if ln.startswith("RESULTS ")), None)
    assert line is not None, output
    return json.loads(line.removeprefix("RESULTS ")), output


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_DOCTESTS)
def test_model_docstring_examples_run(
    name: str, model_doctests: tuple[dict[str, Any], str]
) -> None:
    results, output = model_doctests
    failed, attempted = results[name]
    assert failed == 0, f"{failed} docstring example(s) failed in {name}:\n{output}"
    assert attempted > 0
