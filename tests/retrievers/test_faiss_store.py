"""FaissStore on real MiniLM vectors: the book's dense parity, metrics, index kinds, filters,
updates without rebuilds, and pickle-free save/load that refuses foreign or altered files."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError, IndexFormatError
from localchain.retrievers.faiss_io import (
    from_langchain,
    load_faiss_store,
    save_faiss_store,
    to_langchain,
)
from localchain.retrievers.faiss_store import FaissSettings, FaissStore, matches_filter

BOOK_QUERY = "how precise was the science"


class HashEmbeddings(Embeddings):
    """Deterministic random unit vectors per text: no model, any dimension."""

    def __init__(self, dimension: int = 16, name: str = "hash") -> None:
        self.dimension = dimension
        self.model_name = name

    def _vector(self, text: str) -> list[float]:
        rng = np.random.default_rng(abs(hash(text)) % (2**32))
        v = rng.normal(size=self.dimension)
        return (v / np.linalg.norm(v)).tolist()

    def embed_documents(self, texts):
        return [self._vector(t) for t in texts]

    def embed_query(self, text):
        return self._vector(text)


def test_book_dense_top_3_in_order_with_cosines(book_store) -> None:
    hits = book_store.similarity_search_with_score(BOOK_QUERY, k=3)
    texts = [doc.page_content for doc, _ in hits]
    assert texts[0].startswith("It has also received praise from many astronomers")
    assert "Kip Thorne" in texts[1]
    assert "Double Negative" in texts[2]
    assert [round(score, 3) for _, score in hits] == [0.476, 0.333, 0.209]
    assert [doc.metadata["rank"] for doc, _ in hits] == [1, 2, 3]
    assert all(doc.metadata["score"] == score for doc, score in hits)


def test_results_are_copies_with_loader_metadata(book_store) -> None:
    doc = book_store.similarity_search(BOOK_QUERY, k=1)[0]
    assert doc.metadata["source"].endswith("interstellar.txt") and doc.id
    doc.metadata["source"] = "changed"
    assert book_store.get_by_ids([doc.id])[0].metadata["source"].endswith("interstellar.txt")
    assert "score" not in book_store.get_by_ids([doc.id])[0].metadata


def test_l2_metric_orders_like_cosine_and_reports_distance(minilm, book_chunks) -> None:
    store = FaissStore.from_documents(book_chunks, minilm, settings=FaissSettings(metric="l2"))
    hits = store.similarity_search_with_score(BOOK_QUERY, k=3)
    assert "astronomers" in hits[0][0].page_content
    # Unit vectors: distance^2 = 2 - 2 cos, so 0.476 -> 1.024.
    assert math.isclose(hits[0][0].metadata["distance"], math.sqrt(2 - 2 * 0.4756), abs_tol=1e-3)
    assert hits[0][1] == -hits[0][0].metadata["distance"]


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "auto"])
def test_approximate_kinds_find_the_same_top_hit(minilm, book_chunks, kind: str) -> None:
    store = FaissStore.from_documents(
        book_chunks, minilm, settings=FaissSettings(kind=kind, nprobe=64, large_corpus=10)
    )
    assert store.kind == ("hnsw" if kind == "auto" else kind)
    assert "astronomers" in store.similarity_search(BOOK_QUERY, k=1)[0].page_content


def test_filters(book_store) -> None:
    index12 = book_store.similarity_search(BOOK_QUERY, k=3, filter={"chunk_index": [0, 4]})
    assert sorted(d.metadata["chunk_index"] for d in index12) == [0, 4]
    by_function = book_store.similarity_search(
        BOOK_QUERY, k=2, filter=lambda m: "Thorne" not in str(m) and m["chunk_index"] > 10
    )
    assert all(d.metadata["chunk_index"] > 10 for d in by_function)
    assert book_store.similarity_search(BOOK_QUERY, filter={"source": "elsewhere"}) == []
    assert matches_filter({"a": 1, "b": 2}, {"a": 1, "b": [2, 3]})
    assert not matches_filter({"a": 1}, {"a": 1, "b": 2})


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_add_replace_delete_without_rebuild(kind: str) -> None:
    emb = HashEmbeddings()
    store = FaissStore(emb, FaissSettings(kind=kind, nprobe=64))
    ids = store.add_texts([f"text {i}" for i in range(40)], ids=[f"d{i}" for i in range(40)])
    index_before = store.index
    assert store.delete(["d3", "d5", "unknown"]) and len(store) == 38
    assert not store.delete(["unknown"])
    store.add_texts(["text 7 again"], ids=["d7"])  # same id: replaces
    assert store.index is index_before  # no rebuild happened
    assert len(store) == 38 and store.get_by_ids(["d7"])[0].page_content == "text 7 again"
    found = {d.id for d in store.similarity_search("text 3", k=40)}
    assert "d3" not in found and "d5" not in found and len(found) == 38
    assert store.tombstones == (0 if kind == "flat" else 3)  # d3, d5, the old d7
    store.compact()
    assert store.tombstones == 0 and len(store.similarity_search("x", k=40)) == 38
    assert ids[0] == "d0"


def test_ids_are_stable_chunk_ids_when_missing(minilm) -> None:
    docs = [
        Document("Same text.", metadata={"source": "/a"}),
        Document("Same text.", metadata={"source": "/a"}),
    ]
    store = FaissStore(minilm)
    ids = store.add_documents(docs)
    assert len(set(ids)) == 2 and store.add_documents(docs) == ids and len(store) == 2


def test_given_ids_win_over_document_ids_and_content_hashes() -> None:
    store = FaissStore(HashEmbeddings())
    docs = [Document("a", id="own-a"), Document("b", id="own-b"), Document("c")]
    ids = store.add_documents(docs, ids=["x", None, None])
    assert ids[:2] == ["x", "own-b"] and ids[2] == store.add_documents([Document("c")])[0]
    assert docs[0].id == "own-a"  # the caller's Documents are not changed
    assert [d.id for d in store.get_by_ids(["x", "own-b", "own-a"])] == ["x", "own-b"]
    assert store.add_texts(["t1", "t2"], ids=["1", "2"]) == ["1", "2"]
    assert store.delete(["1"]) and store.get_by_ids(["1", "2"])[0].page_content == "t2"
    with pytest.raises(ValueError, match="2 ids for 1 documents"):
        store.add_documents([Document("d")], ids=["p", "q"])


def test_an_id_given_twice_in_one_batch_keeps_the_last() -> None:
    store = FaissStore(HashEmbeddings())
    assert store.add_texts(["old", "new"], ids=["1", "1"]) == ["1", "1"]
    assert len(store) == 1 and [d.page_content for d in store.similarity_search("old")] == ["new"]


def test_search_results_keep_the_added_metadata_and_scored_hits_add_to_it() -> None:
    store = FaissStore(HashEmbeddings(), FaissSettings(metric="l2"))
    store.add_texts(["a", "b"], metadatas=[{"n": 1}, {"n": 2}], ids=["a", "b"])
    assert store.similarity_search("a", k=1) == [Document("a", metadata={"n": 1}, id="a")]
    doc, score = store.similarity_search_with_score("a", k=1)[0]
    assert doc.metadata == {"n": 1, "score": score, "rank": 1, "distance": -score}
    assert store.get_by_ids(["a"])[0].metadata == {"n": 1}


def test_empty_and_bad_input(minilm) -> None:
    with pytest.raises(EmptyCorpusError):
        FaissStore.from_texts([], minilm)
    # An empty store has nothing similar: [], as LangChain's VectorStore contract says.
    assert FaissStore(minilm).similarity_search("anything") == []
    store = FaissStore.from_texts(["one"], minilm)
    with pytest.raises(ValueError, match="k must be"):
        store.similarity_search("one", k=0)
    with pytest.raises(EmbeddingMismatchError, match="dimension mismatch"):
        store.add_embeddings([Document("x", id="x")], [[0.1] * 10])


def test_save_load_round_trip_gives_the_same_hits(book_store, tmp_path) -> None:
    folder = save_faiss_store(book_store, tmp_path / "dense")
    assert sorted(p.name for p in folder.iterdir()) == ["docstore.json", "index.faiss"]
    docstore = json.loads((folder / "docstore.json").read_text())
    assert docstore["format"] == "localchain.faiss" and docstore["version"] == 1
    assert docstore["embedding"] == {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": 384,
    }
    loaded = FaissStore.load(folder, book_store.embeddings)
    before = [
        (d.id, round(s, 6)) for d, s in book_store.similarity_search_with_score(BOOK_QUERY, 5)
    ]
    after = [(d.id, round(s, 6)) for d, s in loaded.similarity_search_with_score(BOOK_QUERY, 5)]
    assert before == after


def test_hnsw_tombstones_survive_save_and_load(tmp_path) -> None:
    emb = HashEmbeddings()
    store = FaissStore(emb, FaissSettings(kind="hnsw"))
    store.add_texts([f"t{i}" for i in range(10)], ids=[f"d{i}" for i in range(10)])
    store.delete(["d1"])
    loaded = load_faiss_store(save_faiss_store(store, tmp_path / "s"), emb)
    assert loaded.tombstones == 1 and "d1" not in {
        d.id for d in loaded.similarity_search("t1", k=10)
    }


def _saved(tmp_path, minilm):
    store = FaissStore.from_texts(["Cats purr.", "Dogs bark."], minilm)
    return save_faiss_store(store, tmp_path / "s")


def test_tampered_docstore_is_refused(tmp_path, minilm) -> None:
    folder = _saved(tmp_path, minilm)
    data = json.loads((folder / "docstore.json").read_text())
    data["documents"][0]["page_content"] = "Cats bark."
    (folder / "docstore.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="checksum"):
        load_faiss_store(folder, minilm)


def test_tampered_index_file_is_refused_before_faiss_reads_it(tmp_path, minilm) -> None:
    folder = _saved(tmp_path, minilm)
    raw = bytearray((folder / "index.faiss").read_bytes())
    raw[-5] ^= 0xFF
    (folder / "index.faiss").write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match="index.faiss checksum"):
        load_faiss_store(folder, minilm)


@pytest.mark.parametrize(
    "content, reason",
    [
        ("not json", "not JSON"),
        ('{"format": "other"}', "not a localchain.faiss"),
        ('{"format": "localchain.faiss", "version": 99}', "version 99"),
    ],
)
def test_foreign_docstores_are_refused(tmp_path, minilm, content: str, reason: str) -> None:
    (tmp_path / "docstore.json").write_text(content)
    with pytest.raises(IndexFormatError, match=reason):
        load_faiss_store(tmp_path, minilm)


def test_langchain_pickle_folder_is_refused_not_unpickled(tmp_path, minilm) -> None:
    (tmp_path / "index.faiss").write_bytes(b"\x00" * 64)
    (tmp_path / "index.pkl").write_bytes(pickle.dumps({"would": "run code"}))
    with pytest.raises(IndexFormatError, match="pickle"):
        load_faiss_store(tmp_path, minilm)
    with pytest.raises(IndexFormatError, match="no such folder"):
        load_faiss_store(tmp_path / "missing", minilm)


def test_store_from_another_embedding_model_is_a_clear_error(tmp_path, minilm) -> None:
    folder = _saved(tmp_path, minilm)
    with pytest.raises(EmbeddingMismatchError, match="384-dimensional.*16-dimensional") as err:
        load_faiss_store(folder, HashEmbeddings(16))
    assert err.value.stored_dimension == 384 and err.value.dimension == 16
    with pytest.raises(EmbeddingMismatchError, match="built with"):
        load_faiss_store(folder, HashEmbeddings(384, name="other-384"))


def test_langchain_faiss_interop(book_store, minilm) -> None:
    theirs = to_langchain(book_store)
    top = theirs.similarity_search_with_score(BOOK_QUERY, k=3)
    ours = book_store.similarity_search(BOOK_QUERY, k=3)
    assert [d.id for d, _ in top] == [d.id for d in ours]
    back = from_langchain(theirs, minilm)
    assert [d.id for d in back.similarity_search(BOOK_QUERY, k=3)] == [d.id for d in ours]

    from langchain_community.vectorstores import FAISS

    stock = FAISS.from_texts(["Cats purr.", "Dogs bark."], minilm)  # L2 by default
    converted = from_langchain(stock)
    assert converted.settings.metric == "l2"
    assert converted.similarity_search("a barking dog", k=1)[0].page_content == "Dogs bark."
