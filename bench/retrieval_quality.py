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

Pipelines: ``bm25`` and ``hybrid`` (RRF, k=60) with localchain's defaults (stemmed
tokens, Lucene IDF, RM3 feedback), ``bm25-book`` and ``hybrid-book`` with the book's BM25
(:data:`BOOK_BM25`, what localchain shipped before), ``dense``, and ``hybrid+<reranker>`` for each
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

``--options`` adds, for Cranfield, the table of every option tried (tokenizers, IDF, k1,
feedback, titles, Rocchio, fusion weights and k, score fusion): nDCG@10 on the first half of
the queries (``dev``, where defaults were chosen), on the second half (``test``, reported
only) and on all 225; a paired bootstrap of default hybrid vs the book's hybrid per query;
and query latency p50/p95 (embedding included) of the old and new pipelines, in one run.
``--rerank llm`` with ``--options`` reranks the default hybrid on the ``test`` half.

Run:  .venv/bin/python bench/retrieval_quality.py [--set pydoc|cranfield|both]
          [--rerank llm --shortlist 10] [--limit N] [--options] [--backends faiss,qdrant]
Prints one JSON object; also writes bench/results/retrieval_quality.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from localchain.retrievers import (
    BOOK_BM25,
    BM25Retriever,
    DenseRetriever,
    FaissStore,
    HybridRetriever,
    RerankRetriever,
    TokenChunker,
    book_tokenize,
    default_embeddings,
    evaluate_run,
    resolve_reranker,
    run_from_retriever,
)

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "data" / "pydoc_questions.jsonl"
CRANFIELD = Path(
    os.environ.get("CRANFIELD_DIR", Path(__file__).resolve().parents[1] / "data" / "cranfield")
)
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
    book = BM25Retriever.from_documents(chunks, k=depth, **BOOK_BM25)
    extra: dict[str, Any] = {}
    if qdrant:
        extra, qdrant_pipelines = qdrant_side(store, depth)
    dense = DenseRetriever(store=store, k=depth)
    hybrid = HybridRetriever(retrievers={"dense": dense, "bm25": bm25}, k=depth, fetch_k=depth)
    hybrid_book = HybridRetriever(retrievers={"dense": dense, "bm25": book}, k=depth, fetch_k=depth)
    pipelines: dict[str, Any] = {
        "bm25": bm25,
        "bm25-book": book,
        "dense": dense,
        "hybrid": hybrid,
        "hybrid-book": hybrid_book,
    }
    if name == "pydoc":  # Rocchio on the dense side: an option, measured where it loses
        rocchio = DenseRetriever(store=store, k=depth, feedback_docs=3, feedback_weight=0.3)
        pipelines["dense+rocchio"] = rocchio
        pipelines["hybrid+rocchio"] = HybridRetriever(
            retrievers={"dense": rocchio, "bm25": bm25}, k=depth, fetch_k=depth
        )
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


class CachedQueries(Embeddings):
    """The store's embeddings, remembering query vectors while ``cache`` is on: the options
    table asks every query of every pipeline; latency is measured with it off."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner, self.cache, self._seen = inner, True, {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if not self.cache:
            return self.inner.embed_query(text)
        if text not in self._seen:
            self._seen[text] = self.inner.embed_query(text)
        return self._seen[text]

    def __getattr__(self, name: str) -> Any:  # model_name, overflow, ...
        return getattr(self.inner, name)


def score_fusion(lists: dict[str, list[Document]], weights: dict[str, float]) -> list[Document]:
    """Z-score fusion: each list's scores standardised over its hits, weighted and summed; a
    document missing from a list gets that list's lowest standardised score."""
    fused: dict[str, float] = {}
    docs: dict[str, Document] = {}
    for name, hits in lists.items():
        if not hits:
            continue
        values = np.array([h.metadata["score"] for h in hits], dtype=float)
        z = (values - values.mean()) / (values.std() or 1.0)
        floor = float(z.min())
        seen = {h.id: float(v) for h, v in zip(hits, z)}
        for h in hits:
            docs.setdefault(h.id, h)
        for other in set(fused) | set(seen):
            fused[other] = fused.get(other, 0.0) + weights[name] * seen.get(other, floor)
        for missing in set(docs) - set(seen) - set(fused):
            fused[missing] = weights[name] * floor
    return [docs[d] for d in sorted(fused, key=lambda d: -fused[d])]


def cranfield_options(
    limit: int | None, rerankers: list[str], shortlist: int, rerank_queries: int | None
) -> dict[str, Any]:
    """Every option tried on Cranfield, on the dev half, the test half and all queries."""
    docs, queries, qrels = cranfield_set(limit)
    ids = list(queries)
    dev, test = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    spec = importlib.util.spec_from_file_location("cranfield_load", CRANFIELD / "load.py")
    assert spec and spec.loader
    cran = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cran)
    raw = cran.docs()

    def with_text(make: Any) -> list[Document]:
        return [Document(make(*raw[d.id]), id=d.id, metadata=dict(d.metadata)) for d in docs]

    no_title = with_text(lambda title, text: text or title)
    title_twice = with_text(lambda title, text: f"{title} {title} {text}")
    embeddings = CachedQueries(default_embeddings())
    started = time.perf_counter()
    store = FaissStore.from_documents(docs, embeddings)
    embed_s = time.perf_counter() - started
    depth = 100

    def bm25(corpus: list[Document] = docs, **options: Any) -> BM25Retriever:
        return BM25Retriever.from_documents(corpus, k=depth, **options)

    def hybrid(keyword: BaseRetriever, semantic: BaseRetriever, **options: Any) -> Any:
        retrievers = {"dense": semantic, "bm25": keyword}
        return HybridRetriever(retrievers=retrievers, k=depth, fetch_k=depth, **options)

    book = bm25(**BOOK_BM25)
    tuned = bm25()
    dense = DenseRetriever(store=store, k=depth)
    rocchio = DenseRetriever(store=store, k=depth, feedback_docs=3, feedback_weight=0.3)
    no_rm3 = {"feedback_docs": 0}
    rows: list[tuple[str, str, Any]] = [
        ("bm25", "book: book tokenizer, Okapi IDF, k1=1.5 (before)", book),
        ("bm25", "+ Snowball stems (book split)", bm25(**{**BOOK_BM25, "tokenizer": stem_book})),
        (
            "bm25",
            "+ stems, \\w+ split (english tokenizer)",
            bm25(**{**BOOK_BM25, "tokenizer": "english"}),
        ),
        ("bm25", "+ Lucene IDF", bm25(k1=1.5, **no_rm3)),
        ("bm25", "+ k1=1.2", bm25(**no_rm3)),
        ("bm25", "+ RM3 feedback (5 docs, 30 terms, 0.4): default", tuned),
        (
            "bm25",
            "default, RM3 10 docs / 20 terms / 0.5",
            bm25(feedback_docs=10, feedback_terms=20, feedback_query_weight=0.5),
        ),
        ("bm25", "default, k1=2.0", bm25(k1=2.0)),
        ("bm25", "default, title weight 2 (title twice)", bm25(title_twice)),
        ("bm25", "default, no title", bm25(no_title)),
        ("dense", "dense (MiniLM cosine)", dense),
        ("dense", "+ Rocchio feedback (3 docs, 0.3)", rocchio),
        ("hybrid", "book BM25 + dense, RRF k=60 (before)", hybrid(book, dense)),
        ("hybrid", "default BM25 + dense, RRF k=60: default", hybrid(tuned, dense)),
        ("hybrid", "default, RRF k=10", hybrid(tuned, dense, rank_constant=10)),
        ("hybrid", "default, RRF k=30", hybrid(tuned, dense, rank_constant=30)),
        ("hybrid", "default, BM25 weight 0.7", hybrid(tuned, dense, weights={"bm25": 0.7})),
        ("hybrid", "default, BM25 weight 1.5", hybrid(tuned, dense, weights={"bm25": 1.5})),
        ("hybrid", "default BM25 + Rocchio dense, RRF k=60", hybrid(tuned, rocchio)),
        ("hybrid", "default BM25 without RM3 + dense", hybrid(bm25(**no_rm3), dense)),
    ]
    runs: dict[str, dict[str, list[str]]] = {}
    table = []

    def record(kind: str, label: str, run: dict[str, list[str]]) -> None:
        runs[label] = run
        row: dict[str, Any] = {"kind": kind, "option": label}
        for split, subset in (("dev", dev), ("test", test), ("all", ids)):
            report = evaluate_run(
                {q: run[q] for q in subset if q in run},
                {q: qrels[q] for q in subset if q in qrels},
                ks=(5, 10),
                depth=100,
            )
            row[f"nDCG@10 {split}"] = round(report.metrics["nDCG@10"], 4)
        row["recall@10 all"] = round(
            evaluate_run(run, qrels, ks=(10,), depth=100).metrics["recall@10"], 4
        )
        table.append(row)
        print(f"[options] {row}", file=sys.stderr, flush=True)

    for kind, label, retriever in rows:
        record(kind, label, run_from_retriever(retriever, queries, id_key="topic"))
    # Z-score fusion of the default lists (not a localchain option: measured here only).
    for weight in (0.5, 0.7):
        fused = {}
        for q, text in queries.items():
            lists = {"bm25": tuned.invoke(text), "dense": dense.invoke(text)}
            hits = score_fusion(lists, {"bm25": weight, "dense": 1 - weight})
            fused[q] = list(dict.fromkeys(h.metadata["topic"] for h in hits))
        record("hybrid", f"default lists, z-score fusion, BM25 weight {weight}", fused)
    default_hybrid = hybrid(tuned, dense)
    default_label = "default BM25 + dense, RRF k=60: default"
    reranked: dict[str, Any] = {}
    for spec_name in rerankers:
        reranker = resolve_reranker("llm" if spec_name == "llm-score" else spec_name)
        if spec_name == "llm-score":
            reranker.method = "score"
        rerank = RerankRetriever(
            base=default_hybrid, reranker=reranker, shortlist_k=shortlist, k=depth, keep_rest=True
        )
        subset = test[:rerank_queries] if rerank_queries else test
        t0 = time.perf_counter()
        run = run_from_retriever(rerank, {q: queries[q] for q in subset}, id_key="topic")
        seconds = time.perf_counter() - t0
        judged = {q: qrels[q] for q in subset if q in qrels}
        with_llm = evaluate_run(run, judged, ks=(5, 10), depth=100).metrics
        without = evaluate_run(
            {q: runs[default_label][q] for q in subset}, judged, ks=(5, 10), depth=100
        ).metrics
        reranked[spec_name] = {
            "queries": f"test half, first {len(subset)}",
            "shortlist": shortlist,
            "nDCG@10 hybrid": round(without["nDCG@10"], 4),
            "nDCG@10 hybrid+rerank": round(with_llm["nDCG@10"], 4),
            "recall@5 hybrid": round(without["recall@5"], 4),
            "recall@5 hybrid+rerank": round(with_llm["recall@5"], 4),
            "seconds": round(seconds, 1),
        }
        print(f"[options] rerank {spec_name}: {reranked[spec_name]}", file=sys.stderr, flush=True)

    before = runs["book BM25 + dense, RRF k=60 (before)"]
    after = runs["default BM25 + dense, RRF k=60: default"]
    significance = {
        split: paired_bootstrap(before, after, qrels, subset)
        for split, subset in (("test", test), ("all", ids))
    }
    bm25_gain = {
        split: paired_bootstrap(runs[rows[0][1]], runs[rows[5][1]], qrels, subset)
        for split, subset in (("test", test), ("all", ids))
    }
    embeddings.cache = False
    latency = latency_ms(
        {
            "bm25 book (before)": book,
            "bm25 default": tuned,
            "hybrid book (before)": hybrid(book, dense),
            "hybrid default": default_hybrid,
        },
        [queries[q] for q in ids[:60]],
    )
    return {
        "queries": {"dev": len(dev), "test": len(test), "all": len(ids)},
        "embed_s": round(embed_s, 1),
        "table": table,
        "hybrid_default_vs_before": significance,
        "bm25_default_vs_book": bm25_gain,
        "latency_ms": latency,
        "rerank": reranked,
    }


def stem_book(text: str) -> list[str]:
    """The book's tokenizer followed by Snowball stems (the first option tried)."""
    import Stemmer

    return Stemmer.Stemmer("english").stemWords(book_tokenize(text))


def paired_bootstrap(
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    qrels: dict[str, dict[str, float]],
    subset: list[str],
    rounds: int = 10000,
) -> dict[str, Any]:
    """Mean nDCG@10 gain per query with a 95% bootstrap interval (queries resampled)."""
    from localchain.retrievers import ndcg_at_k

    judged = [q for q in subset if qrels.get(q)]
    gains = np.array(
        [ndcg_at_k(after[q], qrels[q], 10) - ndcg_at_k(before[q], qrels[q], 10) for q in judged]
    )
    rng = np.random.default_rng(0)
    means = gains[rng.integers(0, len(gains), size=(rounds, len(gains)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "queries": len(judged),
        "mean_gain": round(float(gains.mean()), 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
        "share_of_resamples_at_or_below_0": round(float((means <= 0).mean()), 4),
        "better": int((gains > 0).sum()),
        "worse": int((gains < 0).sum()),
        "same": int((gains == 0).sum()),
    }


def latency_ms(pipelines: dict[str, BaseRetriever], texts: list[str]) -> dict[str, Any]:
    """Wall time per query (embedding included), p50/p95 per pipeline. The pipelines take
    turns on every query, so a busy machine slows them alike and their ratios hold."""
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for retriever in pipelines.values():
        retriever.invoke(texts[0])  # warm-up
    for text in texts:
        for name, retriever in pipelines.items():
            t0 = time.perf_counter()
            retriever.invoke(text)
            times[name].append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {}
    for name, values in times.items():
        values.sort()
        out[name] = {
            "p50": round(statistics.median(values), 2),
            "p95": round(values[int(0.95 * (len(values) - 1))], 2),
            "queries": len(values),
        }
    return out


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
    parser.add_argument(
        "--options", action="store_true", help="Cranfield: the table of every option tried"
    )
    parser.add_argument(
        "--bm25-latency",
        action="store_true",
        help="only: BM25 query latency on Cranfield, the book's vs the defaults (no model)",
    )
    parser.add_argument(
        "--rerank-queries",
        type=int,
        default=None,
        help="with --options: rerank only the first N queries of the test half",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "retrieval_quality.json")
    parser.add_argument(
        "--backends", default="faiss,qdrant", help="faiss, or faiss,qdrant (same vectors)"
    )
    args = parser.parse_args()
    qdrant = "qdrant" in args.backends.split(",")

    if args.bm25_latency:
        docs, queries, _ = cranfield_set(args.limit)
        texts = list(queries.values())
        pipelines = {
            "bm25 book (before)": BM25Retriever.from_documents(docs, k=100, **BOOK_BM25),
            "bm25 default": BM25Retriever.from_documents(docs, k=100),
        }
        short = {f"{name}, k=5": r.model_copy(update={"k": 5}) for name, r in pipelines.items()}
        result = {
            "benchmark": "retrieval_quality --bm25-latency",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "latency_ms": latency_ms({**pipelines, **short}, texts),
        }
        text = json.dumps(result, indent=2)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        print(text)
        return
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
        # With --options the rerankers run on Cranfield's test half only.
        rerank_pydoc = [] if args.options else args.rerank
        output["pydoc"] = evaluate(
            "pydoc", *pydoc_set(args.limit), rerank_pydoc, args.shortlist, 50, qdrant
        )
    if args.set in ("cranfield", "both") and (CRANFIELD / "load.py").exists():
        if args.options:  # first: the longest part, and the one most likely to be changed
            output["cranfield_options"] = cranfield_options(
                args.limit, args.rerank, args.shortlist, args.rerank_queries
            )
        output["cranfield"] = evaluate(
            "cranfield",
            *cranfield_set(args.limit),
            args.rerank if not args.options else [],
            args.shortlist,
            100,
            qdrant,
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
