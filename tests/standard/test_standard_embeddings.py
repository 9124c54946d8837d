"""LangChain's standard embeddings suite (langchain-tests) run against localchain's
embeddings: the bundled all-MiniLM-L6-v2 through sentence-transformers.

``LlamaCppEmbeddings`` is not run here: every test of the suite builds a new instance, and
with no ``model_path`` it loads the embedded GGUF chat model (SmolLM2-135M) in embedding
mode; tests/retrievers/test_llamacpp_embeddings.py covers it on that model.
"""

from __future__ import annotations

from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from localchain.retrievers.embeddings import SentenceTransformerEmbeddings


class TestSentenceTransformerEmbeddings(EmbeddingsIntegrationTests):
    """The default embeddings (``default_embeddings()`` is this class with no arguments)."""

    @property
    def embeddings_class(self) -> type[SentenceTransformerEmbeddings]:
        return SentenceTransformerEmbeddings
