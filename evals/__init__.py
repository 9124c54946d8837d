"""localchain.evals: Ragas evaluation that never returns NaN, with a schema-constrained judge.

:func:`evaluate_rag` runs a RAG target (a localchain RAG chain, any Runnable, a function)
over a dataset and scores it with Ragas 0.4 metrics judged by :class:`ConstrainedJudge`
(the embedded model decoding under each answer's JSON schema, or any LangChain chat
model), plus retrieval metrics when the dataset has relevance judgments. Every score is a
number or a typed "not scorable" reason. Reports are JSON and self-contained HTML;
:class:`GroundedFaithfulness` judges faithfulness from per-claim evidence on the embedded
stack; :func:`calibrate` measures how often a judge agrees with human labels; the pytest plugin
(``localchain.evals.pytest_plugin``) runs all of it from tests.

Example:
    >>> from localchain.evals import evaluate_rag, write_reports
    >>> rows = [{"question": "Where is Paris?", "answer": "In France.",
    ...          "contexts": ["Paris is the capital of France."]}]
    >>> result = evaluate_rag(None, rows)                      # doctest: +SKIP
    >>> result.summary["faithfulness"].mean                    # doctest: +SKIP
    1.0
    >>> write_reports(result, "eval-report")                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localchain import _lazy_exports

if TYPE_CHECKING:
    from localchain.evals.calibration import (
        CALIBRATION_SET,
        CalibrationItem,
        CalibrationReport,
        calibrate,
        load_calibration_set,
    )
    from localchain.evals.compare import Comparison, MetricDelta, compare_runs, load_baseline
    from localchain.evals.dataset import EvalSample, load_dataset
    from localchain.evals.embeddings import RagasEmbeddings, as_ragas_embeddings
    from localchain.evals.grounded import ClaimCheck, FaithfulnessCheck, GroundedFaithfulness
    from localchain.evals.harness import (
        EvalInterrupted,
        EvalSettings,
        PartialEvalResult,
        PartialRun,
        Progress,
        aevaluate_rag,
        evaluate_rag,
    )
    from localchain.evals.judge import (
        ConstrainedJudge,
        JudgeCall,
        as_judge,
        judge_schema,
        judge_trace,
    )
    from localchain.evals.metrics import JUDGE_METRICS, resolve_metrics
    from localchain.evals.report import render_html, write_html, write_reports
    from localchain.evals.results import (
        EvalResult,
        JudgeUsage,
        MetricScore,
        MetricSummary,
        NotScorable,
        NotScorableKind,
        RunMetadata,
        SampleResult,
    )
    from localchain.evals.targets import TargetOutput, from_rag_output, normalize_output

__all__ = [
    "CALIBRATION_SET",
    "JUDGE_METRICS",
    "CalibrationItem",
    "CalibrationReport",
    "ClaimCheck",
    "Comparison",
    "ConstrainedJudge",
    "EvalInterrupted",
    "EvalResult",
    "EvalSample",
    "EvalSettings",
    "FaithfulnessCheck",
    "GroundedFaithfulness",
    "JudgeCall",
    "JudgeUsage",
    "MetricDelta",
    "MetricScore",
    "MetricSummary",
    "NotScorable",
    "NotScorableKind",
    "PartialEvalResult",
    "PartialRun",
    "Progress",
    "RagasEmbeddings",
    "RunMetadata",
    "SampleResult",
    "TargetOutput",
    "aevaluate_rag",
    "as_judge",
    "as_ragas_embeddings",
    "calibrate",
    "compare_runs",
    "evaluate_rag",
    "from_rag_output",
    "judge_schema",
    "judge_trace",
    "load_baseline",
    "load_calibration_set",
    "load_dataset",
    "normalize_output",
    "render_html",
    "resolve_metrics",
    "write_html",
    "write_reports",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "calibration": (
            "CALIBRATION_SET",
            "CalibrationItem",
            "CalibrationReport",
            "calibrate",
            "load_calibration_set",
        ),
        "compare": ("Comparison", "MetricDelta", "compare_runs", "load_baseline"),
        "dataset": ("EvalSample", "load_dataset"),
        "embeddings": ("RagasEmbeddings", "as_ragas_embeddings"),
        "grounded": ("ClaimCheck", "FaithfulnessCheck", "GroundedFaithfulness"),
        "harness": (
            "EvalInterrupted",
            "EvalSettings",
            "PartialEvalResult",
            "PartialRun",
            "Progress",
            "aevaluate_rag",
            "evaluate_rag",
        ),
        "judge": ("ConstrainedJudge", "JudgeCall", "as_judge", "judge_schema", "judge_trace"),
        "metrics": ("JUDGE_METRICS", "resolve_metrics"),
        "report": ("render_html", "write_html", "write_reports"),
        "results": (
            "EvalResult",
            "JudgeUsage",
            "MetricScore",
            "MetricSummary",
            "NotScorable",
            "NotScorableKind",
            "RunMetadata",
            "SampleResult",
        ),
        "targets": ("TargetOutput", "from_rag_output", "normalize_output"),
    },
)
