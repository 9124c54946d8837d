"""Topic modeling over a corpus or an index: BERTopic on localchain's embeddings, labels by the
chat model.

The pipeline: document vectors (an :class:`~localchain.retrievers.Index`'s stored vectors,
or the embeddings of the texts given) -> UMAP (fewer dimensions) -> HDBSCAN (clusters; the
rest are outliers, topic -1) -> c-TF-IDF keywords per cluster (optionally re-ranked by
KeyBERTInspired or MMR) -> representative documents (nearest the cluster's centre) -> a
label of a few words written by the chat model from the keywords and those documents
(:mod:`.labels`), decoded under a grammar on llama.cpp.

BERTopic, UMAP and HDBSCAN are imported when a model is fitted, not with the package.

Example:
    >>> from localchain.topics import topic_model
    >>> texts = [f"The wing flutter test {i} at Mach {i % 3}." for i in range(20)] + [
    ...     f"Heat transfer to the cooled wall, run {i}." for i in range(20)]
    >>> model = topic_model(texts, min_topic_size=5, n_neighbors=5, progress=False)
    >>> len(model.result.topics), model.result.documents_used
    (2, 40)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field

from localchain.errors import EmbeddingMismatchError, EmptyCorpusError, LocalchainError
from localchain.topics.labels import LABEL_PROMPT, TopicLabeler
from localchain.topics.progress import ProgressMode, TopicProgress
from localchain.topics.results import (
    DocumentTopic,
    Topic,
    TopicDocument,
    TopicKeyword,
    TopicsResult,
)

if TYPE_CHECKING:
    from localchain.retrievers.store import Index

__all__ = ["TooFewDocumentsError", "TopicModel", "TopicSettings", "topic_model"]


class TooFewDocumentsError(LocalchainError, ValueError):
    """Fewer distinct, non-empty documents than topic modeling needs.

    Example:
        >>> print(TooFewDocumentsError(needed=20, got=6, empty=1, duplicates=2))
        topic modeling needs at least 20 distinct non-empty documents (two topics of \
min_topic_size); got 6 (1 empty and 2 duplicates left out). Give more documents or a \
smaller min_topic_size.
    """

    def __init__(self, *, needed: int, got: int, empty: int = 0, duplicates: int = 0) -> None:
        self.needed = needed
        self.got = got
        self.empty = empty
        self.duplicates = duplicates
        left = (
            f" ({empty} empty and {duplicates} duplicates left out)" if empty or duplicates else ""
        )
        super().__init__(
            f"topic modeling needs at least {needed} distinct non-empty documents (two topics "
            f"of min_topic_size); got {got}{left}. Give more documents or a smaller "
            "min_topic_size."
        )


class TopicSettings(BaseModel):
    """How topics are found and described.

    Example:
        >>> TopicSettings(min_topic_size=5, nr_topics="auto").keywords
        'ctfidf'
    """

    model_config = ConfigDict(extra="forbid")

    min_topic_size: int = Field(default=10, ge=2)
    """Smallest cluster HDBSCAN keeps as a topic (its ``min_cluster_size``)."""
    nr_topics: int | Literal["auto"] | None = None
    """Merge similar topics down to this many (``"auto"``: BERTopic decides); ``None``
    keeps what HDBSCAN found."""
    keywords: Literal["ctfidf", "keybert", "mmr"] = "ctfidf"
    """Keyword representation: c-TF-IDF, KeyBERTInspired (keywords near the topic's
    documents in embedding space) or maximal marginal relevance (less repetitive)."""
    top_n_words: int = Field(default=10, ge=3, le=30)
    """Keywords kept per topic."""
    representative_documents: int = Field(default=3, ge=1, le=10)
    """Documents kept per topic, and shown to the model for its label."""
    n_neighbors: int = Field(default=15, ge=2)
    """UMAP neighbourhood (lowered to the number of documents - 1 on small corpora)."""
    n_components: int = Field(default=5, ge=2)
    """UMAP dimensions HDBSCAN clusters in."""
    min_dist: float = Field(default=0.0, ge=0.0)
    stop_words: Literal["english"] | None = "english"
    """Words left out of the keywords (scikit-learn's English list)."""
    ngram_range: tuple[int, int] = (1, 1)
    """Keyword lengths in words."""
    min_df: int = Field(default=1, ge=1)
    """Keywords must occur in at least this many documents."""
    mmr_diversity: float = Field(default=0.3, ge=0.0, le=1.0)
    """For ``keywords="mmr"``: 0 keeps c-TF-IDF's order, 1 prefers unlike words."""
    seed: int | None = 42
    """UMAP's random state (and KeyBERTInspired's): the same seed gives the same topics.
    ``None`` lets UMAP run in parallel, and differ from run to run."""
    label_prompt: str = LABEL_PROMPT
    """The prompt for labels: ``[KEYWORDS]`` and ``[DOCUMENTS]`` are filled in."""
    label_max_tokens: int = Field(default=24, ge=2)
    """Token budget of one label."""
    label_words: Literal["grounded", "free"] = "grounded"
    """``grounded``: a label's words come from its keywords and documents (what the
    embedded model needs); ``free``: any words, for larger models (see :mod:`.labels`)."""

    def needed(self) -> int:
        """Distinct documents needed: two topics' worth, and UMAP's own minimum."""
        return max(2 * self.min_topic_size, self.n_components + 3)


class TopicModel:
    """A fitted topic model: the results as data, the BERTopic model, and :meth:`transform`.

    Built by :func:`topic_model`. ``bertopic`` is the fitted ``BERTopic`` (its charts and
    methods work as documented there; custom labels are set to the labels here).

    Example:
        >>> texts = [f"Boundary layer transition, case {i}." for i in range(15)] + [
        ...     f"Buckling of thin cylindrical shells, case {i}." for i in range(15)]
        >>> model = topic_model(texts, min_topic_size=5, n_neighbors=5, progress=False)
        >>> again = model.transform([texts[3], texts[20]])    # known texts find their topics
        >>> again == [model.result.documents[3].topic, model.result.documents[20].topic]
        True
    """

    def __init__(
        self,
        bertopic: Any,
        result: TopicsResult,
        *,
        texts: list[str],
        vectors: np.ndarray,
        embeddings: Embeddings,
        settings: TopicSettings,
    ) -> None:
        self.bertopic = bertopic
        self.result = result
        self.texts = texts
        """The distinct texts fitted, in the order fitted."""
        self.vectors = vectors
        """Their vectors (a row per text)."""
        self.embeddings = embeddings
        self.settings = settings

    def transform(self, documents: Sequence[str | Document]) -> list[int]:
        """The topic of each new document (``-1``: none fits, or an empty text).

        The documents are embedded with the model's embeddings and placed by UMAP and
        HDBSCAN's ``approximate_predict``, as BERTopic does.
        """
        from localchain.retrievers.embeddings import embed_matrix

        texts = [d.page_content if isinstance(d, Document) else str(d) for d in documents]
        keep = [i for i, t in enumerate(texts) if t.strip()]
        topics = [-1] * len(texts)
        if not keep:
            return topics
        vectors = embed_matrix(self.embeddings, [texts[i] for i in keep])
        with _quiet():
            found, _ = self.bertopic.transform([texts[i] for i in keep], embeddings=vectors)
        for i, topic in zip(keep, found, strict=True):
            topics[i] = int(topic)
        return topics

    def write_html(self, path: str | Path, *, progress: ProgressMode = False) -> Path:
        """The interactive report (charts and the table of topics); see :mod:`.report`."""
        from localchain.topics.report import write_report

        return write_report(self, path, progress=progress)


def topic_model(
    source: Index | Sequence[Document] | Sequence[str],
    llm: Any = None,
    *,
    settings: TopicSettings | None = None,
    embeddings: Embeddings | None = None,
    progress: ProgressMode = None,
    **options: Any,
) -> TopicModel:
    """Fit topics on ``source`` and label them with ``llm``.

    ``source``: an :class:`~localchain.retrievers.Index` (its chunks and stored vectors:
    nothing is embedded again), or Documents, or strings (embedded with ``embeddings``,
    default the bundled MiniLM). ``llm``: a chat model to write each topic's label (any
    LangChain chat model; on llama.cpp the label is decoded under a grammar); ``None``
    keeps the keyword labels. ``options`` are :class:`TopicSettings` fields, over
    ``settings``.

    Empty documents are left out (assigned -1) and repeated texts fitted once (each copy
    gets the first one's topic); both are counted in the result. A label that fails (the
    model raises, or answers nothing usable) leaves that topic its keyword label; the run
    goes on and counts it (``result.label_failures``).

    Example:
        >>> texts = [f"Laminar flow over a flat plate, case {i}." for i in range(12)] + [
        ...     f"Fatigue cracks in riveted joints, specimen {i}." for i in range(12)] + [""]
        >>> result = topic_model(texts, min_topic_size=5, n_neighbors=5, progress=False).result
        >>> len(result.topics), result.empty_documents, result.documents[-1].topic
        (2, 1, -1)

    Raises:
        TooFewDocumentsError: fewer distinct non-empty documents than two topics need.
        EmbeddingMismatchError: ``embeddings`` are not the model the index was built with.
        EmptyCorpusError: no documents at all.
    """
    chosen = TopicSettings.model_validate({**(settings or TopicSettings()).model_dump(), **options})
    labeler = (
        TopicLabeler(
            llm,
            prompt=chosen.label_prompt,
            max_tokens=chosen.label_max_tokens,
            words=chosen.label_words,
        )
        if llm is not None
        else None
    )
    corpus = _Corpus.of(source, embeddings)
    corpus.check(chosen)
    result = TopicsResult(
        documents_used=corpus.fitted,
        empty_documents=len(corpus.empty),
        duplicates=corpus.fitted - len(corpus.unique),
        embedding_model=corpus.embedding_name,
        vectors_reused=corpus.vectors is not None,
        seed=chosen.seed,
    )
    with TopicProgress(progress) as bars:
        started = time.perf_counter()
        if corpus.vectors is None:
            bars.start("Embedding documents", total=None, detail=f"{len(corpus.unique)} texts")
            corpus.embed()
            bars.finish("done")
        result.seconds["embed"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        bars.start("Fitting topics", total=None, detail=f"{len(corpus.unique)} documents")
        bertopic, assigned, strengths = _fit(corpus, chosen)
        result.seconds["fit"] = round(time.perf_counter() - started, 3)
        topics = _topics(bertopic, corpus, assigned, chosen)
        bars.finish(f"{len(topics)} topics in {result.seconds['fit']:.1f} s")
        started = time.perf_counter()
        if labeler is not None and topics:
            bars.start("Labelling topics", total=len(topics))
            for topic in topics:
                _label(labeler, topic)
                bars.advance(topic.label)
        result.seconds["label"] = round(time.perf_counter() - started, 3)
    result.topics = topics
    result.label_failures = sum(1 for t in topics if t.label_error is not None)
    result.documents = corpus.assignments(assigned, strengths)
    result.outliers = sum(1 for d in result.documents if d.topic == -1 and not d.empty)
    labels = {t.id: t.label for t in topics}
    if -1 in set(assigned):
        labels[-1] = "outliers"
    bertopic.set_topic_labels(labels)
    return TopicModel(
        bertopic,
        result,
        texts=[corpus.texts[i] for i in corpus.unique],
        vectors=corpus.vectors,
        embeddings=corpus.embeddings,
        settings=chosen,
    )


def _label(labeler: TopicLabeler, topic: Topic) -> None:
    try:
        topic.label = labeler.label(
            topic.keyword_words(), [d.text for d in topic.representative_documents]
        )
        topic.label_source = "llm"
    except LocalchainError as err:  # the topic keeps its keyword label; the run goes on
        topic.label_error = str(err)


class _Corpus:
    """The documents to fit: texts, ids and sources, which are empty or repeated, vectors."""

    def __init__(
        self,
        documents: list[Document],
        embeddings: Embeddings,
        embedding_name: str,
        vectors: np.ndarray | None,
    ) -> None:
        self.documents = documents
        self.texts = [d.page_content for d in documents]
        self.embeddings = embeddings
        self.embedding_name = embedding_name
        self.empty = [i for i, t in enumerate(self.texts) if not t.strip()]
        first: dict[str, int] = {}
        self.copy_of: dict[int, int] = {}
        self.unique: list[int] = []
        for i, text in enumerate(self.texts):
            if not text.strip():
                continue
            key = " ".join(text.split())
            if key in first:
                self.copy_of[i] = first[key]
            else:
                first[key] = i
                self.unique.append(i)
        self.fitted = len(self.texts) - len(self.empty)
        self.vectors = None if vectors is None else vectors[self.unique]

    @classmethod
    def of(cls, source: Any, embeddings: Embeddings | None) -> _Corpus:
        from localchain.retrievers.embeddings import default_embeddings, embedding_identity

        if hasattr(source, "dense") and hasattr(source, "manifest"):  # an Index (or Qdrant)
            stored = source.manifest.embedding
            if embeddings is not None:
                name, dimension = embedding_identity(embeddings)
                if (name, dimension) != (stored.name, stored.dimension):
                    raise EmbeddingMismatchError(
                        str(getattr(source, "folder", "the index")),
                        stored_model=stored.name,
                        stored_dimension=stored.dimension,
                        model=name,
                        dimension=dimension,
                    )
            documents = source.dense.documents
            if not documents:
                raise EmptyCorpusError("the index holds no documents to find topics in")
            vectors = source.dense.vectors_of([d.id for d in documents])
            return cls(documents, embeddings or source.embeddings, stored.name, vectors)
        if isinstance(source, (str, bytes)) or not isinstance(source, Sequence):
            raise TypeError(
                "topic_model takes an Index, a list of Documents or a list of strings, not "
                f"{type(source).__name__}"
            )
        documents = [d if isinstance(d, Document) else Document(str(d)) for d in source]
        if not documents:
            raise EmptyCorpusError("no documents to find topics in")
        chosen = embeddings or default_embeddings()
        return cls(documents, chosen, embedding_identity(chosen)[0], None)

    def check(self, settings: TopicSettings) -> None:
        needed = settings.needed()
        if len(self.unique) < needed:
            raise TooFewDocumentsError(
                needed=needed,
                got=len(self.unique),
                empty=len(self.empty),
                duplicates=self.fitted - len(self.unique),
            )

    def embed(self) -> None:
        from localchain.retrievers.embeddings import embed_matrix

        self.vectors = embed_matrix(self.embeddings, [self.texts[i] for i in self.unique])

    def assignments(self, assigned: list[int], strengths: np.ndarray | None) -> list[DocumentTopic]:
        row = {index: n for n, index in enumerate(self.unique)}
        out = []
        for i, doc in enumerate(self.documents):
            source = doc.metadata.get("source")
            common = {"index": i, "id": doc.id, "source": None if source is None else str(source)}
            if i in self.copy_of or i in row:
                first = self.copy_of.get(i, i)
                n = row[first]
                strength = None if strengths is None else float(strengths[n])
                out.append(
                    DocumentTopic(
                        **common,
                        topic=int(assigned[n]),
                        probability=strength,
                        duplicate_of=first if i in self.copy_of else None,
                    )
                )
            else:
                out.append(DocumentTopic(**common, topic=-1, empty=True))
        return out


def _fit(corpus: _Corpus, settings: TopicSettings) -> tuple[Any, list[int], np.ndarray | None]:
    """BERTopic fitted on the corpus's distinct texts and vectors."""
    with _quiet():
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from sklearn.feature_extraction.text import CountVectorizer
        from umap import UMAP

        from localchain.topics.backend import EmbeddingsBackend

        count = len(corpus.unique)
        umap = UMAP(
            n_neighbors=min(settings.n_neighbors, count - 1),
            n_components=settings.n_components,
            min_dist=settings.min_dist,
            metric="cosine",
            random_state=settings.seed,
            n_jobs=1 if settings.seed is not None else -1,
            low_memory=False,
        )
        clusters = HDBSCAN(
            min_cluster_size=settings.min_topic_size,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        )
        vectorizer = CountVectorizer(
            stop_words=settings.stop_words,
            ngram_range=settings.ngram_range,
            min_df=settings.min_df,
        )
        model = BERTopic(
            embedding_model=EmbeddingsBackend(corpus.embeddings),
            umap_model=umap,
            hdbscan_model=clusters,
            vectorizer_model=vectorizer,
            representation_model=_representation(settings),
            top_n_words=settings.top_n_words,
            min_topic_size=settings.min_topic_size,
            nr_topics=settings.nr_topics,
            calculate_probabilities=False,
            verbose=False,
        )
        texts = [corpus.texts[i] for i in corpus.unique]
        assigned, strengths = model.fit_transform(texts, embeddings=corpus.vectors)
    values = None if strengths is None else np.asarray(strengths, dtype="float64")
    return model, [int(t) for t in assigned], values


def _representation(settings: TopicSettings) -> Any:
    if settings.keywords == "keybert":
        from bertopic.representation import KeyBERTInspired

        return KeyBERTInspired(top_n_words=settings.top_n_words, random_state=settings.seed or 0)
    if settings.keywords == "mmr":
        from bertopic.representation import MaximalMarginalRelevance

        return MaximalMarginalRelevance(
            diversity=settings.mmr_diversity, top_n_words=settings.top_n_words
        )
    return None


def _topics(
    model: Any, corpus: _Corpus, assigned: list[int], settings: TopicSettings
) -> list[Topic]:
    """The topics, largest first, with keywords and the documents nearest their centre."""
    vectors = np.asarray(corpus.vectors, dtype="float32")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    labels = np.asarray(assigned)
    sizes: dict[int, int] = {}
    row = {index: n for n, index in enumerate(corpus.unique)}
    for i in range(len(corpus.texts)):
        first = corpus.copy_of.get(i, i)
        if first in row:
            topic = int(labels[row[first]])
            sizes[topic] = sizes.get(topic, 0) + 1
    found = []
    for topic_id in sorted(t for t in set(labels.tolist()) if t != -1):
        words = [(w, float(s)) for w, s in (model.get_topic(topic_id) or []) if w]
        members = np.flatnonzero(labels == topic_id)
        centre = unit[members].mean(axis=0)
        order = members[np.argsort(-(unit[members] @ centre), kind="stable")]
        shown = [
            _topic_document(corpus, corpus.unique[n])
            for n in order[: settings.representative_documents]
        ]
        keyword_label = ", ".join(w for w, _ in words[:3]) or f"topic {topic_id}"
        found.append(
            Topic(
                id=topic_id,
                size=sizes.get(topic_id, len(members)),
                label=keyword_label,
                keyword_label=keyword_label,
                keywords=[TopicKeyword(word=w, weight=round(s, 6)) for w, s in words],
                representative_documents=shown,
            )
        )
    found.sort(key=lambda t: (-t.size, t.id))
    return found


def _topic_document(corpus: _Corpus, index: int) -> TopicDocument:
    doc = corpus.documents[index]
    source = doc.metadata.get("source")
    return TopicDocument(
        index=index,
        id=doc.id,
        source=None if source is None else str(source),
        text=doc.page_content,
    )


class _quiet(warnings.catch_warnings):
    """UMAP, numba and scikit-learn warn about things a user of topics cannot change."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=ImportWarning)
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*")
        warnings.filterwarnings("ignore", message=".*vertices were disconnected.*")
        warnings.filterwarnings("ignore", message=".*n_neighbors is larger than the dataset.*")
