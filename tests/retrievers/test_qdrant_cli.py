"""`localchain index / retrieve --store qdrant:PATH` and `index --from DIR`, in-process
through the CLI's entry point (a new process would spend seconds on imports)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"
BOOK_QUERY = "how precise was the science"


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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "kb").mkdir()
    shutil.copy(INTERSTELLAR, tmp_path / "kb" / "interstellar.txt")
    return tmp_path


def test_index_and_retrieve_with_a_qdrant_store(cli, root: Path) -> None:
    built = cli(
        root, "index", "kb", "--store", "qdrant:films.qdrant", "--chunker", "separator", "--json"
    )
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert (report["added"], report["total"]) == (15, 15)
    assert report["store"] == f"qdrant:{(root / 'films.qdrant').resolve()}"
    dense = cli(
        root,
        "retrieve",
        BOOK_QUERY,
        "--store",
        "qdrant:films.qdrant",
        "--mode",
        "dense",
        "--no-threshold",
        "-k",
        "3",
        "--json",
    )
    assert dense.returncode == 0, dense.stderr
    hits = json.loads(dense.stdout)
    assert [round(h["score"], 3) for h in hits] == [0.476, 0.333, 0.209]
    bm25 = json.loads(
        cli(
            root,
            "retrieve",
            BOOK_QUERY,
            "--store",
            "qdrant:films.qdrant",
            "--mode",
            "bm25",
            "--json",
        ).stdout
    )
    assert bm25[0]["text"].startswith("Interstellar is a 2014 epic science fiction film")
    hybrid = json.loads(
        cli(
            root,
            "retrieve",
            BOOK_QUERY,
            "--store",
            "qdrant:films.qdrant",
            "--threshold",
            "0.27",
            "-k",
            "1",
            "--json",
        ).stdout
    )
    assert "Kip Thorne" in hybrid[0]["text"]
    again = cli(root, "index", "kb", "--store", "qdrant:films.qdrant", "--json")
    assert json.loads(again.stdout)["unchanged"] == 15 and json.loads(again.stdout)["added"] == 0
    nothing = cli(
        root, "retrieve", "What is the mass of the moon?", "--store", "qdrant:films.qdrant"
    )
    assert nothing.returncode == 0 and nothing.stdout.strip() == "no relevant hits"


def test_index_from_a_faiss_folder(cli, root: Path) -> None:
    assert cli(root, "index", "kb", "--store", "folder", "--chunker", "separator").returncode == 0
    copied = cli(root, "index", "--from", "folder", "--store", "qdrant:copy.qdrant")
    assert copied.returncode == 0, copied.stderr
    assert "15 chunks, none re-embedded" in copied.stdout
    args = ("retrieve", BOOK_QUERY, "--mode", "dense", "--no-threshold", "-k", "5", "--json")
    theirs = json.loads(cli(root, *args, "--store", "folder").stdout)
    ours = json.loads(cli(root, *args, "--store", "qdrant:copy.qdrant").stdout)
    assert [h["id"] for h in ours] == [h["id"] for h in theirs]
    twice = cli(root, "index", "--from", "folder", "--store", "qdrant:copy.qdrant")
    assert twice.returncode == 1 and "already holds a collection" in twice.stderr


def test_bad_qdrant_arguments(cli, root: Path) -> None:
    to_folder = cli(root, "index", "--from", "folder", "--store", "other")
    assert to_folder.returncode == 2 and "copies a FAISS folder into Qdrant" in to_folder.stderr
    l2 = cli(root, "index", "kb", "--store", "qdrant:x.qdrant", "--metric", "l2")
    assert l2.returncode == 2 and "a Qdrant index is cosine" in l2.stderr
    no_path = cli(root, "index", "--store", "qdrant:x.qdrant")
    assert no_path.returncode == 2 and "--from DIR" in no_path.stderr
    missing = cli(root, "retrieve", "science", "--store", "qdrant:nothing.qdrant")
    assert missing.returncode == 1 and "no Qdrant index there" in missing.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = cli(root, "retrieve", "science", "--store", f"qdrant+http://127.0.0.1:{port}/films")
    assert down.returncode == 1
    assert f"no answer from the Qdrant server at http://127.0.0.1:{port}/films" in down.stderr


def test_rag_ask_with_a_missing_qdrant_store_fails_before_the_model_loads(cli, root) -> None:
    result = cli(root, "rag", "ask", "What is it?", "--store", "qdrant:nothing.qdrant")
    assert result.returncode == 1 and "no Qdrant index there" in result.stderr
