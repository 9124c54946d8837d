"""Evaluation: score the RAG example with Ragas, judged by the embedded model, and write a report.

Runs ``rag_chain`` (dense retrieval over the book's Interstellar chunks, as in
``07_rag.py``) on two questions and scores each answer with ``evaluate_rag``:

* faithfulness, scored claim by claim against the retrieved contexts by the grounded judge
  (embeddings, word overlap, number / name / negation conflicts) - the default when the
  judge model is the embedded SmolLM2-135M;
* Ragas answer relevancy, judged by ``ConstrainedJudge`` on that model, which decodes under
  the JSON schema Ragas expects, so no score is NaN;
* retrieval metrics (recall@k, MRR, MAP, nDCG@k) against the chunk that holds each answer.

The means are printed and ``write_reports`` writes ``eval.json`` and a self-contained
``eval.html`` into the report folder. The grounded faithfulness judge agrees with the
labelled calibration set's held-out items 0.87 of the time (docs/evals.md, "Calibration");
the 135M model's own verdicts (answer relevancy here) are slow (about 10-30 s a call on two
cores) and weak, so judge with a larger model for those.

Run from the repository root (any working directory works); the report goes to
``rag-eval-report/`` in the working directory, or to the folder given:

    .venv/bin/python examples/08_rag_eval.py [REPORT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from localchain.chains import rag_chain
from localchain.evals import ConstrainedJudge, EvalSettings, evaluate_rag, write_reports
from localchain.models import LlamaCppChat
from localchain.retrievers import (
    DenseRetriever,
    FaissStore,
    SeparatorChunker,
    default_embeddings,
    load_documents,
)
from localchain.retrievers.dense import BOOK_RELEVANCE_THRESHOLD  # the book's 0.27

DATA = Path(__file__).resolve().parents[1] / "data"

# Each question, and a phrase of the chunk that answers it.
QUESTIONS = {
    "Income generated": "$677 million",
    "Who directed Interstellar?": "directed, and produced by Christopher Nolan",
}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("rag-eval-report")
    chunks = SeparatorChunker(".").split_documents(
        load_documents(DATA / "interstellar.txt").documents
    )
    store = FaissStore.from_documents(chunks, default_embeddings())
    retriever = DenseRetriever(store=store, k=3, score_threshold=BOOK_RELEVANCE_THRESHOLD)
    llm = LlamaCppChat(temperature=0, seed=42, n_ctx=2048, max_tokens=48)
    rag = rag_chain(retriever, llm)

    rows = [
        {"question": question,
         "relevant_ids": [c.id for c in chunks if phrase in c.page_content]}
        for question, phrase in QUESTIONS.items()
    ]  # fmt: skip
    judge = ConstrainedJudge(llm, max_items=4, max_chars=160, max_tokens=512)
    result = evaluate_rag(
        rag, rows, metrics=["faithfulness", "answer_relevancy", "retrieval"], judge=judge,
        settings=EvalSettings(k=3, strictness=1), progress=False,
    )  # fmt: skip

    for sample in result.samples:
        print(f"question: {sample.question}")
        print(f"answer: {sample.answer}")
    print("\nmetric means:")
    for name, summary in result.summary.items():
        mean = "-" if summary.mean is None else f"{summary.mean:.3f}"
        print(
            f"  {name}: {mean} (scored {summary.n_scored}, not scorable {summary.n_not_scorable})"
        )
    usage = result.metadata.judge
    print(f"judge: {result.metadata.judge_model}, {usage.calls} calls, {usage.seconds:.0f} s")

    paths = write_reports(result, out)
    print(f"json report: {paths['json']}")
    print(f"html report: {paths['html']}")


if __name__ == "__main__":
    main()
