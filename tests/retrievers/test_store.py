"""An index folder on disk: build, open, incremental update, the manifest, bad input."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from localchain.errors import (
    DocumentLoadError,
    EmbeddingMismatchError,
    EmptyCorpusError,
    IndexFormatError,
)
from localchain.retrievers.bm25 import BOOK_BM25
from localchain.retrievers.chunker_spec import ChunkerSpec
from localchain.retrievers.chunking import SeparatorChunker, TokenChunker
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD
from localchain.retrievers.faiss_store import FaissSettings
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.loaders import SkippedFilesWarning
from localchain.retrievers.rerank import Reranker, RerankRetriever
from localchain.retrievers.store import Index, open_retriever

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"
BOOK_QUERY = "how precise was the science"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    (folder / "films").mkdir(parents=True)
    shutil.copy(INTERSTELLAR, folder / "films" / "interstellar.txt")
    (folder / "moon.md").write_text("# The Moon\n\nThe Moon orbits Earth. It has no air.\n")
    return folder


def test_build_then_search_every_mode(corpus: Path, tmp_path: Path) -> None:
    report = Index.build(corpus, tmp_path / "store", chunker=SeparatorChunker("."))
    assert (report.added, report.removed, report.total) == (17, 0, 17)
    for mode in ("dense", "bm25", "hybrid"):
        hits = open_retriever(tmp_path / "store", mode=mode, k=3).invoke(BOOK_QUERY)
        assert hits and all(h.metadata["source"].startswith(str(corpus)) for h in hits)
    dense = open_retriever(tmp_path / "store", mode="dense", k=3, threshold=None)
    assert [round(h.metadata["score"], 3) for h in dense.invoke(BOOK_QUERY)] == [
        0.476,
        0.333,
        0.209,
    ]
    # The book's hybrid result needs the book's dense cut-off (0.27): under the measured
    # default (0.36) the Kip Thorne chunk (cosine 0.333) leaves the dense side.
    hybrid = open_retriever(
        tmp_path / "store", mode="hybrid", k=1, threshold=BOOK_RELEVANCE_THRESHOLD
    )
    assert "Kip Thorne" in hybrid.invoke(BOOK_QUERY)[0].page_content


def test_unanswerable_query_returns_nothing_in_every_mode(corpus: Path, tmp_path: Path) -> None:
    Index.build(corpus, tmp_path / "store", chunker=SeparatorChunker("."))
    for mode in ("dense", "bm25", "hybrid"):
        assert (
            open_retriever(tmp_path / "store", mode=mode).invoke("How tall is Mount Everest?") == []
        )
    # Without the threshold dense search always answers something: the book's caveat.
    assert open_retriever(tmp_path / "store", mode="dense", threshold=None).invoke(
        "How tall is Mount Everest?"
    )


def test_bm25_settings_of_a_store(corpus: Path, tmp_path: Path) -> None:
    book = tmp_path / "book"
    Index.build(corpus / "films", book, chunker=SeparatorChunker("."), bm25=BOOK_BM25)
    assert json.loads((book / "manifest.json").read_text())["bm25"] == BOOK_BM25
    hits = open_retriever(book, mode="bm25", k=3).invoke(BOOK_QUERY)
    assert [round(h.metadata["score"], 3) for h in hits] == [1.789, 1.373]
    reopened = Index.open(book).bm25
    assert (reopened.tokenizer, reopened.idf, reopened.feedback_docs) == ("book", "okapi", 0)
    Index.build(corpus, tmp_path / "default", chunker=SeparatorChunker("."))
    saved = next((tmp_path / "default").glob("gen-*/bm25.json"))
    assert json.loads(saved.read_text())["tokenizer"] == "english"
    empty = Index.create(tmp_path / "empty", bm25={"tokenizer": "book", "k1": 1.1})
    assert (empty.bm25.tokenizer, empty.bm25.k1, empty.manifest.bm25["k1"]) == ("book", 1.1, 1.1)
    with pytest.raises(ValueError, match="not a function"):
        Index.create(tmp_path / "f", bm25={"tokenizer": str.split})
    with pytest.raises(ValueError, match="unknown BM25 settings \\['stemmer'\\]"):
        Index.create(tmp_path / "g", bm25={"stemmer": "porter"})
    with pytest.raises(ValueError, match="k1"):
        Index.create(tmp_path / "h", bm25={"k1": -1})
    assert not any((tmp_path / name).exists() for name in "fgh")


def test_manifest_and_layout(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    Index.build(corpus, store, faiss=FaissSettings(kind="flat"))
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["format"] == "localchain.store" and manifest["version"] == 1
    assert manifest["embedding"] == {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": 384,
    }
    assert manifest["chunker"] == {
        "kind": "window",
        "settings": {"prepend_title": False, "title_separator": "\n\n", "size": 3, "overlap": 1},
    }
    assert manifest["roots"] == [str(corpus.resolve())] and manifest["generation"] == 1
    assert sorted(p.name for p in store.iterdir()) == [
        ".writer.lock",
        "gen-000001",
        "manifest.json",
    ]
    assert sorted(p.name for p in (store / "gen-000001").iterdir()) == ["bm25.json", "dense"]


def test_reindex_changes_only_what_changed(
    corpus: Path, tmp_path: Path, minilm, monkeypatch
) -> None:
    store = tmp_path / "store"
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    index = Index.open(store)
    unchanged = index.update(corpus)
    assert (unchanged.added, unchanged.removed, unchanged.unchanged) == (0, 0, 17)
    assert index.manifest.generation == 1  # nothing changed: nothing written

    (corpus / "moon.md").write_text("# The Moon\n\nThe Moon orbits Earth. It has no atmosphere.\n")
    (corpus / "mars.txt").write_text("Mars is red. Mars has two moons.")
    embedded: list[int] = []
    original = minilm.embed_documents_array
    monkeypatch.setattr(
        type(minilm),
        "embed_documents_array",
        lambda self, texts: embedded.append(len(texts)) or original(texts),
    )
    report = Index.open(store).update(corpus)
    assert (report.added, report.removed, report.total) == (3, 1, 19)
    assert embedded == [3]  # only the new text went through the model

    (corpus / "films" / "interstellar.txt").unlink()
    report = Index.open(store).update(corpus)
    assert (report.added, report.removed, report.total) == (0, 15, 4)
    assert Index.open(store).manifest.generation == 3
    hits = open_retriever(store, mode="bm25", k=5).invoke("red planet moons")
    assert hits and all("interstellar" not in h.metadata["source"] for h in hits)


def test_moved_text_refreshes_positions_without_embedding(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    (corpus / "moon.md").write_text("# The Moon\n\nIntro. The Moon orbits Earth. It has no air.\n")
    report = Index.open(store).update(corpus)
    # "# The Moon\n\nThe Moon orbits Earth" became two chunks; "It has no air" only moved.
    assert (report.added, report.removed, report.unchanged) == (2, 1, 16)
    hit = open_retriever(store, mode="bm25", k=1).invoke("air")[0]
    assert hit.page_content == "It has no air"
    text = (corpus / "moon.md").read_text()
    assert text[hit.metadata["start_index"] : hit.metadata["end_index"]] == hit.page_content


def test_several_roots_in_one_store(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    Index.build(corpus / "films", store, chunker=SeparatorChunker("."))
    Index.open(store).update(corpus / "moon.md")
    index = Index.open(store)
    assert len(index.manifest.roots) == 2 and index.manifest.chunks == 17
    # Updating one root leaves the other alone.
    assert index.update(corpus / "moon.md").removed == 0 and len(index.bm25) == 17


def test_bad_files_are_skipped_and_listed(corpus: Path, tmp_path: Path, make_pdf) -> None:
    (corpus / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    make_pdf(corpus / "scan.pdf", [[]])  # a page without text, as a scan
    with pytest.warns(SkippedFilesWarning):
        report = Index.build(corpus, tmp_path / "store")
    assert sorted(Path(s.path).name for s in report.skipped) == ["logo.png", "scan.pdf"]
    assert (
        "no extractable text" in {s.reason for s in report.skipped if s.path.endswith(".pdf")}.pop()
    )


def test_empty_and_missing_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError):
        Index.build(tmp_path / "empty", tmp_path / "store")
    with pytest.raises(DocumentLoadError):
        Index.build(tmp_path / "nowhere", tmp_path / "store2")
    (tmp_path / "only_binary").mkdir()
    (tmp_path / "only_binary" / "x.bin").write_bytes(b"\x00\x01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EmptyCorpusError):
            Index.build(tmp_path / "only_binary", tmp_path / "store3")


def test_store_folder_must_be_new(corpus: Path, tmp_path: Path) -> None:
    Index.build(corpus, tmp_path / "store")
    with pytest.raises(FileExistsError, match="already holds a store"):
        Index.build(corpus, tmp_path / "store")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        Index.build(corpus, tmp_path / "busy")


def test_damaged_or_foreign_stores(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    Index.build(corpus, store)
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        Index.open(tmp_path)
    manifest = json.loads((store / "manifest.json").read_text())
    (store / "manifest.json").write_text(json.dumps({**manifest, "version": 2}))
    with pytest.raises(IndexFormatError, match="version 2"):
        Index.open(store)
    (store / "manifest.json").write_text(json.dumps(manifest))
    bm25 = store / "gen-000001" / "bm25.json"
    bm25.write_text(bm25.read_text().replace("Interstellar", "Outerstellar", 1))
    with pytest.raises(IndexFormatError, match="checksum"):
        Index.open(store)


def test_store_from_another_embedding_model(corpus: Path, tmp_path: Path) -> None:
    class Tiny(Embeddings):
        model_name = "tiny-test-model"
        dimension = 8

        def embed_documents(self, texts):
            return [[1.0] + [0.0] * 7 for _ in texts]

        def embed_query(self, text):
            return [1.0] + [0.0] * 7

    Index.build(corpus, tmp_path / "tiny", embeddings=Tiny())
    with pytest.raises(
        EmbeddingMismatchError, match="8-dimensional vectors from 'tiny-test-model'"
    ):
        open_retriever(tmp_path / "tiny")  # the default MiniLM gives 384 dimensions
    assert open_retriever(tmp_path / "tiny", embeddings=Tiny(), mode="dense").invoke("moon")


def test_rerank_mode_uses_the_given_reranker(corpus: Path, tmp_path: Path) -> None:
    class Shortest(Reranker):
        def score(self, query, documents):
            return [-float(len(d.page_content)) for d in documents]

    Index.build(corpus, tmp_path / "store", chunker=SeparatorChunker("."))
    retriever = open_retriever(
        tmp_path / "store", mode="rerank", reranker=Shortest(), k=2, shortlist_k=5
    )
    assert isinstance(retriever, RerankRetriever) and isinstance(retriever.base, HybridRetriever)
    hits = retriever.invoke(BOOK_QUERY)
    assert len(hits) == 2 and len(hits[0].page_content) <= len(hits[1].page_content)
    with pytest.raises(ValueError, match="mode must be"):
        open_retriever(tmp_path / "store", mode="sparse")  # type: ignore[arg-type]


def test_chunker_specs_round_trip(minilm) -> None:
    spec = ChunkerSpec.of(TokenChunker(chunk_size=50, chunk_overlap=5))
    assert spec.build() == TokenChunker(chunk_size=50, chunk_overlap=5)
    with pytest.raises(ValueError, match="custom tokenizer"):
        ChunkerSpec.of(TokenChunker(tokenizer=str.split))
    with_model = ChunkerSpec(
        kind="tokens", settings={"chunk_size": 20, "chunk_overlap": 2, "tokenizer": "embedding"}
    )
    chunker = with_model.build(minilm)
    assert all(minilm.count_tokens(t) <= 20 for t in chunker.split_text("word " * 100))


def test_a_stale_writer_reloads_before_updating(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    Index.build(corpus, store, chunker=SeparatorChunker("."))
    stale = Index.open(store)  # opened before another writer's update
    (corpus / "mars.txt").write_text("Mars is red.")
    Index.open(store).update(corpus)
    (corpus / "venus.txt").write_text("Venus is hot.")
    report = stale.update(corpus)
    assert (report.added, report.total) == (1, 19)  # Mars was not lost, nor embedded again
    assert {
        h.page_content for h in open_retriever(store, mode="bm25", k=5).invoke("mars venus")
    } == {
        "Mars is red",
        "Venus is hot",
    }


def test_a_store_inside_the_indexed_folder_skips_its_own_files(corpus: Path) -> None:
    Index.build(corpus, corpus / "store", chunker=SeparatorChunker("."))
    report = Index.open(corpus / "store").update(corpus)
    assert (report.added, report.removed, report.total) == (0, 0, 17)
    sources = {d.metadata["source"] for d in Index.open(corpus / "store").bm25.documents}
    assert not any("/store/" in s for s in sources)


def test_a_deleted_manifest_is_named_by_index_and_open(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.txt").write_text("The Moon orbits Earth.")
    store, fake = tmp_path / "store", DeterministicFakeEmbedding(size=16)
    Index.build(tmp_path / "kb", store, embeddings=fake)
    (store / "manifest.json").unlink()
    reason = r"index data \(gen-000001\) but no manifest.json \(deleted\?\); restore it"
    with pytest.raises(IndexFormatError, match=reason):
        Index.build(tmp_path / "kb", store, embeddings=fake)  # what `localchain index` does
    with pytest.raises(IndexFormatError, match=reason):
        Index.open(store, embeddings=fake)


def test_a_failed_build_leaves_a_folder_to_build_into(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError):
        Index.build(tmp_path / "empty", tmp_path / "store")
    assert [p.name for p in (tmp_path / "store").iterdir()] == [".writer.lock"]
    (tmp_path / "empty" / "a.txt").write_text("The Moon orbits Earth.")
    report = Index.build(
        tmp_path / "empty", tmp_path / "store", embeddings=DeterministicFakeEmbedding(size=16)
    )
    assert report.total == 1


def test_a_manifest_whose_dimension_disagrees_with_the_vectors(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.txt").write_text("The Moon orbits Earth.")
    store, fake = tmp_path / "store", DeterministicFakeEmbedding(size=16)
    Index.build(tmp_path / "kb", store, embeddings=fake)
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["embedding"]["dimension"] = 17
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        IndexFormatError,
        match="manifest.json names 17-dimensional vectors from 'DeterministicFakeEmbedding', "
        "but gen-000001/dense holds 16-dimensional",
    ):
        Index.open(store, embeddings=fake)


UNREADABLE = """
import json, sys, warnings
from pathlib import Path
from langchain_core.embeddings import DeterministicFakeEmbedding
from localchain.errors import DocumentLoadError
from localchain.retrievers.loaders import load_file
from localchain.retrievers.store import Index

kb, store = Path(sys.argv[1]), Path(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    report = Index.build(kb, store, embeddings=DeterministicFakeEmbedding(size=16))
try:
    load_file(kb / "secret.txt")
except DocumentLoadError as err:
    alone = str(err)
print(json.dumps({"report": report.model_dump(), "warnings": [str(w.message) for w in caught],
                  "alone": alone}))
"""


def _without_file_permission_override() -> None:
    # Root reads any file whatever its mode; without these capabilities it cannot.
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop a capability")


def test_an_unreadable_file_is_skipped_and_listed(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.txt").write_text("The Moon orbits Earth.")
    (tmp_path / "kb" / "secret.txt").write_text("Nobody may read this.")
    (tmp_path / "kb" / "secret.txt").chmod(0)
    result = subprocess.run(
        [sys.executable, "-c", UNREADABLE, str(tmp_path / "kb"), str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=_without_file_permission_override if os.geteuid() == 0 else None,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    secret = str((tmp_path / "kb" / "secret.txt").resolve())
    assert out["report"]["total"] == 1
    assert out["report"]["skipped"] == [
        {"path": secret, "reason": "cannot read (Permission denied)"}
    ]
    assert out["warnings"] == [f"skipped 1 file(s):\n  {secret}: cannot read (Permission denied)"]
    assert out["alone"].startswith(f"cannot load {secret}: cannot read (Permission denied).")
