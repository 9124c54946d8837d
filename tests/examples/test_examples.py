"""Every script in examples/ runs as documented, on the embedded model, and prints what the
book shows.

Each example runs as its own process (``python examples/NN_name.py``, working directory a
temporary folder, stdin closed, no network needed) and its labelled output is checked.
The facts checked are the ones the other tests already hold the embedded model to
(tests/models, tests/chains, tests/memory, tests/agents, tests/retrievers, tests/evals);
everything else the 135M model writes is only required to be there.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(args: list[str], cwd: Path, timeout: float, returncode: int = 0) -> str:
    """Run ``python *args`` in ``cwd`` offline; fail with its output unless it exits with
    ``returncode``."""
    env = dict(os.environ)  # LOCALCHAIN_* are already cleared by the autouse fixture
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, *args], check=False, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == returncode, (
        f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def run_example(name: str, cwd: Path, *args: str, timeout: float = 900) -> str:
    # Generous: on two cores shared with another llama.cpp process, an example that takes
    # 4 s alone took 3.5 min (both processes' threads spin for the same cores).
    return run([str(EXAMPLES / name), *args], cwd, timeout)


def value(out: str, label: str) -> str:
    """The text after ``label: `` on the first line that starts with it."""
    match = re.search(rf"^{re.escape(label)}: (.*)$", out, re.MULTILINE)
    assert match, f"no line {label!r} in:\n{out}"
    return match.group(1)


def block(out: str, header: str) -> str:
    """The lines under ``--- header ---`` up to the next ``---`` or ``===`` line."""
    match = re.search(rf"^--- {re.escape(header)} ---\n(.*?)(?=^---|^===|\Z)", out,
                      re.MULTILINE | re.DOTALL)  # fmt: skip
    assert match, f"no block {header!r} in:\n{out}"
    return match.group(1).strip()


def hits(out: str, name: str) -> list[tuple[float, str]]:
    """(score, text) of each hit listed under ``name: N hits`` by 06_semantic_search.py."""
    match = re.search(rf"^{re.escape(name)}: (\d+) hits\n((?:  \d+\. .*\n?)*)", out, re.MULTILINE)
    assert match, f"no hit list {name!r} in:\n{out}"
    rows = re.findall(r"^  \d+\. (-?[\d.]+)  (.*)$", match.group(2), re.MULTILINE)
    assert len(rows) == int(match.group(1))
    return [(float(score), text) for score, text in rows]


def check_model_io(tmp_path: Path) -> None:
    out = run_example("01_model_io.py", tmp_path)
    assert value(out, "model file") == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert value(out, "chat template") == "gguf (chatml)"
    assert "Paris" in value(out, "answer")
    assert "Paris" in value(out, "hand-written template answer")
    assert value(out, "custom template") == "custom"
    assert value(out, "custom template prompt") == repr(
        "### user: What is the capital of France? Answer with one word.\n### assistant:"
    )
    assert value(out, "structured output type") == "Person"
    person = json.loads(value(out, "structured output"))
    assert set(person) == {"name", "age"}
    assert isinstance(person["name"], str) and isinstance(person["age"], int)


def check_prompt_chain(tmp_path: Path) -> None:
    out = run_example("02_prompt_chain.py", tmp_path)
    assert value(out, "template") == "Create a funny name for a business that sells {product}."
    for product in ("ice cream", "socks", "tea"):
        name = value(out, f"name for {product}")
        assert name == name.strip() and len(name) > 3
    assert "Paris" in value(out, "hand-written template answer")


def check_story_chain(tmp_path: Path) -> None:
    out = run_example("03_story_chain.py", tmp_path)
    assert "Only return the title" in value(out, "prompt for title")
    assert "Use only two sentences" in value(out, "prompt for character")
    assert value(out, "keys") == "['summary', 'title', 'character', 'story']"
    parts = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[\w+\]$|\Z)", out, re.MULTILINE | re.DOTALL))
    assert list(parts) == ["summary", "title", "character", "story"]
    assert parts["summary"].strip() == "a girl that lost her mother"
    assert all(text.strip() for text in parts.values())


def check_memory(tmp_path: Path) -> None:
    out = run_example("04_memory.py", tmp_path)
    # buffer: the whole history is in the prompt, and the model answers with the name
    prompt = block(out, "buffer turn 2 prompt (4 messages)")
    assert "human: Hi! My name is Maarten. What is 1 + 1?" in prompt
    assert "Maarten" in block(out, "buffer turn 2 answer")
    # window, k=2: the name is still in view at turn 3; at turn 4 the age has left the window
    assert "33 years old" in block(out, "window turn 3 prompt (6 messages)")
    assert "Maarten" in block(out, "window turn 3 answer")
    prompt = block(out, "window turn 4 prompt (6 messages)")
    assert prompt.splitlines()[1] == "human: What is 3 + 3?" and "33" not in prompt
    assert "33" not in block(out, "window turn 4 answer")
    # summary: the summary, not the transcript, is what the model sees
    summary = block(out, "summary turn 1 summary")
    assert "Maarten" in summary and "1 + 1" in summary
    prompt = block(out, "summary turn 2 prompt (2 messages)")
    assert f"Summary of the conversation so far:\n{summary}\nhuman: What is my name?" in prompt
    assert "Maarten" in block(out, "summary turn 2 answer")
    assert block(out, "summary turn 3 answer")


def check_react_agent(tmp_path: Path) -> None:
    out = run_example("05_react_agent.py", tmp_path)
    search, calculation, macbook = out.split("\nQuestion: ")
    # the search tool is offline and answers from the local index
    assert search.startswith(
        "Search tool, called directly with 'MacBook Pro price':\n"
        "The web search is turned off. Results from the local index instead:"
    )
    assert "the current price of the MacBook Pro is 1599 USD" in search
    assert calculation.startswith("What is 17 * 23?")
    assert "Action: calculator\nAction Input: 17 * 23\nObservation: 391" in calculation
    assert "391" in value(calculation, "Final Answer")
    assert value(calculation, "parse failures") == "0"
    assert value(calculation, "stopped") in ("final_answer", "repeated_action", "stalled")
    # The MacBook question: what the executor guarantees, whatever the model makes of it.
    assert macbook.startswith("What is the current price of a MacBook Pro in USD?")
    assert value(macbook, "parse failures") == "0"
    assert value(macbook, "stopped") in ("final_answer", "repeated_action", "stalled")
    assert "The web search is unavailable" not in out  # offline: it never tried the network


def check_semantic_search(tmp_path: Path) -> None:
    out = run_example("06_semantic_search.py", tmp_path)
    assert value(out, "chunks") == "15"
    dense = hits(out, "dense")
    assert round(dense[0][0], 3) == 0.476 and "many astronomers" in dense[0][1]
    assert "Kip Thorne" in dense[1][1]
    bm25 = hits(out, "bm25")
    assert [round(score, 3) for score, _ in bm25] == [1.789, 1.373]
    assert "2014 epic science fiction film" in bm25[0][1] and "Kip Thorne" in bm25[1][1]
    hybrid = hits(out, "hybrid")
    assert round(hybrid[0][0], 3) == round(2 / 62, 3) and "Kip Thorne" in hybrid[0][1]
    reranked = hits(out, "reranked")
    assert reranked[0][0] == 1.0 and "Kip Thorne" in reranked[0][1]
    assert [score for score, text in reranked if "many astronomers" in text] == [0.0]
    assert len(hits(out, "dense, no threshold")) == 3  # the book's no-answer caveat
    assert hits(out, "dense, threshold 0.27") == []
    assert hits(out, "hybrid, threshold") == []


def rag_results(out: str) -> list[str]:
    """The printed RAG results of 07_rag.py, one text each, in order."""
    return ["question: " + part for part in out.split("\nquestion: ")[1:]]


def check_rag(tmp_path: Path) -> None:
    out = run_example("07_rag.py", tmp_path)
    income, moon, rewritten, multi = rag_results(out)
    assert value(income, "question") == "Income generated"
    assert "677" in value(income, "answer")
    cited = re.findall(r"^ \*\[\d+\] (.*)$", income, re.MULTILINE)
    assert cited and all("677" in text for text in cited)
    assert value(moon, "answer").startswith("I don't know")
    assert value(moon, "citations") == "[]" and not re.search(r"^  ?\*?\[\d+\]", moon, re.MULTILINE)
    # rewriting: a search query, not the rambling message, was searched
    assert value(rewritten, "query") != value(rewritten, "question")
    assert value(rewritten, "answer")
    # multi-query: every hit says which searches found it; the question itself is one of them
    found_by = re.findall(r"^      found by: (.*)$", multi, re.MULTILINE)
    assert found_by and any("Who directed Interstellar and when did it premiere?" in f
                            for f in found_by)  # fmt: skip
    assert value(multi, "answer")


def check_rag_eval(tmp_path: Path) -> None:
    out = run_example("08_rag_eval.py", tmp_path, "report", timeout=1200)
    html, data_file = tmp_path / "report" / "eval.html", tmp_path / "report" / "eval.json"
    assert value(out, "html report") == str(Path("report") / "eval.html")
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    data = json.loads(data_file.read_text(encoding="utf-8"))
    for metric in ("faithfulness", "answer_relevancy", "recall@3", "MRR"):
        summary = data["summary"][metric]
        assert summary["n_scored"] + summary["n_not_scorable"] == 2
    for sample in data["samples"]:
        for score in sample["scores"].values():
            assert (score["value"] is None) != (score["not_scorable"] is None)
            assert score["value"] is None or math.isfinite(score["value"])
    assert data["summary"]["MRR"]["mean"] == 1.0  # retrieval needs no judge: exact
    assert data["metadata"]["judge_model"] == "SmolLM2-135M-Instruct.Q4_1"
    # Faithfulness is the grounded judge's (no LLM call); answer relevancy asks the model.
    assert data["metadata"]["settings"]["faithfulness"]["judge"] == "grounded"
    assert data["metadata"]["judge"]["calls"] >= 2
    assert value(out, "  MRR").startswith("1.000")


def check_pytest_eval(tmp_path: Path) -> None:
    test_file = str(EXAMPLES / "test_09_rag_eval.py")
    # Without --run-evals the evaluation is deselected (pytest's exit code 5: no tests ran),
    # so a plain test run stays fast.
    quick = run(["-m", "pytest", test_file, "-p", "no:cacheprovider", "-q"], tmp_path, 300, 5)
    assert "1 deselected" in quick
    out = run(["-m", "pytest", test_file, "--run-evals", "--eval-report", "report",
               "-p", "no:cacheprovider", "-q"], tmp_path, 1200)  # fmt: skip
    assert "1 passed" in out
    data = json.loads((tmp_path / "report" / "eval.json").read_text(encoding="utf-8"))
    assert data["summary"]["faithfulness"]["n_not_scorable"] == 0
    assert (tmp_path / "report" / "eval.html").is_file()


CHECKS: dict[str, Callable[[Path], None]] = {
    "01_model_io.py": check_model_io,
    "02_prompt_chain.py": check_prompt_chain,
    "03_story_chain.py": check_story_chain,
    "04_memory.py": check_memory,
    "05_react_agent.py": check_react_agent,
    "06_semantic_search.py": check_semantic_search,
    "07_rag.py": check_rag,
    "08_rag_eval.py": check_rag_eval,
    "test_09_rag_eval.py": check_pytest_eval,
}


def example_files() -> list[str]:
    """Every file under examples/, relative, without caches."""
    return sorted(
        path.relative_to(EXAMPLES).as_posix()
        for path in EXAMPLES.rglob("*")
        if path.is_file() and not any(part.startswith((".", "__pycache__")) for part in path.parts)
    )


@pytest.mark.parametrize("name", [f for f in example_files() if f != "README.md"])
def test_example_runs_and_shows_the_book(name: str, tmp_path: Path) -> None:
    check = CHECKS.get(name)
    assert check is not None, f"examples/{name} has no check: add one to CHECKS in {__file__}"
    check(tmp_path)


def test_every_check_has_its_example() -> None:
    assert set(CHECKS) | {"README.md"} == set(example_files())


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_is_documented(name: str) -> None:
    tree = ast.parse((EXAMPLES / name).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and ".venv/bin/python" in doc and name in doc  # what it shows, how to run it
    assert f"`{name}`" in (EXAMPLES / "README.md").read_text(encoding="utf-8")
    if name.startswith("test_"):
        return
    main = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    assert main and not main[0].args.args and ast.unparse(main[0].returns) == "None"
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and ast.unparse(guard) == (
        "if __name__ == '__main__':\n    main()"
    )
