"""Index over Qdrant's local mode (qdrant:PATH): build, search, re-index diffs, filters,
embedding checks, the FAISS-folder copy, a locked folder and an empty corpus."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError, IndexFormatError
from localchain.retrievers.chunking import SeparatorChunker
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD
from localchain.retrievers.qdrant_connect import StoreLockedError
from localchain.retrievers.qdrant_index import QdrantIndex
from localchain.retrievers.qdrant_search import QdrantHybridRetriever
from localchain.retrievers.store import Index, StoreExistsError, open_retriever

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"
BOOK_QUERY = "how precise was the science"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    (folder / "films").mkdir(parents=True)
    shutil.copy(INTERSTELLAR, folder / "films" / "interstellar.txt")
    (folder / "moon.md").write_text("# The Moon\n\nThe Moon orbits Earth. It has no air.\n")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"qdrant:{tmp_path / 'index.qdrant'}"


def test_build_then_search_every_mode(corpus: Path, store: str) -> None:
    report = Index.build(corpus, store, chunker=SeparatorChunker("."))
    assert (report.added, report.removed, report.total) == (17, 0, 17)
    assert report.store == f"qdrant:{Path(store.removeprefix('qdrant:')).resolve()}"
    with Index.open(store) as index:
        assert isinstance(index, QdrantIndex)
        for mode in ("dense", "bm25", "hybrid"):
            hits = index.search(BOOK_QUERY, mode=mode, k=3)
            assert hits and all(h.metadata["source"].startswith(str(corpus)) for h in hits)
        dense = index.retriever("dense", k=3, threshold=None).invoke(BOOK_QUERY)
        assert [round(h.metadata["score"], 3) for h in dense] == [0.476, 0.333, 0.209]
        hybrid = index.retriever("hybrid", k=1, threshold=BOOK_RELEVANCE_THRESHOLD)
        assert isinstance(hybrid, QdrantHybridRetriever)
        assert "Kip Thorne" in hybrid.invoke(BOOK_QUERY)[0].page_content
        bm25 = index.search(BOOK_QUERY, mode="bm25", k=3)
        assert bm25[0].page_content.startswith("Interstellar is a 2014 epic science fiction")
        manifest = index.manifest
        assert (manifest.chunks, manifest.sources, manifest.roots) == (17, 2, [str(corpus)])
        assert index.store.info["embedding"] == {
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "dimension": 384,
        }


def test_unanswerable_query_returns_nothing_in_every_mode(corpus: Path, store: str) -> None:
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    with Index.open(store) as index:
        for mode in ("dense", "bm25", "hybrid"):
            assert index.search("How tall is Mount Everest?", mode=mode) == []
        assert index.search("How tall is Mount Everest?", mode="dense", threshold=None)


def test_reindex_changes_only_what_changed(corpus: Path, store: str, minilm, monkeypatch) -> None:
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    with Index.open(store) as index:
        unchanged = index.update(corpus)
        assert (unchanged.added, unchanged.removed, unchanged.unchanged) == (0, 0, 17)

        (corpus / "moon.md").write_text(
            "# The Moon\n\nThe Moon orbits Earth. It has no atmosphere.\n"
        )
        (corpus / "mars.txt").write_text("Mars is red. Mars has two moons.")
        embedded: list[int] = []
        original = minilm.embed_documents_array
        monkeypatch.setattr(
            type(minilm),
            "embed_documents_array",
            lambda self, texts: embedded.append(len(texts)) or original(texts),
        )
        report = index.update(corpus)
        assert (report.added, report.removed, report.total) == (3, 1, 19)
        assert embedded == [3]  # only the new text went through the model

        (corpus / "films" / "interstellar.txt").unlink()
        report = index.update(corpus)
        assert (report.added, report.removed, report.total) == (0, 15, 4)
        hits = index.search("red planet moons", mode="bm25", k=5)
        assert hits and all("interstellar" not in h.metadata["source"] for h in hits)
    with Index.open(store) as again:  # the changes are on disk, not in this object
        assert again.manifest.chunks == 4 and len(again.store) == 4


def test_moved_text_refreshes_positions_without_embedding(corpus: Path, store: str) -> None:
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    (corpus / "moon.md").write_text("# The Moon\n\nIntro. The Moon orbits Earth. It has no air.\n")
    with Index.open(store) as index:
        report = index.update(corpus)
        assert (report.added, report.removed, report.unchanged) == (2, 1, 16)
        hit = index.search("air", mode="bm25", k=1)[0]
    assert hit.page_content == "It has no air"
    text = (corpus / "moon.md").read_text()
    assert text[hit.metadata["start_index"] : hit.metadata["end_index"]] == hit.page_content


def test_metadata_filters_reach_the_engine(corpus: Path, store: str) -> None:
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    moon = str(corpus / "moon.md")
    with Index.open(store) as index:
        for mode in ("dense", "hybrid"):
            retriever = index.retriever(mode, k=5, threshold=None)
            hits = retriever.invoke(BOOK_QUERY, filter={"source": moon})
            assert hits and {h.metadata["source"] for h in hits} == {moon}
        bm25 = index.retriever("bm25", k=5).invoke("moon orbits", filter={"source": moon})
        assert bm25 and {h.metadata["source"] for h in bm25} == {moon}


class Tiny(Embeddings):
    model_name = "tiny-test-model"
    dimension = 8

    def embed_documents(self, texts):
        return [[1.0] + [0.0] * 7 for _ in texts]

    def embed_query(self, text):
        return [1.0] + [0.0] * 7


def test_a_collection_from_another_embedding_model(corpus: Path, store: str, tmp_path) -> None:
    Index.build(corpus, store, embeddings=Tiny())
    # The same error, word for word after the location, as a FAISS folder of that model.
    with pytest.raises(
        EmbeddingMismatchError, match="8-dimensional vectors from 'tiny-test-model'"
    ) as ours:
        open_retriever(store)
    Index.build(corpus, tmp_path / "faiss", embeddings=Tiny())
    with pytest.raises(EmbeddingMismatchError) as faiss:
        open_retriever(tmp_path / "faiss")
    assert str(ours.value).split(": ", 1)[1] == str(faiss.value).split(": ", 1)[1]
    assert open_retriever(store, embeddings=Tiny(), mode="dense").invoke("moon")


def test_copy_from_a_faiss_folder_gives_identical_top_k(
    corpus: Path, store: str, tmp_path: Path, minilm, monkeypatch
) -> None:
    folder = tmp_path / "faiss"
    Index.build(corpus, folder, chunker=SeparatorChunker("."))
    calls: list[int] = []
    original = minilm.embed_documents_array
    monkeypatch.setattr(
        type(minilm),
        "embed_documents_array",
        lambda self, texts: calls.append(len(texts)) or original(texts),
    )
    report = QdrantIndex.copy_from(folder, store)
    assert (report.added, report.total) == (17, 17) and calls == []  # nothing re-embedded
    queries = [BOOK_QUERY, "Who directed the film?", "The Moon orbits Earth", "box office"]
    with Index.open(folder) as faiss, Index.open(store) as qdrant:
        assert qdrant.manifest.chunker == faiss.manifest.chunker
        assert qdrant.manifest.roots == faiss.manifest.roots
        for query in queries:
            theirs = faiss.search(query, mode="dense", k=5, threshold=None)
            ours = qdrant.search(query, mode="dense", k=5, threshold=None)
            assert [d.id for d in ours] == [d.id for d in theirs]
            assert [d.metadata["score"] for d in ours] == pytest.approx(
                [d.metadata["score"] for d in theirs], abs=1e-5
            )
            assert [d.page_content for d in ours] == [d.page_content for d in theirs]
        # The chunker and roots came along: an update finds nothing to do.
        report = qdrant.update(corpus)
        assert (report.added, report.removed, report.unchanged) == (0, 0, 17)
    assert calls == []


def test_an_empty_corpus_and_existing_or_missing_collections(tmp_path: Path, store: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError):
        Index.build(tmp_path / "empty", store)
    with pytest.raises(StoreExistsError, match="already holds a collection"):
        Index.create(store)  # the failed build left an empty collection to index into
    with pytest.raises(IndexFormatError, match="no Qdrant index there"):
        Index.open(f"qdrant:{tmp_path / 'missing'}")


def test_a_folder_open_in_another_process_is_a_clear_error(corpus: Path, store: str) -> None:
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    path = store.removeprefix("qdrant:")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from qdrant_client import QdrantClient; "
            f"c = QdrantClient(path={path!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="one process per folder") as err:
            Index.open(store)
        assert time.monotonic() - started < 5 and "qdrant+http://" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    with Index.open(store) as index:  # free again once the other process is gone
        assert index.manifest.chunks == 17


def test_a_new_default_tokenizer_reaches_an_existing_collection(
    corpus: Path, store: str, monkeypatch
) -> None:
    from localchain.retrievers.bm25 import BM25Retriever
    from localchain.retrievers.qdrant_points import point_id
    from localchain.retrievers.qdrant_sparse import term_index

    Index.build(corpus, store, chunker=SeparatorChunker("."))

    def suffixed(text: str) -> list[str]:  # a stand-in for a stemming tokenizer
        return [w.strip(".,").lower() + "~" for w in text.split()]

    # BM25Retriever's default tokenizer changes; the Qdrant index follows it on open.
    monkeypatch.setattr(BM25Retriever.model_fields["tokenizer"], "default", suffixed)
    with Index.open(store) as index:
        assert index.store.info["bm25"]["tokenizer"].endswith("suffixed")
        hit = index.search("orbits", mode="bm25", k=1)[0]
        assert hit.page_content == "# The Moon\n\nThe Moon orbits Earth"
        point = index.store.client.retrieve(
            index.store.collection, [point_id(hit.id)], with_vectors=["bm25"]
        )[0]
        assert term_index("orbits~") in point.vector["bm25"].indices
        assert term_index("orbits") not in point.vector["bm25"].indices
