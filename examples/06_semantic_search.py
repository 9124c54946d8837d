"""Semantic search: dense, BM25, hybrid and reranked search side by side, and no-answer.

The book's comparison on ``data/interstellar.txt`` split on "." (its 15 chunks), for the
query "how precise was the science":

* dense (bundled all-MiniLM-L6-v2 in FAISS) finds the astronomers sentence first, though it
  shares no keyword with the query;
* BM25 (the book's setup, ``BOOK_BM25``) ranks the "2014 epic science fiction film"
  sentence first and never sees the astronomers sentence;
* hybrid (reciprocal rank fusion of the two) puts the Kip Thorne sentence first;
* reranked: the hybrid shortlist judged by the embedded GGUF (``LLMReranker``, yes/no).

Then the book's caveat: "What is the mass of the moon?" still gets three dense hits, and
the book's relevance threshold (``BOOK_RELEVANCE_THRESHOLD``, 0.27) turns them into none.

Run from the repository root (any working directory works):

    .venv/bin/python examples/06_semantic_search.py
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from localchain.models import LlamaCppChat
from localchain.retrievers import (
    BOOK_BM25,
    BM25Retriever,
    DenseRetriever,
    FaissStore,
    HybridRetriever,
    LLMReranker,
    RerankRetriever,
    SeparatorChunker,
    default_embeddings,
    load_documents,
)
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD  # the book's 0.27

DATA = Path(__file__).resolve().parents[1] / "data"
QUERY = "how precise was the science"
MOON = "What is the mass of the moon?"


def show(name: str, hits: list[Document]) -> None:
    print(f"\n{name}: {len(hits)} hits")
    for hit in hits:
        print(f"  {hit.metadata['rank']}. {hit.metadata['score']:.4f}  {hit.page_content[:90]}")


def main() -> None:
    documents = load_documents(DATA / "interstellar.txt").documents
    chunks = SeparatorChunker(".").split_documents(documents)
    print("chunks:", len(chunks))

    dense = DenseRetriever(store=FaissStore.from_documents(chunks, default_embeddings()), k=3)
    bm25 = BM25Retriever.from_documents(chunks, k=3, **BOOK_BM25)  # the book's BM25, as printed
    hybrid = HybridRetriever(retrievers={"dense": dense, "bm25": bm25}, k=3)
    judge = LLMReranker(llm=LlamaCppChat(temperature=0, seed=42, n_ctx=1024, max_tokens=4))
    reranked = RerankRetriever(base=hybrid, reranker=judge, shortlist_k=3, k=3)

    print("query:", QUERY)
    pipelines: dict[str, BaseRetriever] = {
        "dense": dense, "bm25": bm25, "hybrid": hybrid, "reranked": reranked,
    }  # fmt: skip
    for name, retriever in pipelines.items():
        show(name, retriever.invoke(QUERY))

    print("\nquery:", MOON)
    show("dense, no threshold", dense.invoke(MOON))
    strict = DenseRetriever(store=dense.store, k=3, score_threshold=BOOK_RELEVANCE_THRESHOLD)
    show(f"dense, threshold {BOOK_RELEVANCE_THRESHOLD}", strict.invoke(MOON))
    strict_hybrid = HybridRetriever(retrievers={"dense": strict, "bm25": bm25}, k=3)
    show("hybrid, threshold", strict_hybrid.invoke(MOON))


if __name__ == "__main__":
    main()
