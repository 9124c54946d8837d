"""Retrieval quality of localchain's pipelines on labelled sets: BM25, dense, hybrid, + rerank.

Two labelled sets:

* ``pydoc``: the 79 Python Language Reference topics that ship with CPython
  (``pydoc_data.topics``), each chunked into ~200-token windows (the MiniLM tokenizer,
  20 tokens overlap); 50 questions written for this benchmark in
  ``bench/data/pydoc_questions.jsonl``, each with its answer topic (grade 2) and, where the
  answer also appears in a broader topic (``compound``, ``specialnames``...), that topic
  (grade 1). A hit counts for its topic; repeats of a topic count once, at their best rank.
* ``cranfield``: 1,400 aeronautics abstracts, 225 queries, graded judgments
  (``data/cranfield``), with the reference numbers recorded there.

Pipelines: ``bm25``, ``dense``, ``hybrid`` (RRF, k=60), and ``hybrid+<reranker>`` for each
``--rerank`` given: ``llm`` (the embedded GGUF, yes/no; about one second per document, so
50 questions x shortlist 10 take minutes), ``llm-score`` (0-10), ``cross-encoder:PATH``,
``cohere`` (needs COHERE_API_KEY and the network). No relevance threshold is applied: these
are ranking metrics. A reranked ranking is the reranked shortlist followed by the rest of
the hybrid ranking.

With ``--backends faiss,qdrant`` (the default) the same vectors also go into a Qdrant
collection (local mode on a temp folder: exact, brute-force search; nothing embedded
twice), searched as ``qdrant:dense`` (cosine), ``qdrant:bm25`` (sparse vectors with
Qdrant's IDF modifier) and ``qdrant:hybrid`` (prefetch + RRF in the engine, k=60);
``qdrant_vs_faiss`` gives the nDCG@10 differences to the in-memory pipelines.

Metrics: recall@5, nDCG@10 (linear gains), MRR, plus wall time per pipeline. With the pydoc
set it also reports the best dense cosine of the questions and of 15 off-topic questions
(``bench/data/offtopic_questions.txt``), the data behind the default relevance threshold.

Run:  .venv/bin/python bench/retrieval_quality.py [--set pydoc|cranfield|both]
          [--rerank llm --shortlist 10] [--limit N] [--backends faiss,qdrant]
Prints one JSON object; also writes bench/results/retrieval_quality.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from localchain.retrievers import (
    BM25Retriever,
    DenseRetriever,
    FaissStore,
    HybridRetriever,
    RerankRetriever,
    TokenChunker,
    default_embeddings,
    evaluate_run,
    resolve_reranker,
    run_from_retriever,
)

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "data" / "pydoc_questions.jsonl"
CRANFIELD = Path(os.environ.get("CRANFIELD_DIR", Path(__file__).resolve().parents[1] / "data" / "cranfield"))
CRANFIELD_REFERENCE = {  # from the collection's README: raw libraries, all 225 queries
    "bm25": {"nDCG@10": 0.348, "MAP": 0.275, "recall@10": 0.381},
    "dense": {"nDCG@10": 0.383, "MAP": 0.321, "recall@10": 0.419},
    "hybrid": {"nDCG@10": 0.399, "MAP": 0.336, "recall@10": 0.431},
}


def pydoc_set(
    limit: int | None,
) -> tuple[list[Document], dict[str, str], dict[str, dict[str, float]]]:
    """Chunks of the 79 topics, the questions and their judgments (per topic)."""
    from pydoc_data.topics import topics

    embeddings = default_embeddings()
    chunker = TokenChunker(chunk_size=200, chunk_overlap=20, tokenizer=embeddings.model.tokenizer)
    docs = [
        Document(text, metadata={"source": f"pydoc:{name}", "topic": name, "title": name})
        for name, text in sorted(topics.items())
    ]
    chunks = chunker.split_documents(docs)
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    unknown = {t for row in rows for t in row["relevant"]} - set(topics)
    if unknown:
        raise SystemExit(f"questions name topics this Python lacks: {sorted(unknown)}")
    rows = rows[:limit] if limit else rows
    queries = {row["id"]: row["question"] for row in rows}
    qrels = {row["id"]: {t: float(g) for t, g in row["relevant"].items()} for row in rows}
    return chunks, queries, qrels


def cranfield_set(
    limit: int | None,
) -> tuple[list[Document], dict[str, str], dict[str, dict[str, float]]]:
    spec = importlib.util.spec_from_file_location("cranfield_load", CRANFIELD / "load.py")
    assert spec and spec.loader
    cran = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cran)
    docs = [
        Document(
            f"{title} {text}", id=doc_id, metadata={"topic": doc_id, "source": f"cran:{doc_id}"}
        )
        for doc_id, (title, text) in cran.docs().items()
    ]
    queries = cran.queries()
    if limit:
        queries = dict(list(queries.items())[:limit])
    qrels = {
        q: {d: float(g) for d, g in grades.items()}
        for q, grades in cran.qrels().items()
        if q in queries
    }
    return docs, queries, qrels


def evaluate(
    name: str,
    chunks: list[Document],
    queries: dict[str, str],
    qrels: dict[str, dict[str, float]],
    rerankers: list[str],
    shortlist: int,
    depth: int,
    qdrant: bool = False,
) -> dict[str, Any]:
    started = time.perf_counter()
    store = FaissStore.from_documents(chunks, default_embeddings())
    bm25 = BM25Retriever.from_documents(chunks, k=depth)
    built = time.perf_counter() - started
    extra: dict[str, Any] = {}
    if qdrant:
        extra, qdrant_pipelines = qdrant_side(store, depth)
    dense = DenseRetriever(store=store, k=depth)
    hybrid = HybridRetriever(retrievers={"dense": dense, "bm25": bm25}, k=depth, fetch_k=depth)
    pipelines: dict[str, Any] = {"bm25": bm25, "dense": dense, "hybrid": hybrid}
    if qdrant:
        pipelines.update(qdrant_pipelines)
    for spec in rerankers:
        reranker = resolve_reranker("llm" if spec == "llm-score" else spec)
        if spec == "llm-score":
            reranker.method = "score"
        # The shortlist counts chunks (several may share a topic); the hybrid ranking
        # continues after it, so recall@10 and nDCG@10 compare at the same depth.
        pipelines[f"hybrid+{spec}"] = RerankRetriever(
            base=hybrid, reranker=reranker, shortlist_k=shortlist, k=depth, keep_rest=True
        )
    results: dict[str, Any] = {}
    for label, retriever in pipelines.items():
        t0 = time.perf_counter()
        run = run_from_retriever(retriever, queries, id_key="topic")
        seconds = time.perf_counter() - t0
        report = evaluate_run(run, qrels, ks=(5, 10), depth=100)
        results[label] = {
            "recall@5": round(report.metrics["recall@5"], 4),
            "nDCG@10": round(report.metrics["nDCG@10"], 4),
            "recall@10": round(report.metrics["recall@10"], 4),
            "MAP": round(report.metrics["MAP"], 4),
            "MRR": round(report.metrics["MRR"], 4),
            "seconds": round(seconds, 2),
            "queries": report.num_queries,
        }
        print(f"[{name}] {label}: {results[label]}", file=sys.stderr)
    if qdrant:
        extra["qdrant_vs_faiss"] = {
            f"{side}_nDCG@10_diff": round(
                results[f"qdrant:{side}"]["nDCG@10"] - results[side]["nDCG@10"], 4
            )
            for side in ("dense", "bm25", "hybrid")
        }
        print(f"[{name}] qdrant vs faiss: {extra['qdrant_vs_faiss']}", file=sys.stderr)
    return {
        "chunks": len(chunks),
        "queries": len(queries),
        "index_s": round(built, 2),
        "pipelines": results,
        **extra,
    }


def qdrant_side(store: FaissStore, depth: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The FAISS store's documents and vectors in a Qdrant collection (local mode, a temp
    folder), and the three Qdrant pipelines over it."""
    import tempfile

    from qdrant_client import QdrantClient

    from localchain.retrievers import QdrantBM25Retriever, QdrantHybridRetriever, QdrantStore

    started = time.perf_counter()
    qstore = QdrantStore(
        store.embeddings, QdrantClient(path=tempfile.mkdtemp(prefix="bench-qdrant-"))
    )
    numbers, matrix = store.vectors()
    docs = store.get_by_ids([store._docs[n].id for n in numbers])
    for start in range(0, len(docs), 4096):
        qstore.add_embeddings(docs[start : start + 4096], matrix[start : start + 4096])
    info = {
        "qdrant_index_s": round(time.perf_counter() - started, 2),
        "qdrant_search": "local mode: exact (brute force), no HNSW",
    }
    pipelines = {
        "qdrant:bm25": QdrantBM25Retriever(store=qstore, k=depth),
        "qdrant:dense": DenseRetriever(store=qstore, k=depth),
        "qdrant:hybrid": QdrantHybridRetriever(store=qstore, k=depth, fetch_k=depth),
    }
    return info, pipelines


def threshold_data(limit: int | None) -> dict[str, Any]:
    """Best dense cosine of answerable questions (pydoc set) and of off-topic ones
    (``bench/data/offtopic_questions.txt``) over the pydoc chunks: where a relevance
    threshold can go."""
    from localchain.retrievers import MINILM_RELEVANCE_THRESHOLD

    chunks, queries, _ = pydoc_set(limit)
    store = FaissStore.from_documents(chunks, default_embeddings())
    offtopic = [q for q in (HERE / "data" / "offtopic_questions.txt").read_text().splitlines() if q]

    def best(question: str) -> float:
        return round(store.similarity_search_with_score(question, k=1)[0][1], 4)

    answerable = sorted(best(q) for q in queries.values())
    unanswerable = sorted(best(q) for q in offtopic)
    cut = MINILM_RELEVANCE_THRESHOLD
    return {
        "threshold": cut,
        "answerable_best_cosine": {
            "min": answerable[0],
            "median": answerable[len(answerable) // 2],
            "below_threshold": sum(c < cut for c in answerable),
            "n": len(answerable),
        },
        "offtopic_best_cosine": {
            "max": unanswerable[-1],
            "median": unanswerable[len(unanswerable) // 2],
            "at_or_above_threshold": sum(c >= cut for c in unanswerable),
            "n": len(unanswerable),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["pydoc", "cranfield", "both"], default="both")
    parser.add_argument(
        "--rerank",
        action="append",
        default=[],
        help="llm, llm-score, cohere or cross-encoder:PATH (repeatable)",
    )
    parser.add_argument("--shortlist", type=int, default=10, help="hybrid hits reranked")
    parser.add_argument("--limit", type=int, default=None, help="first N queries only (smoke)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "retrieval_quality.json")
    parser.add_argument(
        "--backends", default="faiss,qdrant", help="faiss, or faiss,qdrant (same vectors)"
    )
    args = parser.parse_args()
    qdrant = "qdrant" in args.backends.split(",")

    output: dict[str, Any] = {
        "benchmark": "retrieval_quality",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "embeddings": default_embeddings().model_name,
        "limit": args.limit,
        "shortlist": args.shortlist,
    }
    if args.set in ("pydoc", "both"):
        output["pydoc"] = evaluate(
            "pydoc", *pydoc_set(args.limit), args.rerank, args.shortlist, 50, qdrant
        )
    if args.set in ("cranfield", "both") and (CRANFIELD / "load.py").exists():
        output["cranfield"] = evaluate(
            "cranfield", *cranfield_set(args.limit), args.rerank, args.shortlist, 100, qdrant
        )
        output["cranfield"]["reference"] = CRANFIELD_REFERENCE
    if args.set in ("pydoc", "both"):
        output["threshold"] = threshold_data(args.limit)
    text = json.dumps(output, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
