"""`localchain index` and `localchain retrieve`: once as a user runs them (a subprocess), the
rest in-process through the same entry point (each new process spends seconds on imports)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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
        "--threshold",  # the book's cut-off: the Kip Thorne chunk scores 0.333 dense
        "0.27",
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
    # The book's threshold: the MiniLM default (0.36) refuses this query.
    result = cli(indexed, "retrieve", "Income generated", "--store", "store", "-k", "1",
                 "--threshold", "0.27")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1. [") and "$677 million" in result.stdout


def test_reindex_unchanged_folder(cli, indexed: Path) -> None:
    result = cli(indexed, "index", "kb", "--store", "store", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unchanged"] == 15
    changed = cli(indexed, "index", "kb", "--store", "store", "--chunker", "sentence")
    assert changed.returncode == 2 and "new --store" in changed.stderr


def test_index_with_the_books_bm25(cli, indexed: Path) -> None:
    built = cli(indexed, "index", "kb", "--store", "book.store", "--chunker", "separator",
                "--bm25", "book", "--json")  # fmt: skip
    assert built.returncode == 0, built.stderr
    hits = cli(indexed, "retrieve", "how precise was the science", "--store", "book.store",
               "--mode", "bm25", "--json")  # fmt: skip
    assert [round(h["score"], 3) for h in json.loads(hits.stdout)] == [1.789, 1.373]
    # The default store (stems, feedback) scores on another scale and finds a third chunk.
    default = cli(indexed, "retrieve", "how precise was the science", "--store", "store",
                  "--mode", "bm25", "--json")  # fmt: skip
    assert [round(h["score"], 3) for h in json.loads(default.stdout)] == [0.946, 0.844, 0.542]
    again = cli(indexed, "index", "kb", "--store", "book.store", "--bm25", "book", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] == 15
    other = cli(indexed, "index", "kb", "--store", "book.store", "--bm25", "default")
    assert other.returncode == 2 and "has the book BM25 index" in other.stderr
    bad = cli(indexed, "index", "kb", "--store", "x.store", "--bm25", "porter")
    assert bad.returncode == 2 and "--bm25" in bad.stderr


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


def small_corpus(root: Path) -> Path:
    (root / "kb").mkdir()
    shutil.copy(INTERSTELLAR, root / "kb" / "interstellar.txt")
    return root / "kb"


def test_progress_is_written_where_stderr_is_not_a_terminal(cli, tmp_path: Path) -> None:
    kb = small_corpus(tmp_path)
    args = ("index", "kb", "--chunker", "separator")
    shown = cli(tmp_path, *args, "--store", "store", "--progress")  # stderr is captured here
    assert shown.returncode == 0, shown.stderr
    lines = shown.stderr.splitlines()
    assert f"Loading {kb.resolve()}: 1/1 files" in lines
    assert "Embedding chunks: 15/15" in lines
    quiet = cli(tmp_path, *args, "--store", "store2")  # the default: bars on a terminal only
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_index_and_retrieve_name_a_deleted_manifest(cli, tmp_path: Path) -> None:
    small_corpus(tmp_path)
    assert cli(tmp_path, "index", "kb", "--store", "store").returncode == 0
    (tmp_path / "store" / "manifest.json").unlink()
    for args in (("index", "kb"), ("retrieve", "science", "--mode", "dense")):
        result = cli(tmp_path, *args, "--store", "store")
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "holds index data (gen-000001) but no manifest.json (deleted?)" in result.stderr


HOLD_WRITER_LOCK = """
import sys, time
from pathlib import Path
from localchain.retrievers.store_manifest import writer_lock

store, holding, release = map(Path, sys.argv[1:])
with writer_lock(store):
    holding.touch()
    deadline = time.monotonic() + 300
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def test_a_second_index_run_waits_for_the_first_and_says_so(cli, tmp_path: Path) -> None:
    kb = small_corpus(tmp_path)
    assert cli(tmp_path, "index", "kb", "--store", "store").returncode == 0
    store, holding, release = tmp_path / "store", tmp_path / "holding", tmp_path / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER_LOCK, str(store), str(holding), str(release)]
    )
    try:
        deadline = time.monotonic() + 120
        while not holding.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        (kb / "notes.md").write_text("# Notes\n\nThe film runs 169 minutes.")
        log = tmp_path / "second.err"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
        with open(log, "w") as err:
            second = subprocess.Popen(
                [sys.executable, "-m", "localchain", "index", "kb", "--store", "store"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=environ,
            )
        waiting = f"is being updated by another process (pid {holder.pid}); waiting up to 600 s"
        deadline = time.monotonic() + 300
        while waiting not in log.read_text():
            assert second.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the second run never said it was waiting"
            time.sleep(0.2)
        assert second.poll() is None  # still waiting, not failed
    finally:
        release.touch()
        holder.wait(timeout=60)
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, log.read_text()
    assert "1 added, 0 removed" in out
