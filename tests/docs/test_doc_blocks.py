"""The user guide works as written: every fenced Python and shell block of README.md and
docs/*.md runs (scripts/doc_blocks.py), or says in the page why it does not."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("doc_blocks", ROOT / "scripts" / "doc_blocks.py")
assert _spec is not None and _spec.loader is not None
doc_blocks = importlib.util.module_from_spec(_spec)
sys.modules["doc_blocks"] = doc_blocks
_spec.loader.exec_module(doc_blocks)

pytestmark = pytest.mark.slow

# Pages whose Python blocks already run, with assertions on what they print, in a test of
# their own; here only their shell blocks run. The selection each of those tests makes is
# checked below, so a block they do not run cannot slip through.
DEDICATED: dict[str, str] = {
    "docs/rag.md": "tests/chains/test_rag_docs.py",
    "docs/retrievers.md": "tests/retrievers/test_retrievers_docs.py, tests/retrievers/test_docs_dense.py",
}

# Every block that is not run, and why. A new skip must be added here on purpose.
SKIPPED: list[tuple[str, str, str]] = [
    (
        "README.md",
        "make test    # set everything up, then run the test suite",
        "make test runs this test suite, which would run itself",
    ),
    (
        "docs/agents.md",
        ".venv/bin/pip install -e '.[bench]'        # langchain-classic, for the stock side",
        "installs into .venv and runs the benchmark (minutes); docs/benchmarks.md records its runs",
    ),
    (
        "docs/evals.md",
        "from pathlib import Path",
        (
            "slow: 4 judge calls under a grammar, minutes on a shared 2-core machine; "
            "tests/evals/test_real_model.py runs calibrate(limit=1) on the embedded judge"
        ),
    ),
    (
        "docs/getting-started.md",
        "make test",
        "make test runs this test suite, which would run itself",
    ),
    (
        "docs/models.md",
        'chat = load_chat_model("command-r", backend="cohere", api_key="...")',
        "network: needs localchain[cohere], a Cohere API key and api.cohere.com",
    ),
    (
        "docs/retrievers.md",
        "from localchain.retrievers.cohere_api import CohereEmbeddings",
        (
            "network: Cohere needs localchain[cohere], COHERE_API_KEY and api.cohere.com; "
            "the nomic GGUF is a download"
        ),
    ),
    (
        "docs/tools.md",
        ">>> from localchain.agents.tools import WebSearch",
        "network: searches DuckDuckGo; the results depend on the day",
    ),
]

# Blocks that run against stand-ins for what a reader has and the test machine does not:
# another GGUF file ("gguf PATH": the embedded model is linked there), an OpenAI-compatible
# server at 127.0.0.1:8000 ("server": llama-cpp-python's, serving the embedded model, on a
# free port; "background": the page's own server command, on a free port), or the
# repository itself ("root": make and scripts/ run where they are).
STAND_INS: list[tuple[str, str, str]] = [
    (
        "README.md",
        "make chat    # set everything up, then chat with the embedded model in the terminal",
        "root",
    ),
    (
        "README.md",
        'chat = load_chat_model("models/Phi-3-mini-4k-instruct-q4.gguf", n_ctx=4096)',
        "gguf models/Phi-3-mini-4k-instruct-q4.gguf models/base.gguf",
    ),
    (
        "docs/evals.md",
        "from localchain.evals import ConstrainedJudge",
        "gguf models/qwen2.5-3b-instruct-q4_k_m.gguf",
    ),
    ("docs/getting-started.md", "make chat", "root"),
    ("docs/getting-started.md", "bash scripts/setup.sh", "root"),
    (
        "docs/getting-started.md",
        'chat = load_chat_model("models/qwen2.5-1.5b-instruct-q4_k_m.gguf", n_ctx=4096)',
        "gguf models/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    ),
    ("docs/models.md", "from localchain import load_chat_model", "gguf path/to/model.gguf"),
    (
        "docs/models.md",
        'phi = load_chat_model("models/Phi-3-mini-4k-instruct-q4.gguf", chat_template="phi-3")',
        "gguf models/Phi-3-mini-4k-instruct-q4.gguf",
    ),
    (
        "docs/models.md",
        ".venv/bin/python -m llama_cpp.server --model path/to/model.gguf --host 127.0.0.1 --port 8000",
        "gguf path/to/model.gguf, background",
    ),
    (
        "docs/models.md",
        'chat = load_chat_model("local", base_url="http://127.0.0.1:8000/v1", timeout=30, max_retries=2)',
        "server",
    ),
    (
        "docs/serve.md",
        ".venv/bin/localchain serve --port 8000 --temperature 0 --max-tokens 32",
        "background",
    ),
    ("docs/serve.md", "curl -s http://127.0.0.1:8000/v1/models", "server"),
    ("docs/serve.md", "import openai", "server"),
    ("docs/serve.md", "from langchain_openai import ChatOpenAI", "server"),
    ("docs/serve.md", "import httpx", "server"),
    (
        "docs/topics.md",
        "from localchain import load_chat_model",
        "gguf models/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    ),
    (
        "docs/troubleshooting.md",
        "from localchain import load_chat_model",
        "gguf models/qwen2.5-3b-instruct-q4_k_m.gguf",
    ),
    (
        "docs/troubleshooting.md",
        '.venv/bin/localchain ask "What is 2 + 2?" --model models/qwen2.5-3b-instruct-q4_k_m.gguf',
        "gguf models/qwen2.5-3b-instruct-q4_k_m.gguf",
    ),
]

# Fences that are not run: shown output, prompts, diagrams, files. Any unlabelled fence
# that looks like a command or Python fails test_code_is_labelled.
LOOKS_LIKE_CODE = re.compile(
    r"^(\$ |>>> |\.venv/|localchain |pytest |import |from \S+ import )", re.MULTILINE
)


def _pages() -> list[str]:
    return [page.relative_to(ROOT).as_posix() for page in doc_blocks.pages()]


def _runnable(page: str) -> bool:
    return any(block.kind for block in doc_blocks.blocks(ROOT / page))


def test_the_guide_has_the_expected_pages() -> None:
    pages = _pages()
    assert pages[0] == "README.md" and "docs/getting-started.md" in pages
    assert not any(page.startswith("docs/reference/") for page in pages)
    assert "(docs/getting-started.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", [p for p in _pages() if _runnable(p)])
def test_page_runs_as_written(page: str, request: pytest.FixtureRequest) -> None:
    runner = doc_blocks.Runner(
        server_url=lambda: request.getfixturevalue("server_url"), keep_going=False, timeout=600
    )
    with runner:
        results = runner.run_page(ROOT / page, python=DEDICATED.get(page, True))
    failures = [r for r in results if r.status == "failed"]
    assert not failures, "\n\n".join(
        f"{r.block.where} ({r.block.kind}) failed:\n{r.output[-2000:]}\n{r.detail}"
        for r in failures
    )
    assert not [r for r in results if r.status == "not run" and page not in DEDICATED]


def test_skipped_blocks_are_exactly_these() -> None:
    skipped = [
        (block.page, block.first_line, block.skip_reason)
        for page in _pages()
        for block in doc_blocks.blocks(ROOT / page)
        if block.skip_reason is not None
    ]
    assert skipped == SKIPPED


def test_stand_ins_are_exactly_these() -> None:
    stand_ins = [
        (
            block.page,
            block.first_line,
            ", ".join(
                f"{kind} {value}".strip()
                for kind, value in block.notes.items()
                if kind not in ("skip", "stdin", "file")
            ),
        )
        for page in _pages()
        for block in doc_blocks.blocks(ROOT / page)
        if set(block.notes) - {"skip", "stdin", "file"}
    ]
    assert stand_ins == STAND_INS


def _dedicated_selection(page: str) -> list[str]:
    """The Python blocks the dedicated tests of a page run, selected as they select them."""
    text = (ROOT / page).read_text(encoding="utf-8")
    if page == "docs/rag.md":
        parts = [text]
    elif page == "docs/retrievers.md":
        parts = [
            text.split("<!-- Sections below are reserved")[0],
            text[text.index("## Embeddings and dense retrieval") : text.index("## RAG")],
        ]
    else:
        raise AssertionError(f"no selection known for {page}")
    return [code for part in parts for code in re.findall(r"```python\n(.*?)```", part, re.DOTALL)]


def test_every_python_block_is_run_by_this_test_or_a_named_one() -> None:
    for page, tests in DEDICATED.items():
        for test in tests.split(", "):
            assert Path(page).name in (ROOT / test).read_text(encoding="utf-8"), (page, test)
        selected = _dedicated_selection(page)
        for block in doc_blocks.blocks(ROOT / page):
            if block.kind in ("python", "doctest") and block.skip_reason is None:
                assert block.code in selected, (
                    f"{block.where} is run by neither {tests} nor this test"
                )


def test_code_is_labelled() -> None:
    # benchmarks.md is the benchmark runs' own page: its commands take minutes each.
    unlabelled = [
        block.where
        for page in _pages()
        if page != "docs/benchmarks.md"
        for block in doc_blocks.blocks(ROOT / page)
        if block.kind is None
        and block.language not in ("text", "json", "toml", "yaml")
        and LOOKS_LIKE_CODE.search(block.code)
    ]
    assert unlabelled == []


def test_toml_blocks_are_settings_localchain_reads() -> None:
    # Not run (they are files to write), but every key must be a setting, with a valid value:
    # Settings ignores unknown keys, so a misspelt one would be silently without effect.
    from localchain import Settings

    found = 0
    for page in _pages():
        for block in doc_blocks.blocks(ROOT / page):
            if block.language == "toml":
                values = tomllib.loads(block.code)
                assert set(values) <= set(Settings.model_fields), block.where
                Settings(**values)
                found += 1
    assert found


# The runner itself, on small pages of its own.


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def _run(page: Path) -> dict[int, object]:
    with doc_blocks.Runner(timeout=60) as runner:
        return {r.block.number: r for r in runner.run_page(page)}


def test_runner_shares_a_namespace_and_compares_doctest_output(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "```python\nx = 6 * 7\n```\n\n```python\n>>> x\n42\n```\n\n"
        "```python\n>>> x + 1\n42\n```\n\n```text\nnot run\n```\n",
    )
    results = _run(page)
    assert [results[n].status for n in (1, 2, 3)] == ["passed", "passed", "failed"]  # type: ignore[attr-defined]
    assert 4 not in results
    assert "Expected:\n    42\nGot:\n    43" in results[3].detail  # type: ignore[attr-defined]


def test_runner_runs_shell_and_console_blocks_strictly(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        (
            "```bash\ntest -f data/interstellar.txt && test -x .venv/bin/localchain\n"
            "command -v localchain | grep -q /.venv/bin/\n```\n\n"
            "```console\n$ echo one \\\n  two > out.txt\nthis line is output\n$ grep -q 'one two' out.txt\n```\n\n"
            "```sh\nfalse | true\n```\n\n"
            '<!-- doc-check: stdin "hello\\n" -->\n```bash\nread line && test "$line" = hello\n```\n\n'
            "```bash\nread line\n```\n"
        ),
    )
    results = _run(page)
    assert [results[n].status for n in range(1, 6)] == [  # type: ignore[attr-defined]
        "passed",
        "passed",
        "failed",
        "passed",
        "failed",
    ]


def test_runner_reports_skips_and_writes_files(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        (
            "<!-- doc-check: skip - needs a thing -->\n```python\nraise SystemExit(1)\n```\n\n"
            "<!-- doc-check: file pkg/settings.toml -->\n```toml\nn_ctx = 2048\n```\n\n"
            "```python\nfrom pathlib import Path\nassert Path('pkg/settings.toml').read_text() == 'n_ctx = 2048\\n'\n```\n"
        ),
    )
    results = _run(page)
    assert results[1].status == "skipped" and results[1].detail == "needs a thing"  # type: ignore[attr-defined]
    assert results[2].status == "passed" and results[3].status == "passed"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text, message",
    [
        ("<!-- doc-check: skip -->\n```python\npass\n```\n", "needs a reason"),
        ("<!-- doc-check: skip - why -->\n\ntext\n```python\npass\n```\n", "right before a fence"),
        ("```python skip\npass\n```\n", "needs a 'doc-check: skip - reason' note"),
        ("<!-- doc-check: sometimes -->\n```python\npass\n```\n", "unknown doc-check annotation"),
        ("<!-- doc-check: gguf /models/x.gguf -->\n```python\npass\n```\n", "relative paths"),
        ("```python\npass\n", "never closed"),
    ],
)
def test_runner_refuses_unclear_pages(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(doc_blocks.DocCheckError, match=re.escape(message)):
        doc_blocks.blocks(_page(tmp_path, text))
