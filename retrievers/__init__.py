"""localchain.retrievers: load files, chunk them, search them, and measure the search.

Modules: ``loaders`` (text, Markdown, HTML, PDF files and folders -> Documents), ``chunking``
(the book's chunkers, stable chunk ids, re-index diffs), ``bm25`` (keyword retriever: stemmed
terms and query feedback by default, the book's setup by name), ``embeddings`` (bundled
all-MiniLM-L6-v2), ``faiss_store`` / ``faiss_io`` (FAISS vector store, saved without pickle),
``dense`` (dense retriever and relevance threshold), ``hybrid`` (reciprocal rank fusion),
``rerank`` / ``llm_rerank`` / ``cohere`` (rerankers), ``store`` (an index folder on disk;
:func:`open_retriever`), ``qdrant_*`` (the same index in a Qdrant collection, embedded or on
a server) and ``metrics`` (P@k, recall@k, AP/MAP, MRR, nDCG@k, qrels loaders).
Metadata conventions shared by all of them are in docs/retrievers.md.

Example:
    >>> from localchain.retrievers import BM25Retriever, SeparatorChunker
    >>> from langchain_core.documents import Document
    >>> text = "Cats purr. Dogs bark. Birds sing."
    >>> chunks = SeparatorChunker(".").split_documents([Document(text, metadata={"source": "s"})])
    >>> BM25Retriever.from_documents(chunks).invoke("why do dogs bark")[0].page_content
    'Dogs bark'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localchain import _lazy_exports

if TYPE_CHECKING:
    from localchain.retrievers.bm25 import (
        BOOK_BM25,
        ENGLISH_STOP_WORDS,
        BM25Retriever,
        book_tokenize,
        english_tokenize,
    )
    from localchain.retrievers.chunker_spec import ChunkerSpec
    from localchain.retrievers.chunking import (
        ChunkDiff,
        Chunker,
        ParagraphChunker,
        SentenceChunker,
        SentenceWindowChunker,
        SeparatorChunker,
        TokenChunker,
        chunk_id,
        diff_chunks,
        sentence_spans,
        simple_tokenize,
        token_counter,
    )
    from localchain.retrievers.cohere_api import CohereEmbeddings, CohereReranker
    from localchain.retrievers.dense import (
        MINILM_RELEVANCE_THRESHOLD,
        DenseRetriever,
        default_threshold,
    )
    from localchain.retrievers.embeddings import (
        DEFAULT_EMBEDDING_MODEL,
        EmbeddingTruncationWarning,
        SentenceTransformerEmbeddings,
        default_embeddings,
        embedding_identity,
    )
    from localchain.retrievers.faiss_io import (
        from_langchain,
        load_faiss_store,
        save_faiss_store,
        to_langchain,
    )
    from localchain.retrievers.faiss_store import FaissSettings, FaissStore, matches_filter
    from localchain.retrievers.hybrid import HybridRetriever, reciprocal_rank_fusion
    from localchain.retrievers.llamacpp_embeddings import LlamaCppEmbeddings
    from localchain.retrievers.llm_rerank import LLMReranker
    from localchain.retrievers.loaders import (
        CorpusLoader,
        LoadResult,
        SkippedFile,
        SkippedFilesWarning,
        load_documents,
        load_file,
    )
    from localchain.retrievers.metrics import (
        RetrievalReport,
        average_precision,
        evaluate_run,
        load_jsonl_qrels,
        load_trec_qrels,
        load_trec_run,
        mean_average_precision,
        mean_reciprocal_rank,
        ndcg_at_k,
        precision_at_k,
        recall_at_k,
        reciprocal_rank,
        run_from_retriever,
    )
    from localchain.retrievers.qdrant_connect import QdrantTarget, StoreLockedError
    from localchain.retrievers.qdrant_index import QdrantIndex
    from localchain.retrievers.qdrant_search import QdrantBM25Retriever, QdrantHybridRetriever
    from localchain.retrievers.qdrant_store import QdrantStore
    from localchain.retrievers.rerank import (
        CrossEncoderReranker,
        Reranker,
        RerankRetriever,
        resolve_reranker,
    )
    from localchain.retrievers.store import Index, IndexReport, StoreManifest, open_retriever

__all__ = [
    # loaders
    "CorpusLoader",
    "LoadResult",
    "SkippedFile",
    "SkippedFilesWarning",
    "load_documents",
    "load_file",
    # chunking
    "ChunkDiff",
    "Chunker",
    "ParagraphChunker",
    "SentenceChunker",
    "SentenceWindowChunker",
    "SeparatorChunker",
    "TokenChunker",
    "chunk_id",
    "diff_chunks",
    "sentence_spans",
    "simple_tokenize",
    "token_counter",
    # bm25
    "BOOK_BM25",
    "ENGLISH_STOP_WORDS",
    "BM25Retriever",
    "book_tokenize",
    "english_tokenize",
    # embeddings
    "DEFAULT_EMBEDDING_MODEL",
    "EmbeddingTruncationWarning",
    "SentenceTransformerEmbeddings",
    "default_embeddings",
    "embedding_identity",
    "CohereEmbeddings",
    "LlamaCppEmbeddings",
    # dense
    "FaissSettings",
    "FaissStore",
    "matches_filter",
    "from_langchain",
    "load_faiss_store",
    "save_faiss_store",
    "to_langchain",
    "MINILM_RELEVANCE_THRESHOLD",
    "DenseRetriever",
    "default_threshold",
    # hybrid and rerank
    "HybridRetriever",
    "reciprocal_rank_fusion",
    "CohereReranker",
    "CrossEncoderReranker",
    "LLMReranker",
    "Reranker",
    "RerankRetriever",
    "resolve_reranker",
    # store on disk
    "ChunkerSpec",
    "Index",
    "IndexReport",
    "StoreManifest",
    "open_retriever",
    # Qdrant
    "QdrantBM25Retriever",
    "QdrantHybridRetriever",
    "QdrantIndex",
    "QdrantStore",
    "QdrantTarget",
    "StoreLockedError",
    # metrics
    "RetrievalReport",
    "average_precision",
    "evaluate_run",
    "load_jsonl_qrels",
    "load_trec_qrels",
    "load_trec_run",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "run_from_retriever",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "bm25": (
            "BOOK_BM25",
            "ENGLISH_STOP_WORDS",
            "BM25Retriever",
            "book_tokenize",
            "english_tokenize",
        ),
        "chunker_spec": ("ChunkerSpec",),
        "chunking": (
            "ChunkDiff",
            "Chunker",
            "ParagraphChunker",
            "SentenceChunker",
            "SentenceWindowChunker",
            "SeparatorChunker",
            "TokenChunker",
            "chunk_id",
            "diff_chunks",
            "sentence_spans",
            "simple_tokenize",
            "token_counter",
        ),
        "cohere_api": ("CohereEmbeddings", "CohereReranker"),
        "dense": ("MINILM_RELEVANCE_THRESHOLD", "DenseRetriever", "default_threshold"),
        "embeddings": (
            "DEFAULT_EMBEDDING_MODEL",
            "EmbeddingTruncationWarning",
            "SentenceTransformerEmbeddings",
            "default_embeddings",
            "embedding_identity",
        ),
        "faiss_io": ("from_langchain", "load_faiss_store", "save_faiss_store", "to_langchain"),
        "faiss_store": ("FaissSettings", "FaissStore", "matches_filter"),
        "hybrid": ("HybridRetriever", "reciprocal_rank_fusion"),
        "llamacpp_embeddings": ("LlamaCppEmbeddings",),
        "llm_rerank": ("LLMReranker",),
        "loaders": (
            "CorpusLoader",
            "LoadResult",
            "SkippedFile",
            "SkippedFilesWarning",
            "load_documents",
            "load_file",
        ),
        "metrics": (
            "RetrievalReport",
            "average_precision",
            "evaluate_run",
            "load_jsonl_qrels",
            "load_trec_qrels",
            "load_trec_run",
            "mean_average_precision",
            "mean_reciprocal_rank",
            "ndcg_at_k",
            "precision_at_k",
            "recall_at_k",
            "reciprocal_rank",
            "run_from_retriever",
        ),
        "qdrant_connect": ("QdrantTarget", "StoreLockedError"),
        "qdrant_index": ("QdrantIndex",),
        "qdrant_search": ("QdrantBM25Retriever", "QdrantHybridRetriever"),
        "qdrant_store": ("QdrantStore",),
        "rerank": ("CrossEncoderReranker", "Reranker", "RerankRetriever", "resolve_reranker"),
        "store": ("Index", "IndexReport", "StoreManifest", "open_retriever"),
    },
)
