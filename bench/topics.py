"""Topic modeling speed, memory and quality: localchain.topics over an index vs plain BERTopic.

Corpora:

* ``cranfield``: the 1,400 Cranfield abstracts (title + text), indexed whole (one chunk per
  abstract, ``ParagraphChunker``) by ``Index.build``.
* ``pydoc``: the 10,000 sentence chunks of ``bench/retrieval_speed.py`` (sentences of the
  Python Language Reference topics, cycled with a numeric suffix past the first lap),
  indexed the same way.

Sides, each in its own subprocess (so ``peak_rss_mb``, from ``ru_maxrss``, is its own):

* ``localchain``: ``topic_model(index)``: the index's stored vectors reused, nothing
  embedded; then the embedded model labels the topics (all of Cranfield's; the 10 largest
  of pydoc's, through ``TopicLabeler``); then KeyBERTInspired keywords on the same
  settings (Cranfield), and quality: NPMI coherence over the corpus (top 10 keywords, the
  model's own tokenizer) and topic diversity for both keyword kinds, and how often a label
  shares a word with its keywords or documents.
* ``bertopic``: plain ``BERTopic`` with the same UMAP, HDBSCAN and vectorizer settings and a
  ``SentenceTransformer`` of the same bundled MiniLM folder, embedding the texts itself.

UMAP's numba functions compile on their first call in a process (about 20 s here); each
side first fits a 60-document corpus to pay that apart (``jit_s``), so ``fit_s`` is the fit.

Run:  .venv/bin/python bench/topics.py [--corpora cranfield,pydoc] [--out FILE]
Prints one JSON object; also writes it to bench/results/topics.json by default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SETTINGS = {"min_topic_size": 10, "n_neighbors": 15, "n_components": 5, "seed": 42}


def texts_of(corpus: str) -> list[tuple[str, str]]:
    """(source, text) pairs of a corpus."""
    if corpus == "cranfield":
        from retrieval_quality import cranfield_set

        docs, _, _ = cranfield_set(None)
        return [(d.metadata["source"], d.page_content) for d in docs]
    from retrieval_speed import corpus as pydoc_corpus

    return [(f"pydoc:{n}", t) for n, t in enumerate(pydoc_corpus(10_000))]


def warm_up() -> float:
    """Fit a tiny corpus once: numba compiles UMAP's functions on their first call."""
    from localchain.topics import topic_model

    started = time.perf_counter()
    texts = [f"Wing flutter test {i}." for i in range(30)] + [f"Heat flux {i}." for i in range(30)]
    topic_model(texts, min_topic_size=5, n_neighbors=5, progress=False)
    return round(time.perf_counter() - started, 2)


def build_index(pairs: list[tuple[str, str]], folder: Path) -> tuple[Any, float]:
    from localchain.retrievers import Index, ParagraphChunker

    docs = folder / "docs"
    docs.mkdir()
    for number, (_, text) in enumerate(pairs):
        (docs / f"{number:05d}.txt").write_text(" ".join(text.split()), encoding="utf-8")
    started = time.perf_counter()
    Index.build(docs, folder / "store", chunker=ParagraphChunker(), progress=False)
    built = time.perf_counter() - started
    return Index.open(folder / "store"), round(built, 2)


def quality(model: Any) -> dict[str, float]:
    from localchain.topics import npmi_coherence, topic_diversity

    analyzer = model.bertopic.vectorizer_model.build_analyzer()
    tokens = [analyzer(text) for text in model.texts]
    keywords = [t.keyword_words() for t in model.result.topics]
    return {
        "npmi": round(npmi_coherence(keywords, tokens), 4),
        "diversity": round(topic_diversity(keywords), 4),
    }


def summary(result: Any, top: int = 10) -> dict[str, Any]:
    return {
        "topics": len(result.topics),
        "outliers": result.outliers,
        "outlier_share": round(result.outlier_share, 4),
        "largest": [
            {"id": t.id, "size": t.size, "label": t.label, "keywords": t.keyword_words()[:8]}
            for t in result.topics[:top]
        ],
    }


def localchain_side(corpus: str) -> dict[str, Any]:
    from localchain.models import LlamaCppChat
    from localchain.topics import TopicLabeler, label_overlap, topic_model

    out: dict[str, Any] = {"jit_s": warm_up()}
    pairs = texts_of(corpus)
    with tempfile.TemporaryDirectory() as folder:
        index, out["index_build_s"] = build_index(pairs, Path(folder))
        started = time.perf_counter()
        model = topic_model(index, None, progress=False, **SETTINGS)
        out["fit_s"] = round(time.perf_counter() - started, 2)
        out["phases_s"] = model.result.seconds
        out["ctfidf"] = {**summary(model.result), **quality(model)}
        chat = LlamaCppChat(temperature=0, max_tokens=24, n_ctx=2048, seed=42)
        chat.invoke("hi", max_tokens=1)  # load the model before timing
        topics = model.result.topics if corpus == "cranfield" else model.result.topics[:10]
        labeler = TopicLabeler(chat)
        started = time.perf_counter()
        failures = 0
        for topic in topics:
            try:
                topic.label = labeler.label(
                    topic.keyword_words(), [d.text for d in topic.representative_documents]
                )
                topic.label_source = "llm"
            except Exception:  # noqa: BLE001 - counted, as topic_model counts them
                failures += 1
        spent = time.perf_counter() - started
        out["label"] = {
            "topics_labelled": len(topics),
            "failures": failures,
            "seconds_per_topic": round(spent / max(len(topics), 1), 2),
            "overlap": label_overlap(model.result),
            "labels": [
                {"id": t.id, "label": t.label, "keywords": t.keyword_words()[:5]} for t in topics
            ],
        }
        if corpus == "cranfield":
            started = time.perf_counter()
            keybert = topic_model(index, None, progress=False, keywords="keybert", **SETTINGS)
            out["keybert"] = {
                "fit_s": round(time.perf_counter() - started, 2),
                "same_clusters": [d.topic for d in keybert.result.documents]
                == [d.topic for d in model.result.documents],
                **quality(keybert),
                "largest": summary(keybert.result, 5)["largest"],
            }
    return out


def bertopic_side(corpus: str) -> dict[str, Any]:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sentence_transformers import SentenceTransformer
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    from localchain.retrievers.embeddings import bundled_minilm_path

    out: dict[str, Any] = {"jit_s": warm_up()}
    texts = [" ".join(t.split()) for _, t in texts_of(corpus)]
    started = time.perf_counter()
    model = BERTopic(
        embedding_model=SentenceTransformer(str(bundled_minilm_path()), device="cpu"),
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                        random_state=42, n_jobs=1, low_memory=False),
        hdbscan_model=HDBSCAN(min_cluster_size=10, metric="euclidean",
                              cluster_selection_method="eom", prediction_data=True),
        vectorizer_model=CountVectorizer(stop_words="english"),
        min_topic_size=10,
    )  # fmt: skip
    topics, _ = model.fit_transform(texts)
    out["fit_s"] = round(time.perf_counter() - started, 2)
    out["topics"] = len(set(topics) - {-1})
    out["outliers"] = sum(1 for t in topics if t == -1)
    return out


def worker(side: str, corpus: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = localchain_side(corpus) if side == "localchain" else bertopic_side(corpus)
    result["wall_s"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default="cranfield,pydoc")
    parser.add_argument("--sides", default="localchain,bertopic")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "topics.json")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "CORPUS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    report: dict[str, Any] = {
        "benchmark": "topics",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": os.getloadavg()},
        "settings": SETTINGS,
        "results": {},
    }  # fmt: skip
    for corpus in args.corpora.split(","):
        for side in args.sides.split(","):
            command = [sys.executable, __file__, "--worker", side, corpus]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            key = f"{corpus}/{side}"
            if done.returncode != 0:
                report["results"][key] = {"error": done.stderr[-2000:]}
            else:
                report["results"][key] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{key}: done", file=sys.stderr, flush=True)
    for corpus in args.corpora.split(","):
        ours = report["results"].get(f"{corpus}/localchain", {})
        theirs = report["results"].get(f"{corpus}/bertopic", {})
        if "fit_s" in ours and "fit_s" in theirs:
            report["results"][f"{corpus}/fit_ratio_bertopic_over_localchain"] = round(
                theirs["fit_s"] / ours["fit_s"], 2
            )
    text = json.dumps(report, indent=2, ensure_ascii=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
