"""The bundled all-MiniLM-L6-v2 as LangChain Embeddings: offline, lazy, normalized, honest
about truncation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from localchain.errors import EmptyQueryError, ModelNotFoundError
from localchain.retrievers.embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    EmbeddingTruncationWarning,
    SentenceTransformerEmbeddings,
    default_embeddings,
    embed_matrix,
    embed_with_progress,
    embedding_identity,
)
from localchain.retrievers.faiss_store import FaissStore


def test_construction_is_cheap_and_loading_lazy() -> None:
    emb = SentenceTransformerEmbeddings()
    assert emb._model is None
    assert emb.model_name == DEFAULT_EMBEDDING_MODEL


def test_vectors_are_normalized_384_floats(minilm) -> None:
    vectors = minilm.embed_documents(["The Moon orbits Earth.", "Mars is red."])
    assert len(vectors) == 2 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)
    assert minilm.embed_documents([]) == []
    assert isinstance(minilm, Embeddings)


def test_query_and_document_embeddings_agree(minilm) -> None:
    text = "It has also received praise from many astronomers"
    query = minilm.embed_query(text)
    (doc,) = minilm.embed_documents([text])
    assert max(abs(a - b) for a, b in zip(query, doc)) < 1e-5


def test_identity_and_window(minilm) -> None:
    assert embedding_identity(minilm) == (DEFAULT_EMBEDDING_MODEL, 384)
    assert minilm.max_tokens == 256
    assert default_embeddings() is minilm


def test_identity_of_foreign_embeddings_is_measured() -> None:
    class Three(Embeddings):
        def embed_documents(self, texts):
            return [[1.0, 0.0, 0.0] for _ in texts]

        def embed_query(self, text):
            return [1.0, 0.0, 0.0]

    assert embedding_identity(Three()) == ("Three", 3)


def test_long_query_is_truncated_with_a_warning(minilm) -> None:
    long_query = "how precise was the science " * 80  # about 400 word pieces
    assert minilm.overflow(long_query) > 0
    with pytest.warns(EmbeddingTruncationWarning, match="tokens were ignored"):
        vector = minilm.embed_query(long_query)
    assert len(vector) == 384


def test_long_documents_are_counted_in_one_warning(minilm) -> None:
    texts = ["short", "word " * 400, "word " * 300]
    with pytest.warns(EmbeddingTruncationWarning, match="2 of 3 texts"):
        minilm.embed_documents(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minilm.embed_documents(["short enough"])


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_empty_query_is_refused(minilm, query: str) -> None:
    with pytest.raises(EmptyQueryError):
        minilm.embed_query(query)


def test_missing_model_folder_is_a_clear_error(tmp_path) -> None:
    emb = SentenceTransformerEmbeddings(model_path=str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="nope"):
        emb.embed_query("hello")


class CountingEmbeddings(Embeddings):
    """A foreign LangChain Embeddings that records the batches it is asked for."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed_documents(self, texts):
        self.batches.append(len(texts))
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text):
        return [float(len(text)), 1.0]


def test_embed_matrix_asks_foreign_embeddings_one_batch_at_a_time() -> None:
    counting = CountingEmbeddings()
    seen: list[int] = []
    matrix = embed_matrix(counting, ["a", "bb", "ccc", "dddd", "e"], batch_size=2,
                          advance=seen.append)  # fmt: skip
    assert counting.batches == [2, 2, 1] and seen == [2, 2, 1]
    assert matrix.dtype == np.float32 and matrix.flags["C_CONTIGUOUS"]
    assert matrix[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 1.0]
    assert embed_matrix(counting, []).shape == (0, 0)


def test_indexing_never_builds_lists_of_python_floats(minilm, monkeypatch) -> None:
    # 100,000 MiniLM chunks as lists of Python floats took 1.2 GB more than the float32
    # matrix (docs/benchmarks.md, section 6); indexing must use the matrix path.
    def refuse(self, texts):
        raise AssertionError("embed_documents (lists of floats) was called while indexing")

    texts = ["The Moon orbits Earth.", "Mars is red.", "Kip Thorne was a consultant."]
    expected = np.asarray([minilm.embed_query(t) for t in texts], dtype="float32")
    monkeypatch.setattr(SentenceTransformerEmbeddings, "embed_documents", refuse)
    matrix = embed_matrix(minilm, texts)
    assert matrix.dtype == np.float32 and matrix.shape == (3, 384)
    assert np.abs(matrix - expected).max() < 1e-5
    shown = embed_with_progress(minilm, [Document(t) for t in texts], progress=True)
    assert np.abs(shown - matrix).max() < 1e-5
    store = FaissStore.from_texts(texts, embedding=minilm)
    assert store.similarity_search("Which planet is red?", k=1)[0].page_content == "Mars is red."
