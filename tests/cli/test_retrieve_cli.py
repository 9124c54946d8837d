"""`localchain retrieve --queries FILE`: many queries in one call (one start-up, one opened
index), one JSON object a line. Subprocesses over a store built by `localchain index`."""

from __future__ import annotations

import json
from pathlib import Path

from cli_process import localchain

QUERIES = "Who directed the film?\n\nthe\nWhen did it premiere?\n"


def test_queries_file_gives_a_json_line_per_query(interstellar_store: Path, tmp_path: Path) -> None:
    (tmp_path / "queries.txt").write_text(QUERIES, encoding="utf-8")
    store = ["--store", str(interstellar_store), "--mode", "bm25", "-k", "2"]
    result = localchain("retrieve", *store, "--queries", "queries.txt", cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [line["query"] for line in lines] == ["Who directed the film?", "the",
                                                 "When did it premiere?"]  # blank lines skipped
    # "the" is only a stop word: BM25 cannot search it; that line says why, the others answer.
    assert list(lines[1]) == ["query", "error"]
    assert lines[1]["error"].startswith("cannot search for 'the': no search terms are left")
    assert result.returncode == 1
    assert result.stderr.decode() == "error: 1 of 3 queries failed\n"
    for line in (lines[0], lines[2]):
        single = localchain("retrieve", line["query"], *store, "--json", cwd=tmp_path)
        assert single.returncode == 0
        assert line["hits"] == json.loads(single.stdout)  # the same as one call per query
    assert len(lines[0]["hits"]) == 2 and "Christopher Nolan" in lines[0]["hits"][0]["text"]
    assert "premiere" in lines[2]["hits"][0]["text"]


def test_queries_from_stdin_in_any_mode(interstellar_store: Path, tmp_path: Path) -> None:
    result = localchain("retrieve", "--store", str(interstellar_store), "--queries", "-", "-k",
                        "1", stdin=b"Who directed the film?\nHow much did it gross?\n",
                        cwd=tmp_path)  # the default mode, hybrid: embeddings and BM25
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [len(line["hits"]) for line in lines] == [1, 1]
    assert "677 million" in lines[1]["hits"][0]["text"]


def test_a_query_or_a_queries_file(interstellar_store: Path, tmp_path: Path) -> None:
    (tmp_path / "queries.txt").write_text(QUERIES, encoding="utf-8")
    store = ["--store", str(interstellar_store)]
    for args in (["film", "--queries", "queries.txt"], []):
        result = localchain("retrieve", *store, *args, cwd=tmp_path)
        assert result.returncode == 2
        assert "give a QUERY or --queries FILE (one of them)" in result.stderr.decode()
