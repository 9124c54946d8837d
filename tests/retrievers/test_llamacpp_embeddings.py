"""LlamaCppEmbeddings on the real embedded GGUF: vectors, truncation notice, errors."""

from __future__ import annotations

import math

import pytest

from localchain.errors import EmptyQueryError, ModelNotFoundError
from localchain.retrievers.embeddings import EmbeddingTruncationWarning, embedding_identity
from localchain.retrievers.llamacpp_embeddings import LlamaCppEmbeddings


@pytest.fixture(scope="module")
def gguf() -> LlamaCppEmbeddings:
    return LlamaCppEmbeddings(n_ctx=64, n_threads=2)


@pytest.mark.slow
def test_normalized_vectors_of_the_model_width(gguf) -> None:
    vectors = gguf.embed_documents(["The Moon orbits Earth.", "Mars is red."])
    assert len(vectors) == 2 and all(len(v) == gguf.dimension == 576 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vectors)
    assert embedding_identity(gguf) == ("llamacpp/SmolLM2-135M-Instruct.Q4_1", 576)
    assert gguf.embed_documents([]) == []


@pytest.mark.slow
def test_text_over_the_window_is_cut_with_a_warning(gguf) -> None:
    with pytest.warns(EmbeddingTruncationWarning, match="64-token window"):
        vector = gguf.embed_query("the science of black holes " * 30)
    assert len(vector) == 576


def test_bad_input(tmp_path) -> None:
    with pytest.raises(EmptyQueryError):
        LlamaCppEmbeddings().embed_query("  ")
    with pytest.raises(ModelNotFoundError):
        LlamaCppEmbeddings(model_path=str(tmp_path / "missing.gguf")).embed_query("hello")
