"""QdrantStore in Qdrant's local mode: the book's parity cases against the FAISS store, BM25
sparse vectors, filters, updates, ids, and langchain-qdrant reading the same collection."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from qdrant_client import QdrantClient

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError, IndexFormatError
from localchain.retrievers.bm25 import BM25Retriever
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD, DenseRetriever
from localchain.retrievers.hybrid import HybridRetriever
from localchain.retrievers.qdrant_points import point_id, qdrant_filter
from localchain.retrievers.qdrant_search import QdrantBM25Retriever, QdrantHybridRetriever
from localchain.retrievers.qdrant_sparse import BM25Encoding, term_index
from localchain.retrievers.qdrant_store import QdrantStore

BOOK_QUERY = "how precise was the science"


@pytest.fixture
def fake_store(tmp_path):
    store = QdrantStore(DeterministicFakeEmbedding(size=16), QdrantClient(path=str(tmp_path)))
    yield store
    store.close()


def test_dense_top_3_in_the_books_order_with_the_faiss_cosines(book_qdrant, book_store) -> None:
    hits = book_qdrant.similarity_search_with_score(BOOK_QUERY, k=3)
    texts = [doc.page_content for doc, _ in hits]
    assert texts[0].startswith("It has also received praise from many astronomers")
    assert "Kip Thorne" in texts[1] and "Double Negative" in texts[2]
    assert [round(score, 3) for _, score in hits] == [0.476, 0.333, 0.209]
    faiss_hits = book_store.similarity_search_with_score(BOOK_QUERY, k=5)
    ours = book_qdrant.similarity_search_with_score(BOOK_QUERY, k=5)
    assert [d.id for d, _ in ours] == [d.id for d, _ in faiss_hits]
    assert [s for _, s in ours] == pytest.approx([s for _, s in faiss_hits], abs=1e-5)
    assert [d.metadata["rank"] for d, _ in hits] == [1, 2, 3]


def test_bm25_in_the_engine_scores_as_bm25retriever(book_qdrant, book_chunks) -> None:
    # The engine holds BM25Retriever's default BM25 (stems, Lucene IDF, k1=1.2) and the client
    # runs the same RM3 feedback around it: the same hits with the same scores, with feedback
    # and without.
    for options in ({}, {"feedback_docs": 0}):
        ours = QdrantBM25Retriever(store=book_qdrant, k=5, **options).invoke(BOOK_QUERY)
        theirs = BM25Retriever.from_documents(book_chunks, k=5, **options).invoke(BOOK_QUERY)
        assert [d.id for d in ours] == [d.id for d in theirs], options
        assert [d.metadata["score"] for d in ours] == pytest.approx(
            [d.metadata["score"] for d in theirs], rel=1e-5
        )
        assert ours[0].page_content.startswith("Interstellar is a 2014 epic science fiction film")
    # Feedback reorders the documents holding a query term; an expansion term alone is no match.
    assert len(QdrantBM25Retriever(store=book_qdrant, k=15).invoke(BOOK_QUERY)) == 3


def test_hybrid_in_the_engine_puts_kip_thorne_first_as_client_side_rrf(
    book_qdrant, book_store, book_chunks
) -> None:
    ours = QdrantHybridRetriever(store=book_qdrant, k=3).invoke(BOOK_QUERY)
    assert "Kip Thorne" in ours[0].page_content
    # Second in dense; third in BM25, whose stems also match "Since its premiere ... science".
    assert ours[0].metadata["score"] == pytest.approx(1 / 62 + 1 / 63)
    parts = {
        "dense": DenseRetriever(store=book_store, k=20),
        "bm25": BM25Retriever.from_documents(book_chunks, k=20),
    }
    theirs = HybridRetriever(retrievers=parts, k=3).invoke(BOOK_QUERY)
    assert [d.id for d in ours] == [d.id for d in theirs]
    assert [d.metadata["score"] for d in ours] == pytest.approx(
        [d.metadata["score"] for d in theirs]
    )


def test_thresholds_make_an_unanswerable_query_return_nothing(book_qdrant) -> None:
    cut = DenseRetriever(store=book_qdrant, k=3, score_threshold=BOOK_RELEVANCE_THRESHOLD)
    assert cut.invoke("What is the mass of the moon?") == []
    assert [round(d.metadata["score"], 3) for d in cut.invoke(BOOK_QUERY)] == [0.476, 0.333]
    hybrid = QdrantHybridRetriever(store=book_qdrant, k=3, score_threshold=0.36)
    assert hybrid.invoke("What is the mass of the moon?") == []
    # Kip Thorne (0.333) leaves the dense side under 0.36, as with FAISS.
    assert "Kip Thorne" not in hybrid.invoke(BOOK_QUERY)[0].page_content


def test_a_stop_word_query_searches_dense_only_in_hybrid(book_qdrant) -> None:
    hits = QdrantHybridRetriever(store=book_qdrant, k=2).invoke("what was it about?")
    assert len(hits) == 2
    from localchain.errors import EmptyQueryError

    with pytest.raises(EmptyQueryError, match="no search terms"):
        QdrantBM25Retriever(store=book_qdrant).invoke("what was it about?")


def test_filters_are_payload_filters(book_qdrant) -> None:
    two = book_qdrant.similarity_search(BOOK_QUERY, k=3, filter={"chunk_index": [0, 4]})
    assert sorted(d.metadata["chunk_index"] for d in two) == [0, 4]
    assert book_qdrant.similarity_search(BOOK_QUERY, filter={"source": "elsewhere"}) == []
    assert book_qdrant.similarity_search(BOOK_QUERY, filter={"chunk_index": []}) == []
    only = book_qdrant.sparse_search(BOOK_QUERY, k=3, filter={"chunk_index": 4})
    assert [d.metadata["chunk_index"] for d in only] == [4]
    fused = QdrantHybridRetriever(store=book_qdrant, k=5, filter={"chunk_index": [0, 1]})
    assert {d.metadata["chunk_index"] for d in fused.invoke(BOOK_QUERY)} == {0, 1}
    with pytest.raises(TypeError, match="not a function"):
        book_qdrant.similarity_search(BOOK_QUERY, filter=lambda m: True)
    assert qdrant_filter({"a": 1, "b": ["x", "y"]}).must[1].should[1].match.value == "y"


def test_add_replace_delete_and_metadata_updates(fake_store: QdrantStore) -> None:
    ids = fake_store.add_texts([f"text {i}" for i in range(40)], ids=[f"d{i}" for i in range(40)])
    assert ids[:2] == ["d0", "d1"] and len(fake_store) == 40
    assert fake_store.delete(["d3", "d5", "unknown"]) and len(fake_store) == 38
    assert not fake_store.delete(["unknown"])
    fake_store.add_texts(["text 7 again"], ids=["d7"])  # same id: replaces
    assert len(fake_store) == 38
    assert fake_store.get_by_ids(["d7", "d3", "d8"])[0].page_content == "text 7 again"
    assert [d.id for d in fake_store.get_by_ids(["d9", "d3", "d8"])] == ["d9", "d8"]
    moved = Document("text 8", metadata={"page": 2}, id="d8")
    assert fake_store.update_metadata([moved, Document("x", id="nope")]) == 1
    assert fake_store.get_by_ids(["d8"])[0].metadata == {"page": 2}
    found = {d.id for d in fake_store.similarity_search("text 3", k=40)}
    assert "d3" not in found and len(found) == 38


def test_point_ids_are_uuids_of_our_ids_kept_in_the_payload(fake_store: QdrantStore) -> None:
    fake_store.add_texts(["Cats purr."], ids=["notes/cats.md#0"])
    point = fake_store.client.retrieve(fake_store.collection, [point_id("notes/cats.md#0")])[0]
    assert point.payload["chunk_id"] == "notes/cats.md#0"
    assert point.payload["page_content"] == "Cats purr."
    # Documents without ids get the stable content id FaissStore gives them.
    [auto] = fake_store.add_texts(["Dogs bark."], metadatas=[{"source": "d.md"}])
    assert fake_store.add_texts(["Dogs bark."], metadatas=[{"source": "d.md"}]) == [auto]
    assert len(fake_store) == 2


def test_an_empty_store_returns_nothing(fake_store: QdrantStore) -> None:
    assert fake_store.similarity_search("anything") == []
    assert fake_store.sparse_search("anything") == []
    assert QdrantHybridRetriever(store=fake_store).invoke("anything") == []
    with pytest.raises(EmptyCorpusError):
        QdrantStore.from_texts([], DeterministicFakeEmbedding(size=16))


def test_vectors_of_another_dimension_are_refused(fake_store: QdrantStore, tmp_path) -> None:
    with pytest.raises(EmbeddingMismatchError, match="16-dimensional"):
        fake_store.add_embeddings([Document("x", id="x")], [[0.1] * 8])
    with pytest.raises(EmbeddingMismatchError):
        fake_store.similarity_search_by_vector([0.1] * 8)
    fake_store.close()
    # An existing collection keeps its dimension; other embeddings are told so.
    again = QdrantStore(DeterministicFakeEmbedding(size=8), QdrantClient(path=str(tmp_path)))
    try:
        assert again.dimension == 16
        with pytest.raises(EmbeddingMismatchError, match="16-dimensional vectors"):
            again.check_embeddings(DeterministicFakeEmbedding(size=8))
    finally:
        again.close()


def test_a_foreign_collection_is_refused(tmp_path) -> None:
    from qdrant_client import models

    client = QdrantClient(path=str(tmp_path))
    client.create_collection(
        "theirs", vectors_config=models.VectorParams(size=4, distance="Cosine")
    )
    with pytest.raises(IndexFormatError, match="not written by localchain"):
        QdrantStore(DeterministicFakeEmbedding(size=4), client, "theirs")
    client.close()


def test_bm25_vectors_follow_the_mean_length_and_the_tokenizer(fake_store: QdrantStore) -> None:
    fake_store.add_texts(["cats purr", "dogs bark"], ids=["c", "d"])
    assert fake_store.encoding.avgdl == 2.0
    # Long documents move the mean far from 2: every sparse vector is written again.
    fake_store.add_texts(["birds sing " * 20], ids=["b"])
    assert fake_store.encoding.avgdl == pytest.approx(44 / 3)
    expected = BM25Encoding(avgdl=44 / 3).document_vector(["cats", "purr"])
    point = fake_store.client.retrieve(
        fake_store.collection, [point_id("c")], with_vectors=["bm25"]
    )[0]
    assert point.vector["bm25"].values == pytest.approx(expected.values)
    # Another tokenizer: terms, lengths and the recorded name change together.
    fake_store.tokenizer = lambda text: [w.upper() for w in text.split()]
    fake_store.rewrite_sparse()
    point = fake_store.client.retrieve(
        fake_store.collection, [point_id("c")], with_vectors=["bm25"]
    )[0]
    assert point.vector["bm25"].indices == sorted([term_index("CATS"), term_index("PURR")])
    assert fake_store.sparse_search("cats", k=1)[0].id == "c"  # queries use it too
    assert fake_store.info["bm25"]["tokenizer"].endswith("<lambda>")


def test_term_indices_are_stable_32_bit() -> None:
    # A hash, not a vocabulary: every process maps a term to the same index.
    assert term_index("science") == 1396791356
    assert term_index("science") == term_index("science") != term_index("sciences")


def test_langchain_qdrant_reads_the_same_collection(book_qdrant) -> None:
    theirs = book_qdrant.as_langchain()
    hit = theirs.similarity_search(BOOK_QUERY, k=1)[0]
    assert hit.page_content.startswith("It has also received praise from many astronomers")
    assert hit.metadata["source"].endswith("interstellar.txt")


def test_rocchio_feedback_reads_the_qdrant_vectors(book_qdrant, book_store) -> None:
    ours = DenseRetriever(store=book_qdrant, k=5, feedback_docs=3).invoke(BOOK_QUERY)
    theirs = DenseRetriever(store=book_store, k=5, feedback_docs=3).invoke(BOOK_QUERY)
    assert [d.metadata["chunk_index"] for d in ours] == [12, 4, 7, 13, 0]
    assert [d.id for d in ours] == [d.id for d in theirs]
    assert [d.metadata["score"] for d in ours] == pytest.approx(
        [d.metadata["score"] for d in theirs], abs=1e-5
    )
    assert book_qdrant.vectors_of([]).shape == (0, book_qdrant.dimension)
