"""`localchain index` and `localchain retrieve`: once as a user runs them (a subprocess), the
rest in-process through the same entry point (each new process spends seconds on imports)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    return subprocess.run(
        [sys.executable, "-m", "localchain", *args],
        check=False,
        cwd=cwd,
        text=True,
        capture_output=True,
        env=environ,
        timeout=300,
    )


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI in this process: cli(cwd, *args) -> Result."""
    from localchain.cli import main

    def invoke(cwd: Path, *args: str) -> Result:
        monkeypatch.chdir(cwd)
        code = main(list(args))
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return invoke


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A store built by the real console entry point, in a subprocess."""
    root = tmp_path_factory.mktemp("cli")
    (root / "kb").mkdir()
    shutil.copy(INTERSTELLAR, root / "kb" / "interstellar.txt")
    (root / "kb" / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    result = run("index", "kb", "--store", "store", "--chunker", "separator", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["total"]) == (15, 15)
    assert [Path(s["path"]).name for s in report["skipped"]] == ["blob.bin"]
    assert "blob.bin: binary file" in result.stderr
    assert "Loading weights" not in result.stderr
    return root


def test_retrieve_json_hits_in_a_subprocess(indexed: Path) -> None:
    result = run(
        "retrieve",
        "how precise was the science",
        "--store",
        "store",
        "--mode",
        "dense",
        "-k",
        "3",
        "--no-threshold",
        "--json",
        cwd=indexed,
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert [round(h["score"], 3) for h in hits] == [0.476, 0.333, 0.209]
    assert "astronomers" in hits[0]["text"]
    assert hits[0]["source"] == str(indexed / "kb" / "interstellar.txt")
    assert hits[0]["metadata"]["source"] == hits[0]["source"] and hits[0]["id"]


@pytest.mark.parametrize("mode, first", [("bm25", "2014 epic"), ("hybrid", "Kip Thorne")])
def test_modes(cli, indexed: Path, mode: str, first: str) -> None:
    result = cli(
        indexed,
        "retrieve",
        "how precise was the science",
        "--store",
        "store",
        "--mode",
        mode,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert first in json.loads(result.stdout)[0]["text"]


def test_unanswerable_query_gives_an_empty_list(cli, indexed: Path) -> None:
    result = cli(indexed, "retrieve", "What is the mass of the moon?", "--store", "store", "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == []
    text = cli(indexed, "retrieve", "What is the mass of the moon?", "--store", "store")
    assert text.stdout.strip() == "no relevant hits"


def test_text_output(cli, indexed: Path) -> None:
    result = cli(indexed, "retrieve", "Income generated", "--store", "store", "-k", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1. [") and "$677 million" in result.stdout


def test_reindex_unchanged_folder(cli, indexed: Path) -> None:
    result = cli(indexed, "index", "kb", "--store", "store", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unchanged"] == 15
    changed = cli(indexed, "index", "kb", "--store", "store", "--chunker", "sentence")
    assert changed.returncode == 2 and "new --store" in changed.stderr


def test_errors(cli, indexed: Path) -> None:
    missing = cli(indexed, "retrieve", "anything", "--store", "nowhere")
    assert missing.returncode == 1 and "no such folder" in missing.stderr
    empty = cli(indexed, "retrieve", "  ", "--store", "store")
    assert empty.returncode == 2 and "empty" in empty.stderr
    (indexed / "void").mkdir(exist_ok=True)
    nothing = cli(indexed, "index", "void", "--store", "void.store")
    assert nothing.returncode == 1 and "no files match" in nothing.stderr


@pytest.mark.slow
def test_rerank_mode_with_the_embedded_model(cli, indexed: Path) -> None:
    result = cli(
        indexed,
        "retrieve",
        "how precise was the science",
        "--store",
        "store",
        "--mode",
        "rerank",
        "--shortlist",
        "2",
        "-k",
        "2",
        "--n-ctx",
        "1024",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and {h["score"] for h in hits} <= {0.0, 1.0}
    assert {h["metadata"]["retrieval_rank"] for h in hits} == {1, 2}
