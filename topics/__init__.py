"""localchain.topics: topic modeling over an index, with labels written by the model.

Modules: ``fit`` (:func:`topic_model`: BERTopic with UMAP, HDBSCAN and c-TF-IDF over
localchain's embeddings, an index's stored vectors reused), ``labels`` (the chat model's
labels under a grammar), ``results`` (topics and assignments as data), ``metrics`` (NPMI
coherence, topic diversity, label overlap), ``report`` (the HTML report with BERTopic's
charts) and ``progress``. BERTopic itself is imported when a model is fitted.

Example:
    >>> from localchain.topics import topic_diversity
    >>> topic_diversity([["wing", "flutter"], ["heat", "wall"]])
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localchain import _lazy_exports

if TYPE_CHECKING:
    from localchain.topics.fit import TooFewDocumentsError, TopicModel, TopicSettings, topic_model
    from localchain.topics.labels import (
        LABEL_GRAMMAR,
        LABEL_PROMPT,
        MAX_LABEL_WORDS,
        MAX_VOCABULARY,
        TopicLabeler,
        grounded_grammar,
        label_vocabulary,
        repair_label,
    )
    from localchain.topics.metrics import label_overlap, npmi_coherence, topic_diversity
    from localchain.topics.progress import TopicProgress
    from localchain.topics.report import write_report
    from localchain.topics.results import (
        DocumentTopic,
        Topic,
        TopicDocument,
        TopicKeyword,
        TopicsResult,
    )

__all__ = [
    "DocumentTopic",
    "LABEL_GRAMMAR",
    "LABEL_PROMPT",
    "MAX_LABEL_WORDS",
    "MAX_VOCABULARY",
    "TooFewDocumentsError",
    "Topic",
    "TopicDocument",
    "TopicKeyword",
    "TopicLabeler",
    "TopicModel",
    "TopicProgress",
    "TopicSettings",
    "TopicsResult",
    "grounded_grammar",
    "label_overlap",
    "label_vocabulary",
    "npmi_coherence",
    "repair_label",
    "topic_diversity",
    "topic_model",
    "write_report",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "fit": ("TooFewDocumentsError", "TopicModel", "TopicSettings", "topic_model"),
        "labels": (
            "LABEL_GRAMMAR",
            "LABEL_PROMPT",
            "MAX_LABEL_WORDS",
            "MAX_VOCABULARY",
            "TopicLabeler",
            "grounded_grammar",
            "label_vocabulary",
            "repair_label",
        ),
        "metrics": ("label_overlap", "npmi_coherence", "topic_diversity"),
        "progress": ("TopicProgress",),
        "report": ("write_report",),
        "results": ("DocumentTopic", "Topic", "TopicDocument", "TopicKeyword", "TopicsResult"),
    },
)
