"""RAG: grounded answers with checked citations, query rewriting and multi-query.

Over the book's Interstellar text (``data/interstellar.txt`` split on "."):

* ``rag_chain`` answers the book's "Income generated" from the top three dense hits and
  cites the source of each statement; the citations are checked against the sources;
* with nothing relevant retrieved ("What is the mass of the moon?", below the relevance
  threshold) it says it does not know, without calling the model;
* query rewriting (``rewrite=True``) searches for a rewrite of a chatty message that does
  not name the film (the 135M model mostly just shortens it; a rewrite that shares no word
  with the message is replaced by the message's own keywords);
* multi-query (``MultiQueryRetriever``) splits a two-part question into searches and fuses
  what they find.

Run from the repository root (any working directory works):

    .venv/bin/python examples/07_rag.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localchain.chains import MultiQueryRetriever, rag_chain
from localchain.models import LlamaCppChat
from localchain.retrievers import (
    BM25Retriever,
    DenseRetriever,
    FaissStore,
    HybridRetriever,
    SeparatorChunker,
    default_embeddings,
    load_documents,
)
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD  # the book's 0.27

DATA = Path(__file__).resolve().parents[1] / "data"
RAMBLING = "We saw a film with a wormhole near Saturn yesterday, it was great! Who directed it?"
TWO_PARTS = "Who directed Interstellar and when did it premiere?"


def show(result: dict[str, Any]) -> None:
    """Print a RAG result: what was searched, the answer, and the sources it cites."""
    print(f"\nquestion: {result['question']}")
    print(f"query: {result['query']}")
    print(f"answer: {result['answer']}")
    print(f"citations: {result['citations']}")
    for source in result["sources"]:
        mark = "*" if source["number"] in result["citations"] else " "
        print(f" {mark}[{source['number']}] {source['text'][:90]}")
        if "queries" in source["metadata"]:  # multi-query: the searches that found it
            print(f"      found by: {source['metadata']['queries']}")


def main() -> None:
    chunks = SeparatorChunker(".").split_documents(
        load_documents(DATA / "interstellar.txt").documents
    )
    store = FaissStore.from_documents(chunks, default_embeddings())
    dense = DenseRetriever(store=store, k=3, score_threshold=BOOK_RELEVANCE_THRESHOLD)
    hybrid = HybridRetriever(
        retrievers={"dense": dense, "bm25": BM25Retriever.from_documents(chunks)}, k=3
    )
    llm = LlamaCppChat(temperature=0, seed=42, n_ctx=2048, max_tokens=48)

    rag = rag_chain(dense, llm)
    show(rag.invoke("Income generated"))
    show(rag.invoke("What is the mass of the moon?"))

    print("\n--- query rewriting ---")
    show(rag_chain(hybrid, llm, rewrite=True).invoke(RAMBLING))

    print("\n--- multi-query ---")
    multi = MultiQueryRetriever(retriever=hybrid, llm=llm, n_queries=2, k=3)
    show(rag_chain(multi, llm).invoke(TWO_PARTS))


if __name__ == "__main__":
    main()
