"""A separate process that reads or writes an index folder, for the tests of processes racing
or dying over one store (tests/retrievers/test_store_processes.py).

Run as ``python store_child.py COMMAND ...``; results go to a JSON file. Embeddings are
fake (16 dimensions) but slow where the real model is: reading their ``dimension`` takes
``--delay`` seconds, as loading all-MiniLM-L6-v2 takes seconds when a store is opened.

Commands:
    read-loop STORE OUT --ready FILE --until FILE --delay S --max-seconds S
        open the store again and again until FILE exists; record every failure and every
        open whose parts (manifest, dense, BM25) disagree.
    write-loop STORE CORPUS OUT --wait-for FILE... --updates N --pause S --done FILE
        add one file to CORPUS and update the store, N times, S seconds apart.
    update STORE CORPUS OUT [--kill-at before-rename|after-rename] [--hold FILE --holding FILE]
        one update; ``--kill-at`` sends this process SIGKILL when the manifest naming the new
        generation is about to replace the old one, or right after it did; ``--hold`` keeps
        the writer lock (while embedding) until FILE exists, touching ``--holding`` first.
    build STORE CORPUS OUT [--kill-at ...]
        the same for building a new store.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import DeterministicFakeEmbedding

from localchain.retrievers.store import Index


class SlowEmbeddings(DeterministicFakeEmbedding):
    """Fake 16-dimensional vectors; asking for the dimension takes ``delay`` seconds."""

    size: int = 16
    delay: float = 0.0
    hold: str | None = None
    holding: str | None = None

    @property
    def dimension(self) -> int:
        time.sleep(self.delay)
        return self.size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.hold:
            Path(self.holding or self.hold + ".holding").touch()
            wait_for([Path(self.hold)], 120)
        return super().embed_documents(texts)


def wait_for(files: list[Path], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(f.exists() for f in files):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {[str(f) for f in files]}")
        time.sleep(0.02)


def read_loop(args: argparse.Namespace) -> dict[str, Any]:
    embeddings = SlowEmbeddings(delay=args.delay)
    opens, failures, inconsistent, generations = 0, [], [], set()
    start = time.monotonic()
    while not Path(args.until).exists() and time.monotonic() - start < args.max_seconds:
        try:
            index = Index.open(args.store, embeddings=embeddings)
        except Exception as err:  # noqa: BLE001 - every failure is what the test counts
            failures.append(f"{type(err).__name__}: {err}")
            continue
        finally:
            opens += 1
        dense_ids = {d.id for d in index.dense.documents}
        bm25_ids = {d.id for d in index.bm25.documents}
        if not (dense_ids == bm25_ids and len(bm25_ids) == index.manifest.chunks):
            inconsistent.append(index.manifest.generation)
        generations.add(index.manifest.generation)
        Path(args.ready).touch()
    return {
        "opens": opens,
        "failures": failures,
        "inconsistent": inconsistent,
        "generations": sorted(generations),
    }


def write_loop(args: argparse.Namespace) -> dict[str, Any]:
    wait_for([Path(f) for f in args.wait_for], 120)
    embeddings = SlowEmbeddings()
    corpus = Path(args.corpus)
    start = time.monotonic()
    for number in range(args.updates):
        (corpus / f"fact{number:03d}.txt").write_text(f"Fact {number} is about moon {number}.")
        Index.open(args.store, embeddings=embeddings).update(corpus)
        time.sleep(args.pause)
    Path(args.done).touch()
    final = Index.open(args.store, embeddings=embeddings)
    return {
        "seconds": round(time.monotonic() - start, 2),
        "generation": final.manifest.generation,
        "chunks": final.manifest.chunks,
    }


def update(args: argparse.Namespace) -> dict[str, Any]:
    if args.kill_at:
        _kill_at(args.kill_at)
    embeddings = SlowEmbeddings(hold=args.hold, holding=args.holding)
    if args.command == "build":
        return Index.build(args.corpus, args.store, embeddings=embeddings).model_dump()
    report = Index.open(args.store, embeddings=embeddings).update(args.corpus)
    return report.model_dump()


def _kill_at(moment: str) -> None:
    replace = os.replace

    def dying_replace(src: Any, dst: Any) -> None:
        names_new_data = (
            Path(dst).name == "manifest.json" and json.loads(Path(src).read_text())["generation"]
        )
        if names_new_data and moment == "before-rename":
            os.kill(os.getpid(), signal.SIGKILL)
        replace(src, dst)
        if names_new_data and moment == "after-rename":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = dying_replace  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    reader = commands.add_parser("read-loop")
    reader.add_argument("store")
    reader.add_argument("out")
    reader.add_argument("--ready", required=True)
    reader.add_argument("--until", required=True)
    reader.add_argument("--delay", type=float, default=0.2)
    reader.add_argument("--max-seconds", type=float, default=60)
    writer = commands.add_parser("write-loop")
    writer.add_argument("store")
    writer.add_argument("corpus")
    writer.add_argument("out")
    writer.add_argument("--wait-for", nargs="*", default=[])
    writer.add_argument("--updates", type=int, default=10)
    writer.add_argument("--pause", type=float, default=0.0)
    writer.add_argument("--done", required=True)
    for command in ("update", "build"):
        one = commands.add_parser(command)
        one.add_argument("store")
        one.add_argument("corpus")
        one.add_argument("out")
        one.add_argument("--kill-at", choices=["before-rename", "after-rename"])
        one.add_argument("--hold")
        one.add_argument("--holding")
    args = parser.parse_args()
    run = {"read-loop": read_loop, "write-loop": write_loop}.get(args.command, update)
    Path(args.out).write_text(json.dumps(run(args)))


if __name__ == "__main__":
    main()
