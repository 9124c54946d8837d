"""Dense index build throughput, query latency and memory: localchain vs the libraries under it.

Sides, all with the bundled all-MiniLM-L6-v2 on CPU (normalized vectors, cosine):

* ``localchain``: ``FaissStore.from_documents`` (embed + ``IndexIDMap2`` over the chosen
  kind), queries through ``DenseRetriever.invoke``.
* ``localchain-store``: ``Index.build`` on a folder of files: load, chunk, embed, FAISS +
  BM25, written to disk (JSON + FAISS files); queries through ``open_retriever(mode="dense")``.
* ``raw``: ``SentenceTransformer.encode`` + ``faiss.IndexFlatIP``; queries encode + search.
* ``langchain``: langchain-community's ``FAISS.from_texts`` over LangChain's
  ``HuggingFaceEmbeddings`` (same model folder); ``similarity_search_with_score``.
* ``qdrant``: ``QdrantStore.add_embeddings`` after ``embed_matrix`` (timed apart as
  ``embed_s`` and ``write_s``; the upsert writes dense and BM25 sparse vectors) into
  Qdrant's local mode on a temp folder (exact, brute-force search: local mode has no
  HNSW); queries through ``DenseRetriever.invoke``, and hybrid queries (prefetch + RRF in
  the engine) timed apart (``hybrid_p50_ms``).
* ``qdrant-store``: ``Index.build`` into ``qdrant:PATH``; queries through
  ``open_retriever(mode="dense")``.

Corpus: sentences of the Python Language Reference topics (``pydoc_data.topics``), cycled
with a numeric suffix until there are N distinct chunks (about 25 word pieces each). Each
(side, size) runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own; the model
load is timed apart from the build. Query latency: --queries single queries (benchmark
questions), one warm-up each side, p50/p95 of wall time per query (embedding included).

``--store-only`` leaves the model out: the ``localchain`` (FaissStore) and ``qdrant``
(QdrantStore, local mode) sides index the same random unit vectors (384 dimensions, seed 0)
with the corpus texts, and queries search by vector (the hybrid one with the question's
BM25 terms too), so build and query times are the stores' own.

Run:  .venv/bin/python bench/retrieval_speed.py [--sizes 1000,10000,100000]
          [--sides localchain,localchain-store,raw,langchain,qdrant,qdrant-store]
          [--kind flat|auto|hnsw]
Prints one JSON object; also writes it to --out (bench/results/retrieval_speed.json by
default). At 100k chunks the build takes about 12 minutes per side on 2 cores (699-776 s
measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIDES = ("localchain", "localchain-store", "raw", "langchain", "qdrant", "qdrant-store")
QUESTIONS = HERE / "data" / "pydoc_questions.jsonl"


def corpus(n: int) -> list[str]:
    """N distinct sentence-sized chunks from the Language Reference topics."""
    from pydoc_data.topics import topics

    from localchain.retrievers.chunking import sentence_spans

    sentences = []
    for _, text in sorted(topics.items()):
        for a, b in sentence_spans(text):
            sentence = " ".join(text[a:b].split())
            if 40 <= len(sentence) <= 300:
                sentences.append(sentence)
    out = []
    while len(out) < n:
        lap = len(out) // len(sentences)
        for sentence in sentences[: n - len(out)]:
            out.append(sentence if lap == 0 else f"{sentence} ({lap})")
    return out


def queries(count: int) -> list[str]:
    rows = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    return [rows[i % len(rows)] for i in range(count)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed_queries(search, questions: list[str]) -> dict[str, float]:
    search(questions[0])  # warm-up
    times = []
    for question in questions:
        t0 = time.perf_counter()
        search(question)
        times.append(time.perf_counter() - t0)
    return {
        "p50_ms": round(1000 * statistics.median(times), 2),
        "p95_ms": round(1000 * percentile(times, 0.95), 2),
    }


def model_path() -> str:
    from localchain.retrievers.embeddings import bundled_minilm_path

    return str(bundled_minilm_path())


def store_worker(side: str, size: int, n_queries: int, k: int) -> dict[str, Any]:
    """``--store-only``: one store indexing and searching precomputed vectors."""
    import numpy as np
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding

    rng = np.random.default_rng(0)
    texts, questions = corpus(size), queries(n_queries)
    vectors = rng.normal(size=(size, 384)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    probes = {q: rng.normal(size=384).astype("float32") for q in questions}
    docs = [Document(t, metadata={"source": "bench"}, id=f"c{i}") for i, t in enumerate(texts)]
    fake = DeterministicFakeEmbedding(size=384)
    result: dict[str, Any] = {"side": side, "chunks": size, "store_only": True}
    if side == "localchain":
        from localchain.retrievers import FaissStore

        store: Any = FaissStore(fake, model_name="random", dimension=384)
    elif side == "qdrant":
        from qdrant_client import QdrantClient

        from localchain.retrievers import QdrantStore

        client = QdrantClient(path=tempfile.mkdtemp(prefix="bench-qdrant-"))
        store = QdrantStore(fake, client, model_name="random", dimension=384)
    else:
        raise SystemExit(f"--store-only runs the localchain and qdrant sides, not {side}")
    t0 = time.perf_counter()
    store.add_embeddings(docs, vectors)
    result["build_s"] = round(time.perf_counter() - t0, 3)
    result["chunks_per_s"] = round(size / (time.perf_counter() - t0), 1)
    result.update(timed_queries(lambda q: store.search_by_vector(probes[q], k), questions))
    if side == "qdrant":
        timed = timed_queries(lambda q: store.hybrid_search(q, probes[q], k), questions)
        result.update(hybrid_p50_ms=timed["p50_ms"], hybrid_p95_ms=timed["p95_ms"])
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def worker(side: str, size: int, kind: str, n_queries: int, k: int) -> dict[str, Any]:
    """One side at one size, in this process."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    texts = corpus(size)
    questions = queries(n_queries)
    result: dict[str, Any] = {"side": side, "chunks": size}
    t0 = time.perf_counter()
    if side in ("localchain", "localchain-store", "qdrant", "qdrant-store"):
        from localchain.retrievers import default_embeddings

        embeddings = default_embeddings()
        embeddings.warm_up()
    elif side == "raw":
        import faiss
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path(), device="cpu", local_files_only=True)
    else:
        from langchain_community.vectorstores import FAISS
        from langchain_huggingface import HuggingFaceEmbeddings

        hf = HuggingFaceEmbeddings(
            model_name=model_path(),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
    result["model_load_s"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    if side == "localchain":
        from langchain_core.documents import Document
        from localchain.retrievers import DenseRetriever, FaissSettings, FaissStore

        docs = [Document(t, metadata={"source": "bench"}) for t in texts]
        store = FaissStore.from_documents(docs, embeddings, settings=FaissSettings(kind=kind))
        retriever = DenseRetriever(store=store, k=k)
        result["index_kind"] = store.kind
        search = retriever.invoke
    elif side == "localchain-store":
        from localchain.retrievers import FaissSettings, Index, SentenceChunker, open_retriever

        folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
        (folder / "corpus").mkdir()
        # One file per 1,000 chunks, one sentence per line, so SentenceChunker gives them back.
        for start in range(0, size, 1000):
            (folder / "corpus" / f"part{start // 1000:04d}.txt").write_text(
                "\n\n".join(texts[start : start + 1000])
            )
        report = Index.build(
            folder / "corpus",
            folder / "store",
            chunker=SentenceChunker(),
            faiss=FaissSettings(kind=kind),
            progress=False,
        )
        result["stored_chunks"] = report.total
        result["store_bytes"] = sum(
            f.stat().st_size for f in (folder / "store").rglob("*") if f.is_file()
        )
        search = open_retriever(folder / "store", mode="dense", k=k, threshold=None).invoke
    elif side == "qdrant":
        from langchain_core.documents import Document
        from qdrant_client import QdrantClient

        from localchain.retrievers import DenseRetriever, QdrantHybridRetriever, QdrantStore

        from localchain.retrievers.embeddings import embed_matrix

        folder = tempfile.mkdtemp(prefix="bench-qdrant-")
        store = QdrantStore(embeddings, QdrantClient(path=folder))
        docs = [Document(t, metadata={"source": "bench"}) for t in texts]
        # Embedding and writing timed apart: local mode commits each point to SQLite.
        t_embed = time.perf_counter()
        vectors = embed_matrix(embeddings, texts)
        result["embed_s"] = round(time.perf_counter() - t_embed, 3)
        t_write = time.perf_counter()
        store.add_embeddings(docs, vectors)
        result["write_s"] = round(time.perf_counter() - t_write, 3)
        result["index_kind"] = "qdrant local (exact)"
        search = DenseRetriever(store=store, k=k).invoke
        hybrid = QdrantHybridRetriever(store=store, k=k).invoke
    elif side == "qdrant-store":
        from localchain.retrievers import Index, SentenceChunker, open_retriever

        folder = Path(tempfile.mkdtemp(prefix="bench-qdrant-store-"))
        (folder / "corpus").mkdir()
        for start in range(0, size, 1000):
            (folder / "corpus" / f"part{start // 1000:04d}.txt").write_text(
                "\n\n".join(texts[start : start + 1000])
            )
        report = Index.build(
            folder / "corpus",
            f"qdrant:{folder / 'store'}",
            chunker=SentenceChunker(),
            progress=False,
        )
        result["stored_chunks"] = report.total
        result["store_bytes"] = sum(
            f.stat().st_size for f in (folder / "store").rglob("*") if f.is_file()
        )
        search = open_retriever(
            f"qdrant:{folder / 'store'}", mode="dense", k=k, threshold=None
        ).invoke
    elif side == "raw":
        vectors = model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors.astype("float32"))

        def search(question: str) -> Any:
            query = model.encode([question], normalize_embeddings=True, convert_to_numpy=True)
            return index.search(query.astype("float32"), k)
    else:
        store = FAISS.from_texts(texts, hf)

        def search(question: str) -> Any:
            return store.similarity_search_with_score(question, k=k)

    build = time.perf_counter() - t0
    result["build_s"] = round(build, 3)
    result["chunks_per_s"] = round(size / build, 1)
    result.update(timed_queries(search, questions))
    if side == "qdrant":
        timed = timed_queries(hybrid, questions)
        result.update(hybrid_p50_ms=timed["p50_ms"], hybrid_p95_ms=timed["p95_ms"])
    # Linux reports ru_maxrss in KiB.
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["vectors_mb"] = round(size * 384 * 4 / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument(
        "--kind",
        default="flat",
        choices=["flat", "auto", "hnsw", "ivf"],
        help="localchain's FAISS index kind (raw and LangChain are flat)",
    )
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "retrieval_speed.json")
    parser.add_argument(
        "--store-only", action="store_true", help="precomputed vectors: the stores alone"
    )
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        side, size = args.worker
        if args.store_only:
            print(json.dumps(store_worker(side, int(size), args.queries, args.k)))
        else:
            print(json.dumps(worker(side, int(size), args.kind, args.queries, args.k)))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    sides = [s for s in args.sides.split(",") if s]
    unknown = set(sides) - set(SIDES)
    if unknown:
        raise SystemExit(f"unknown sides {sorted(unknown)}; choose from {SIDES}")
    runs = []
    for size in sizes:
        for side in sides:
            command = [
                sys.executable,
                __file__,
                "--worker",
                side,
                str(size),
                "--kind",
                args.kind,
                "--queries",
                str(args.queries),
                "-k",
                str(args.k),
                *(["--store-only"] if args.store_only else []),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                runs.append({"side": side, "chunks": size, "error": done.stderr.strip()[-2000:]})
            else:
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{side} @ {size}: {runs[-1]}", file=sys.stderr)
    ratios: dict[str, Any] = {}
    for size in sizes:
        by_side = {r["side"]: r for r in runs if r["chunks"] == size and "error" not in r}
        raw = by_side.get("raw")
        if raw:
            ratios[str(size)] = {
                side: {
                    "build_time_vs_raw": round(r["build_s"] / raw["build_s"], 3),
                    "p50_vs_raw": round(r["p50_ms"] / raw["p50_ms"], 3),
                }
                for side, r in by_side.items()
                if side != "raw"
            }
    output = {
        "benchmark": "retrieval_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "model": (
            "none: random unit vectors (--store-only)"
            if args.store_only
            else "sentence-transformers/all-MiniLM-L6-v2 (bundled)"
        ),
        "kind": args.kind,
        "queries": args.queries,
        "k": args.k,
        "runs": runs,
        "ratios": ratios,
    }
    text = json.dumps(output, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
