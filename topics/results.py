"""What a topic model found, as data: topics, their labels and keywords, and each document's
topic.

Everything here is plain pydantic, so a result is JSON (``model_dump_json``) and can be read
back (``TopicsResult.model_validate_json``) without BERTopic.

Example:
    >>> topic = Topic(id=0, size=12, label="wing flutter", label_source="llm",
    ...               keywords=[TopicKeyword(word="flutter", weight=0.12)])
    >>> result = TopicsResult(topics=[topic], outliers=3, documents_used=15)
    >>> result.outlier_share, result.topic(0).keyword_words()
    (0.2, ['flutter'])
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["DocumentTopic", "Topic", "TopicDocument", "TopicKeyword", "TopicsResult"]


class TopicKeyword(BaseModel):
    """One keyword of a topic with its weight (c-TF-IDF, or the chosen representation's).

    Example:
        >>> TopicKeyword(word="shock", weight=0.08).word
        'shock'
    """

    word: str
    weight: float


class TopicDocument(BaseModel):
    """A document of the corpus as a topic shows it: where it is and where it came from.

    Example:
        >>> TopicDocument(index=4, id="c4", source="cran:5", text="boundary layer ...").source
        'cran:5'
    """

    index: int
    """Position in the documents given (or in the index's documents)."""
    id: str | None = None
    """The document's id (an index chunk id), if it had one."""
    source: str | None = None
    """``metadata["source"]`` of the document, if it had one."""
    text: str


class Topic(BaseModel):
    """One topic: its size, label, keywords and representative documents.

    ``label_source`` says who wrote the label: ``"llm"`` (the chat model) or ``"keywords"``
    (no model asked, or the model failed for this topic: ``label_error`` says why).

    Example:
        >>> t = Topic(id=1, size=9, label="heat, transfer, wall",
        ...           keywords=[TopicKeyword(word="heat", weight=0.2)])
        >>> t.label_source, t.keyword_words()
        ('keywords', ['heat'])
    """

    id: int
    size: int
    """Documents assigned to the topic (duplicates counted)."""
    label: str
    label_source: Literal["llm", "keywords"] = "keywords"
    label_error: str | None = None
    """Why the model's label was not used, when it was asked and failed."""
    keyword_label: str = ""
    """The label made of the top keywords (kept whatever the model wrote)."""
    keywords: list[TopicKeyword] = Field(default_factory=list)
    representative_documents: list[TopicDocument] = Field(default_factory=list)
    """Documents nearest the topic's centre (cosine of their vectors), nearest first."""

    def keyword_words(self) -> list[str]:
        """The keywords without their weights, best first."""
        return [k.word for k in self.keywords]


class DocumentTopic(BaseModel):
    """The topic one document was assigned to (``-1``: an outlier).

    Example:
        >>> DocumentTopic(index=0, topic=-1).topic
        -1
    """

    index: int
    id: str | None = None
    source: str | None = None
    topic: int
    probability: float | None = None
    """HDBSCAN's membership strength for the topic (``None`` for an empty document)."""
    duplicate_of: int | None = None
    """For a repeated text: the index of its first copy, whose topic it shares."""
    empty: bool = False
    """The text was empty or blank: not fitted, assigned ``-1``."""


class TopicsResult(BaseModel):
    """The topics found in a corpus, each document's topic, and what the run cost.

    Example:
        >>> r = TopicsResult(topics=[], outliers=0, documents_used=0)
        >>> r.outlier_share, r.label_failures
        (0.0, 0)
    """

    topics: list[Topic] = Field(default_factory=list)
    """Largest first; the outliers (topic -1) are not a topic here, they are counted."""
    documents: list[DocumentTopic] = Field(default_factory=list)
    outliers: int = 0
    """Documents fitted but assigned to no topic (HDBSCAN's noise, topic -1)."""
    documents_used: int = 0
    """Documents fitted, duplicates included (empty ones are left out)."""
    empty_documents: int = 0
    duplicates: int = 0
    """Documents whose text repeats an earlier one: fitted once, given its topic."""
    label_failures: int = 0
    """Topics whose model label failed; they keep their keyword label."""
    embedding_model: str = ""
    vectors_reused: bool = False
    """The index's stored vectors were used (nothing embedded)."""
    seed: int | None = None
    seconds: dict[str, float] = Field(default_factory=dict)
    """Wall time per phase: ``embed``, ``fit``, ``label``."""

    @property
    def outlier_share(self) -> float:
        """Outliers as a share of the documents fitted."""
        return self.outliers / self.documents_used if self.documents_used else 0.0

    def topic(self, topic_id: int) -> Topic:
        """The topic with this id (``KeyError`` if there is none)."""
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)
