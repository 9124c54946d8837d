"""topic_model on real parts: an index from Index.build, BERTopic with UMAP and HDBSCAN, the
embedded model writing the labels."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import THEMES, theme_of
from fakes import ScriptedChat
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

import localchain.retrievers.embeddings as embeddings_module
from localchain.errors import EmbeddingMismatchError
from localchain.topics import (
    MAX_LABEL_WORDS,
    TooFewDocumentsError,
    TopicLabeler,
    label_overlap,
    label_vocabulary,
    npmi_coherence,
    repair_label,
    topic_diversity,
    topic_model,
)

SMALL = {"min_topic_size": 8, "n_neighbors": 10, "progress": False}


def _purity(result) -> dict[str, float]:
    """For each theme: the share of its documents in its most common topic."""
    by_theme: dict[str, Counter] = {}
    for doc in result.documents:
        by_theme.setdefault(theme_of(doc.source), Counter())[doc.topic] += 1
    return {t: c.most_common(1)[0][1] / sum(c.values()) for t, c in by_theme.items()}


@pytest.fixture(scope="module")
def labelled(theme_index, chat, monkeypatch_module):
    """The index's topics, labelled by the embedded model; embedding anything is an error."""

    def no_embedding(*args, **kwargs):
        raise AssertionError("the index's vectors should have been reused")

    monkeypatch_module.setattr(embeddings_module, "embed_matrix", no_embedding)
    model = topic_model(theme_index, chat, **SMALL)
    monkeypatch_module.undo()
    return model


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_index_topics_follow_the_themes_and_reuse_the_vectors(labelled, theme_texts) -> None:
    result = labelled.result
    # Reused, not embedded again: the fixture makes any embedding call fail.
    assert result.vectors_reused
    assert len(result.topics) == len(THEMES)
    assert min(_purity(result).values()) >= 0.9
    assert result.documents_used == len(theme_texts) == len(result.documents)
    assert sum(t.size for t in result.topics) + result.outliers == len(theme_texts)
    assert [t.size for t in result.topics] == sorted((t.size for t in result.topics), reverse=True)
    for topic in result.topics:
        weights = [k.weight for k in topic.keywords]
        assert len(weights) == 10 and weights == sorted(weights, reverse=True)
        members = {d.index for d in result.documents if d.topic == topic.id}
        assert len(topic.representative_documents) == 3
        assert {d.index for d in topic.representative_documents} <= members
        assert all(d.source and d.source.endswith(".txt") for d in topic.representative_documents)


def test_the_embedded_model_writes_short_grounded_labels(labelled) -> None:
    result = labelled.result
    assert result.label_failures == 0
    for topic in result.topics:
        assert topic.label_source == "llm" and topic.label != topic.keyword_label
        assert "\n" not in topic.label and 1 <= len(topic.label.split()) <= MAX_LABEL_WORDS
        allowed = label_vocabulary(
            topic.keyword_words(), [d.text for d in topic.representative_documents]
        )
        assert set(topic.label.lower().split()) <= set(allowed)
    assert label_overlap(result)["with_either"] == 1.0
    # The charts show the labels too.
    assert labelled.bertopic.custom_labels_ is not None
    assert {t.label for t in result.topics} <= set(labelled.bertopic.custom_labels_)


def test_same_seed_same_topics_and_transform(theme_index, labelled) -> None:
    again = topic_model(theme_index, None, **SMALL).result
    assert [d.topic for d in again.documents] == [d.topic for d in labelled.result.documents]
    assert [t.keyword_words() for t in again.topics] == [
        t.keyword_words() for t in labelled.result.topics
    ]
    assert all(t.label_source == "keywords" and t.label == t.keyword_label for t in again.topics)
    # Each topic's most central document, given again as a new one, lands in that topic.
    central = [t.representative_documents[0].text for t in labelled.result.topics]
    assert labelled.transform([*central, "   "]) == [t.id for t in labelled.result.topics] + [-1]


def test_empty_and_duplicate_documents_are_counted(theme_texts) -> None:
    docs = [Document(text, metadata={"source": f"{theme}-{n}.txt"})
            for n, (theme, text) in enumerate(theme_texts)]  # fmt: skip
    docs += [Document("   "), Document(""), Document(theme_texts[0][1] + "  ", id="again")]
    result = topic_model(docs, None, **SMALL).result
    assert result.empty_documents == 2 and result.duplicates == 1
    assert result.documents_used == len(theme_texts) + 1
    copy = result.documents[-1]
    assert copy.duplicate_of == 0 and copy.topic == result.documents[0].topic and copy.id == "again"
    assert [d.empty for d in result.documents[-3:-1]] == [True, True]
    assert [d.topic for d in result.documents[-3:-1]] == [-1, -1]
    assert result.outliers == sum(1 for d in result.documents if d.topic == -1) - 2


def test_fewer_documents_than_two_topics_need() -> None:
    texts = [f"Short text number {i}." for i in range(12)] + ["Short text number 1."] * 5
    with pytest.raises(TooFewDocumentsError) as caught:
        topic_model(texts, None, min_topic_size=10, progress=False)
    assert caught.value.needed == 20 and caught.value.got == 12
    assert "at least 20" in str(caught.value) and "5 duplicates" in str(caught.value)


def test_an_index_with_other_embeddings_is_refused(theme_index) -> None:
    with pytest.raises(EmbeddingMismatchError) as caught:
        topic_model(theme_index, None, embeddings=DeterministicFakeEmbedding(size=16))
    assert "384" in str(caught.value) and "16" in str(caught.value)


def test_a_label_that_fails_keeps_its_keywords_and_the_run_goes_on(theme_index) -> None:
    llm = ScriptedChat(replies=['Label: "Bread baking."', RuntimeError("server gone"), "",
                                "Stock markets", "Rocket launches"])  # fmt: skip
    result = topic_model(theme_index, llm, **SMALL).result
    assert result.label_failures == 2
    first, second, third = result.topics[:3]
    assert first.label == "Bread baking" and first.label_source == "llm"
    assert second.label == second.keyword_label and second.label_source == "keywords"
    assert "server gone" in second.label_error
    assert third.label_source == "keywords" and "no label" in third.label_error
    assert [t.label for t in result.topics[3:]] == ["Stock markets", "Rocket launches"]
    # No grammar for a model that declares none: the answers were repaired instead.
    assert all("grammar" not in call.kwargs for call in llm.calls)
    assert "[KEYWORDS]" not in llm.prompt_text(0) and "Keywords:" in llm.prompt_text(0)


def test_keybert_and_fewer_topics(theme_index, labelled) -> None:
    keybert = topic_model(theme_index, None, keywords="keybert", **SMALL).result
    # Another keyword representation, the same clusters.
    assert [d.topic for d in keybert.documents] == [d.topic for d in labelled.result.documents]
    assert [t.keyword_words() for t in keybert.topics] != [
        t.keyword_words() for t in labelled.result.topics
    ]
    merged = topic_model(theme_index, None, nr_topics=3, **SMALL).result
    assert len(merged.topics) == 3
    assert sum(t.size for t in merged.topics) + merged.outliers == merged.documents_used


def test_metrics_and_label_repair() -> None:
    docs = [["wing", "flutter"], ["wing", "flutter", "mach"], ["heat", "wall"], ["heat"]]
    assert npmi_coherence([["wing", "flutter"]], docs) == pytest.approx(1.0)
    assert npmi_coherence([["wing", "heat"]], docs) == -1.0
    assert topic_diversity([["a", "b"], ["a", "c"]]) == 0.75
    assert repair_label("Sure! Topic: 'wing flutter'.\nmore") == "Sure Topic wing flutter"
    assert repair_label("Topic: wing flutter") == "wing flutter"
    with pytest.raises(Exception, match="KEYWORDS"):
        TopicLabeler(ScriptedChat(replies=["x"]), prompt="Name it.")
    assert re.fullmatch(r"[a-z' -]+", " ".join(label_vocabulary(["Wing"], ["The glider."])))
