"""How good the topics are: NPMI coherence, topic diversity, and how grounded the labels are.

- :func:`npmi_coherence`: for each topic, the mean normalized pointwise mutual information
  of every pair of its top keywords, counted as co-occurrence in the same document of the
  corpus (-1: never together, 0: independent, 1: always together); averaged over topics.
- :func:`topic_diversity`: the share of distinct words among all topics' top keywords
  (1: no topic repeats another's words).
- :func:`label_overlap`: the share of model-written labels that share a word with their
  topic's keywords or representative documents.

Example:
    >>> docs = [["wing", "flutter"], ["wing", "flutter", "mach"], ["heat", "wall"], ["heat"]]
    >>> round(npmi_coherence([["wing", "flutter"], ["heat", "wall"]], docs), 3)
    0.75
    >>> topic_diversity([["wing", "flutter"], ["wing", "heat"]])
    0.75
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from itertools import combinations

from localchain.topics.results import TopicsResult

__all__ = ["label_overlap", "npmi_coherence", "topic_diversity"]

_WORD = re.compile(r"[a-z0-9]+")


def npmi_coherence(
    topics: Sequence[Sequence[str]], documents: Iterable[Iterable[str]], *, top_n: int = 10
) -> float:
    """Mean NPMI of the ``top_n`` keywords of each topic over tokenized ``documents``.

    A pair that never occurs together scores -1; a keyword in no document makes every pair
    it is in score -1 too (it cannot be counted). Topics with fewer than two keywords are
    left out; ``nan`` when none is left.

    Example:
        >>> npmi_coherence([["a", "b"]], [["a", "b"], ["c"]])
        1.0
    """
    wanted = {w for topic in topics for w in topic[:top_n]}
    where: dict[str, set[int]] = {w: set() for w in wanted}
    total = 0
    for number, doc in enumerate(documents):
        total += 1
        for word in wanted.intersection(doc):
            where[word].add(number)
    scores = []
    for topic in topics:
        words = list(dict.fromkeys(topic[:top_n]))
        if len(words) < 2:
            continue
        pairs = [
            _npmi(len(where[a] & where[b]), len(where[a]), len(where[b]), total)
            for a, b in combinations(words, 2)
        ]
        scores.append(sum(pairs) / len(pairs))
    return sum(scores) / len(scores) if scores else math.nan


def _npmi(joint: int, count_a: int, count_b: int, total: int) -> float:
    if joint == 0:
        return -1.0
    p_ab, p_a, p_b = joint / total, count_a / total, count_b / total
    if p_ab == 1.0:
        return 1.0
    return math.log(p_ab / (p_a * p_b)) / -math.log(p_ab)


def topic_diversity(topics: Sequence[Sequence[str]], *, top_n: int = 10) -> float:
    """Distinct words over all words among every topic's ``top_n`` keywords (``nan`` if none).

    Example:
        >>> topic_diversity([["a", "b"], ["c", "d"]])
        1.0
    """
    words = [w for topic in topics for w in topic[:top_n]]
    return len(set(words)) / len(words) if words else math.nan


def label_overlap(result: TopicsResult) -> dict[str, float | int]:
    """How often a model-written label shares a word (lower-cased, 3+ letters, or a plural
    ``s`` apart) with its topic's keywords, and with its representative documents.

    Returns ``labels`` (model-written labels counted), ``with_keyword``, ``with_document``
    and ``with_either`` as shares of them.

    Example:
        >>> from localchain.topics.results import Topic, TopicDocument, TopicKeyword
        >>> t = Topic(id=0, size=5, label="Wing flutters", label_source="llm",
        ...           keywords=[TopicKeyword(word="flutter", weight=1.0)],
        ...           representative_documents=[TopicDocument(index=0, text="A wing.")])
        >>> label_overlap(TopicsResult(topics=[t], documents_used=5))["with_either"]
        1.0
    """
    labelled = [t for t in result.topics if t.label_source == "llm"]
    keyword_hits = document_hits = either = 0
    for topic in labelled:
        label = _stems(topic.label)
        by_keyword = bool(label & _stems(" ".join(topic.keyword_words())))
        by_document = bool(label & _stems(" ".join(d.text for d in topic.representative_documents)))
        keyword_hits += by_keyword
        document_hits += by_document
        either += by_keyword or by_document
    n = len(labelled)
    return {
        "labels": n,
        "with_keyword": keyword_hits / n if n else math.nan,
        "with_document": document_hits / n if n else math.nan,
        "with_either": either / n if n else math.nan,
    }


def _stems(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w
            for w in _WORD.findall(text.lower()) if len(w) >= 3}  # fmt: skip
