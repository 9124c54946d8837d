"""Processes sharing one index folder: readers while a writer updates it, a second writer,
and writers killed (SIGKILL) at the two moments that leave files behind.

Each process is real (``store_child.py``, a fresh interpreter); the embeddings are fake but
slow where the real model is slow (see :class:`store_child.SlowEmbeddings`), so a reader
spends as long between reading the manifest and using the files as a real one does.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from store_child import SlowEmbeddings

from localchain.retrievers.store import Index, StoreBusyError
from localchain.retrievers.store_manifest import generation_folders, reader_pin

CHILD = Path(__file__).with_name("store_child.py")


def child(*args: str | Path) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    return subprocess.Popen(
        [sys.executable, str(CHILD), *map(str, args)],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )


def finish(process: subprocess.Popen[str], out: Path | None = None, timeout: float = 180) -> Any:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    return json.loads(out.read_text()) if out else None


def wait_for(file: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not file.exists():
        assert time.monotonic() < deadline, f"{file} did not appear in {seconds} s"
        time.sleep(0.05)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store over a folder of two small files, built with the children's embeddings."""
    corpus = tmp_path / "kb"
    corpus.mkdir()
    (corpus / "moon.txt").write_text("The Moon orbits Earth. It has no air.")
    (corpus / "mars.txt").write_text("Mars is red. Mars has two moons.")
    Index.build(corpus, tmp_path / "store", embeddings=SlowEmbeddings())
    return tmp_path / "store"


def leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.endswith(".tmp")) + [
        p.name for p in generation_folders(store)
    ]


def test_readers_never_fail_while_a_writer_updates(store: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "kb"
    readers = [
        child(
            "read-loop",
            store,
            tmp_path / f"reader{n}.json",
            "--ready",
            tmp_path / f"ready{n}",
            "--until",
            tmp_path / "done",
            "--delay",
            "0.2",
        )
        for n in range(2)
    ]
    writer = child(
        "write-loop",
        store,
        corpus,
        tmp_path / "writer.json",
        "--wait-for",
        tmp_path / "ready0",
        tmp_path / "ready1",
        "--updates",
        "12",
        "--pause",
        "0.1",
        "--done",
        tmp_path / "done",
    )
    written = finish(writer, tmp_path / "writer.json")
    results = [finish(r, tmp_path / f"reader{n}.json") for n, r in enumerate(readers)]
    assert written["generation"] == 13 and written["chunks"] == 2 + 12
    for result in results:
        assert result["failures"] == [] and result["inconsistent"] == []
        # The readers did overlap the updates: they saw several generations.
        assert result["opens"] >= 5 and len(result["generations"]) >= 3, result
    assert leftovers(store) == ["gen-000013"]


def test_a_generation_being_read_is_kept_until_the_next_update(store: Path) -> None:
    corpus = store.parent / "kb"
    fake = SlowEmbeddings()
    (corpus / "venus.txt").write_text("Venus is hot.")
    with reader_pin(store):  # a reader in the middle of reading generation 1
        Index.open(store, embeddings=fake).update(corpus)
        assert leftovers(store) == ["gen-000001", "gen-000002"]
        assert len(Index.open(store, embeddings=fake).bm25) == 3  # readers see the new one
    (corpus / "pluto.txt").write_text("Pluto is small.")
    Index.open(store, embeddings=fake).update(corpus)
    assert leftovers(store) == ["gen-000003"]


def test_a_second_writer_waits_says_so_and_gives_up_after_its_wait(
    store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = tmp_path / "kb"
    (corpus / "venus.txt").write_text("Venus is hot.")
    first = child(
        "update",
        store,
        corpus,
        tmp_path / "first.json",
        "--hold",
        tmp_path / "release",
        "--holding",
        tmp_path / "holding",
    )
    wait_for(tmp_path / "holding")  # the first writer holds the lock, mid-update
    second = Index.open(store, embeddings=SlowEmbeddings())
    with pytest.raises(StoreBusyError, match=f"another process \\(pid {first.pid}\\)") as busy:
        second.update(corpus, wait=0.3)
    assert busy.value.waited == 0.3
    (corpus / "pluto.txt").write_text("Pluto is small.")
    caplog.set_level(logging.WARNING, logger="localchain.retrievers.store_manifest")
    (tmp_path / "release").touch()
    report = second.update(corpus)  # waits for the first, then adds what is left
    assert f"(pid {first.pid}); waiting up to 600 s" in caplog.text
    assert finish(first, tmp_path / "first.json")["added"] == 1  # venus, loaded before pluto
    assert (report.added, report.total) == (1, 4)  # pluto, on top of the first one's update


def test_a_writer_killed_before_the_manifest_rename(store: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "kb"
    (corpus / "venus.txt").write_text("Venus is hot.")
    killed = child("update", store, corpus, tmp_path / "out.json", "--kill-at", "before-rename")
    killed.communicate(timeout=180)
    assert killed.returncode == -9
    left = leftovers(store)
    assert left[0].startswith(".manifest.json.") and left[1:] == ["gen-000001", "gen-000002"]
    fake = SlowEmbeddings()
    assert Index.open(store, embeddings=fake).manifest.generation == 1  # the old index holds
    report = Index.open(store, embeddings=fake).update(corpus)
    assert (report.added, report.total) == (1, 3)
    assert leftovers(store) == ["gen-000002"]


def test_a_writer_killed_after_the_rename_before_removing_the_old_generation(
    store: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "kb"
    (corpus / "venus.txt").write_text("Venus is hot.")
    killed = child("update", store, corpus, tmp_path / "out.json", "--kill-at", "after-rename")
    killed.communicate(timeout=180)
    assert killed.returncode == -9
    assert leftovers(store) == ["gen-000001", "gen-000002"]
    fake = SlowEmbeddings()
    assert len(Index.open(store, embeddings=fake).bm25) == 3  # the update did land
    report = Index.open(store, embeddings=fake).update(corpus)  # nothing to do but clean up
    assert (report.added, report.total) == (0, 3)
    assert leftovers(store) == ["gen-000002"]


def test_a_first_build_killed_before_its_manifest_names_data(tmp_path: Path) -> None:
    corpus = tmp_path / "kb"
    corpus.mkdir()
    (corpus / "moon.txt").write_text("The Moon orbits Earth.")
    store = tmp_path / "store"
    killed = child("build", store, corpus, tmp_path / "out.json", "--kill-at", "before-rename")
    killed.communicate(timeout=180)
    assert killed.returncode == -9
    left = leftovers(store)
    assert left[0].startswith(".manifest.json.") and left[1:] == ["gen-000001"]
    # The manifest was written first, naming no data: an empty store, to update.
    assert Index.open(store, embeddings=SlowEmbeddings()).manifest.generation == 0
    report = Index.open(store, embeddings=SlowEmbeddings()).update(corpus)
    assert (report.added, report.total) == (1, 1)
    assert leftovers(store) == ["gen-000001"]
