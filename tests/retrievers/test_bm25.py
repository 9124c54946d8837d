"""BM25Retriever: the book's printed scores (BOOK_BM25), the tuned defaults (stems, Lucene IDF,
RM3 feedback), LangChain behaviour, updates, bad input, save/load."""

from __future__ import annotations

import doctest
import hashlib
import json
import math
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

import localchain.retrievers.bm25 as bm25
from localchain.errors import EmptyCorpusError, EmptyQueryError, IndexFormatError
from localchain.retrievers.bm25 import BOOK_BM25, ENGLISH_STOP_WORDS, BM25Retriever, book_tokenize
from localchain.retrievers.chunking import SeparatorChunker

QUERY = "how precise was the science"


@pytest.fixture
def chunks(interstellar_text: str) -> list[Document]:
    doc = Document(
        interstellar_text, metadata={"source": "/data/interstellar.txt", "title": "Interstellar"}
    )
    return SeparatorChunker(".").split_documents([doc])


def test_book_parity_how_precise_was_the_science(chunks: list[Document]) -> None:
    assert len(chunks) == 15
    hits = BM25Retriever.from_documents(chunks, k=3, **BOOK_BM25).invoke(QUERY)
    # Only the two sentences that contain a query term come back (require_match).
    assert len(hits) == 2
    first, second = hits
    assert first.page_content.startswith("Interstellar is a 2014 epic science fiction film")
    assert second.page_content.startswith("Caltech theoretical physicist")
    assert "Kip Thorne" in second.page_content
    # The book prints 1.789 and 1.373; rank_bm25 BM25Okapi (k1=1.5, b=0.75, epsilon=0.25)
    # with the book's tokenizer and scikit-learn's stop words gives exactly these.
    assert first.metadata["score"] == pytest.approx(1.788604950756303, abs=1e-9)
    assert second.metadata["score"] == pytest.approx(1.372650311045535, abs=1e-9)
    assert round(first.metadata["score"], 3) == 1.789
    assert round(second.metadata["score"], 3) == 1.373
    assert (first.metadata["rank"], second.metadata["rank"]) == (1, 2)
    assert first.metadata["chunk_index"] == 0 and second.metadata["chunk_index"] == 4


def test_book_parity_every_other_sentence_scores_zero(chunks: list[Document]) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=15, require_match=False, **BOOK_BM25)
    scores = [d.metadata["score"] for d in retriever.invoke(QUERY)]
    assert len(scores) == 15
    assert scores[2:] == [0.0] * 13
    assert retriever.scores(QUERY)[0] == pytest.approx(1.788604950756303)
    # The book's point: keyword search misses the astronomers sentence (no shared keyword).
    zero = [d.page_content for d in retriever.invoke(QUERY)[2:]]
    assert any("astronomers for its scientific accuracy" in text for text in zero)


def test_stop_words_are_scikit_learns_list() -> None:
    text = pytest.importorskip("sklearn.feature_extraction.text")
    assert ENGLISH_STOP_WORDS == text.ENGLISH_STOP_WORDS
    assert len(ENGLISH_STOP_WORDS) == 318


def test_book_tokenizer() -> None:
    assert book_tokenize(QUERY) == ["precise", "science"]
    assert book_tokenize("It grossed $677 million (co-written)!") == [
        "grossed",
        "677",
        "million",
        "co-written",
    ]
    assert book_tokenize("The... and, of") == []
    assert book_tokenize("Physics[4] Kip") == [
        "physics[4",
        "kip",
    ]  # inner brackets stay, as in the book


def test_results_are_copies_and_inputs_are_not_changed(chunks: list[Document]) -> None:
    before = [d.model_copy(deep=True) for d in chunks]
    retriever = BM25Retriever.from_documents(chunks)
    hit = retriever.invoke(QUERY)[0]
    hit.metadata["note"] = "mine"
    assert chunks == before
    assert "note" not in retriever.invoke(QUERY)[0].metadata
    assert all("score" not in d.metadata for d in retriever.documents)
    assert len(retriever) == 15


def test_k_min_score_and_invoke_override(chunks: list[Document]) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=1)
    assert len(retriever.invoke("film")) == 1
    assert len(retriever.invoke("film", k=3)) == 3
    strict = BM25Retriever.from_documents(chunks, k=10, min_score=1.5, **BOOK_BM25)
    assert [d.metadata["chunk_index"] for d in strict.invoke(QUERY)] == [0]
    with pytest.raises(ValueError, match="k must be at least 1"):
        retriever.invoke("film", k=0)
    with pytest.raises(ValueError):
        BM25Retriever.from_documents(chunks, k=0)


def test_no_keyword_match_returns_nothing(chunks: list[Document]) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=3)
    assert retriever.invoke("What is the mass of the moon?") == []


def test_ties_keep_index_order() -> None:
    retriever = BM25Retriever.from_texts(["red", "blue", "red", "green"], ids=["a", "b", "c", "d"])
    assert [d.id for d in retriever.invoke("red")] == ["a", "c"]


def test_tiny_corpus_matches_even_with_negative_scores() -> None:
    # rank_bm25 floors the IDF of common terms at epsilon * mean IDF, negative here.
    retriever = BM25Retriever.from_texts(["solar wind", "solar flare"], **BOOK_BM25)
    hits = retriever.invoke("solar")
    assert len(hits) == 2 and all(h.metadata["score"] < 0 for h in hits)
    # Lucene's IDF (the default) is never negative.
    hits = BM25Retriever.from_texts(["solar wind", "solar flare"]).invoke("solar")
    assert len(hits) == 2 and all(h.metadata["score"] > 0 for h in hits)


def test_okapi_scores_are_rank_bm25s(chunks: list[Document]) -> None:
    from rank_bm25 import BM25Okapi

    ours = BM25Retriever.from_documents(chunks, **BOOK_BM25)
    theirs = BM25Okapi([book_tokenize(c.page_content) for c in chunks])
    for query in (QUERY, "film gross million nolan", "black hole black hole"):
        expected = theirs.get_scores(book_tokenize(query)).tolist()
        assert ours.scores(query) == pytest.approx(expected, abs=1e-12)


def test_default_tokenizer_stems_and_idf_is_lucenes() -> None:
    retriever = BM25Retriever.from_texts(
        ["The flows were turbulent.", "A boundary-layer study.", "Calm water."], feedback_docs=0
    )
    assert [d.page_content for d in retriever.invoke("turbulent flow")] == [
        "The flows were turbulent."
    ]
    assert retriever.invoke("boundary")[0].page_content == "A boundary-layer study."
    # Lucene IDF of a term in 1 of 3 documents, with one term (tf 1) in a document of
    # average length: log(1 + 2.5 / 1.5) * 1 * 2.2 / (1 + 1.2).
    [hit] = BM25Retriever.from_texts(["calm sea", "rough sea", "wind"], feedback_docs=0).invoke(
        "calm"
    )
    length_norm = 1.2 * (1 - 0.75 + 0.75 * 2 / (5 / 3))
    assert hit.metadata["score"] == pytest.approx(math.log(1 + 2.5 / 1.5) * 2.2 / (1 + length_norm))
    with pytest.raises(ValueError, match="unknown tokenizer 'porter'"):
        BM25Retriever.from_texts(["x"], tokenizer="porter")


def test_feedback_expands_the_query_from_the_best_hits() -> None:
    texts = [
        "engine noise jet nozzle thrust",
        "noise of birds singing at dawn",
        "engine nozzle thrust design",
        "engine oil change intervals",
    ]
    plain = BM25Retriever.from_texts(texts, ids=list("abcd"), feedback_docs=0, k=4)
    hits = plain.invoke("engine noise")
    # c and d tie on "engine" alone; index order breaks the tie.
    assert [h.id for h in hits] == ["a", "b", "c", "d"]
    assert hits[2].metadata["score"] == hits[3].metadata["score"]
    expanded = BM25Retriever.from_texts(texts, ids=list("abcd"), k=4)  # feedback on
    hits = expanded.invoke("engine noise")
    # "nozzle" and "thrust" of the best hit a now count: c, which has them, beats d.
    assert [h.id for h in hits] == ["a", "b", "c", "d"]
    assert hits[2].metadata["score"] > hits[3].metadata["score"]
    # A document with expansion terms only is no match (require_match counts the query's own
    # terms) unless require_match is off.
    more = [*texts, "nozzle thrust vectoring"]
    strict = BM25Retriever.from_texts(more, ids=list("abcde"), k=5)
    assert "e" not in [h.id for h in strict.invoke("engine noise")]
    loose = BM25Retriever.from_texts(more, ids=list("abcde"), k=5, require_match=False)
    assert loose.invoke("engine noise")[-1].id == "e"
    assert loose.invoke("engine noise")[-1].metadata["score"] > 0


def test_is_a_langchain_retriever(chunks: list[Document]) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=2)
    assert isinstance(retriever, BaseRetriever)
    batch = retriever.batch([QUERY, "gross million"])
    assert batch[1][0].page_content.startswith("The film had a worldwide gross over $677 million")
    chain = retriever | RunnableLambda(lambda docs: [d.metadata["rank"] for d in docs])
    assert chain.invoke(QUERY) == [1, 2]


async def test_async_invoke(chunks: list[Document]) -> None:
    hits = await BM25Retriever.from_documents(chunks).ainvoke(QUERY)
    assert hits[0].metadata["rank"] == 1


def test_add_upsert_and_delete(chunks: list[Document]) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=5)
    [new_id] = retriever.add_documents(
        [Document("Precise orbital science of black holes", id="bh")]
    )
    assert new_id == "bh" and len(retriever) == 16
    assert retriever.invoke(QUERY)[0].id == "bh"
    retriever.add_documents([Document("Nothing relevant now", id="bh")])  # same id: replaced
    assert len(retriever) == 16
    assert "bh" not in [d.id for d in retriever.invoke(QUERY)]
    top = retriever.invoke(QUERY)[0].id
    assert retriever.delete([top, "no-such-id"]) == 1
    assert top not in [d.id for d in retriever.invoke(QUERY)]
    # Ids are the chunk ids, so an index and a chunk diff speak the same language.
    assert {d.id for d in retriever.documents} <= {c.id for c in chunks} | {"bh"}


def test_searches_during_updates_see_whole_snapshots(chunks: list[Document]) -> None:
    import threading

    retriever = BM25Retriever.from_documents(chunks, k=3)
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                hits = retriever.invoke(QUERY)
                assert hits and hits[0].metadata["rank"] == 1
            except BaseException as err:  # noqa: BLE001 - reported to the main thread
                errors.append(err)
                return

    readers = [threading.Thread(target=search) for _ in range(3)]
    for reader in readers:
        reader.start()
    for n in range(40):
        retriever.add_documents([Document(f"precise science note {n}", id=f"n{n}")])
        retriever.delete([f"n{n - 5}"])
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert len(retriever) == 15 + 5


def test_documents_without_ids_get_stable_ones() -> None:
    one = BM25Retriever.from_texts(["alpha beta", "alpha beta", "gamma"])
    two = BM25Retriever.from_texts(["alpha beta", "alpha beta", "gamma"])
    ids = [d.id for d in one.documents]
    assert ids == [d.id for d in two.documents] and len(set(ids)) == 3


def test_empty_corpus_is_a_clear_error() -> None:
    with pytest.raises(EmptyCorpusError, match="at least one document"):
        BM25Retriever.from_documents([])
    retriever = BM25Retriever(allow_empty=True)
    with pytest.raises(EmptyCorpusError, match="add_documents"):
        retriever.invoke("anything")
    retriever.add_documents([Document("Now there is text", id="t")])
    assert [d.id for d in retriever.invoke("text")] == ["t"]
    retriever.delete(["t"])
    with pytest.raises(EmptyCorpusError):
        retriever.invoke("text")
    with pytest.raises(EmptyCorpusError, match="searchable word"):
        BM25Retriever.from_texts(["the of and", "!!!"]).invoke("word")


@pytest.mark.parametrize("query", ["", "   \n", "how was the", "?!"])
def test_empty_query_is_a_clear_error(chunks: list[Document], query: str) -> None:
    with pytest.raises(EmptyQueryError) as info:
        BM25Retriever.from_documents(chunks).invoke(query)
    assert info.value.query == query


def test_save_and_load_round_trip_as_json(chunks: list[Document], tmp_path: Path) -> None:
    retriever = BM25Retriever.from_documents(chunks, k=3, min_score=0.1, b=0.7, feedback_terms=9)
    path = retriever.save(tmp_path / "index" / "bm25.json")
    payload = json.loads(path.read_text())
    assert payload["format"] == "localchain.bm25" and payload["version"] == 1
    assert payload["tokenizer"] == "english" and len(payload["documents"]) == 15
    loaded = BM25Retriever.load(path)
    assert (loaded.k, loaded.min_score, loaded.b, loaded.feedback_terms) == (3, 0.1, 0.7, 9)
    assert (loaded.tokenizer, loaded.idf, loaded.feedback_docs) == ("english", "lucene", 5)
    assert loaded.invoke(QUERY) == retriever.invoke(QUERY)
    assert list(path.parent.iterdir()) == [path]  # no temporary files left behind
    book = BM25Retriever.load(BM25Retriever.from_documents(chunks, **BOOK_BM25).save(path))
    assert (book.tokenizer, book.idf, book.k1, book.feedback_docs) == ("book", "okapi", 1.5, 0)


def test_an_index_saved_before_the_tuned_defaults_loads_as_it_was_built(
    chunks: list[Document], tmp_path: Path
) -> None:
    # Files written before idf and feedback existed hold only these settings.
    payload = json.loads(
        BM25Retriever.from_documents(chunks, **BOOK_BM25).save(tmp_path / "new.json").read_text()
    )
    params = {"k": 4, "min_score": None, "require_match": True, "k1": 1.5, "b": 0.75}
    body = {"params": {**params, "epsilon": 0.25}, "tokenizer": "book"}
    body["documents"] = payload["documents"]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    old = {"format": "localchain.bm25", "version": 1, **body}
    old["sha256"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = BM25Retriever.load(tmp_path / "old.json")
    assert (loaded.tokenizer, loaded.idf, loaded.feedback_docs) == ("book", "okapi", 0)
    assert [round(h.metadata["score"], 3) for h in loaded.invoke(QUERY)] == [1.789, 1.373]


def test_a_failed_save_keeps_the_old_index_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = BM25Retriever.from_texts(["The Moon orbits Earth."]).save(tmp_path / "bm25.json")
    before = path.read_bytes()

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("localchain.files.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        BM25Retriever.from_texts(["Mars is red.", "Venus is hot."]).save(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    monkeypatch.undo()
    assert BM25Retriever.load(path).invoke("moon")[0].page_content == "The Moon orbits Earth."


def test_load_refuses_foreign_altered_and_mismatched_files(
    chunks: list[Document], tmp_path: Path
) -> None:
    path = BM25Retriever.from_documents(chunks).save(tmp_path / "bm25.json")
    payload = json.loads(path.read_text())

    def rewrite(name: str, data: object) -> Path:
        target = tmp_path / name
        target.write_text(data if isinstance(data, str) else json.dumps(data))
        return target

    tampered = dict(payload, documents=payload["documents"][:-1])
    newer = dict(payload, version=2)
    cases = {
        rewrite("tampered.json", tampered): "checksum",
        rewrite("newer.json", newer): "format version 2",
        rewrite("foreign.json", {"docstore": {}}): "not a localchain.bm25 file",
        rewrite("list.json", [1, 2]): "not a localchain.bm25 file",
        rewrite("garbage.json", "{not json"): "not a JSON file",
        tmp_path / "missing.json": "no such file",
    }
    for target, reason in cases.items():
        with pytest.raises(IndexFormatError, match=reason) as info:
            BM25Retriever.load(target)
        assert info.value.path == str(target)


def test_custom_tokenizer_must_be_passed_again_on_load(tmp_path: Path) -> None:
    def words(text: str) -> list[str]:
        return text.lower().split()

    retriever = BM25Retriever.from_texts(["The Moon", "the Sun"], tokenizer=words, k=1)
    assert retriever.invoke("the")  # "the" is a term for this tokenizer
    path = retriever.save(tmp_path / "bm25.json")
    with pytest.raises(IndexFormatError, match="custom tokenizer"):
        BM25Retriever.load(path)
    assert BM25Retriever.load(path, tokenizer=words).invoke("moon")[0].page_content == "The Moon"


def test_save_refuses_metadata_that_is_not_json(tmp_path: Path) -> None:
    retriever = BM25Retriever.from_documents([Document("text", metadata={"when": object()})])
    with pytest.raises(ValueError, match="not JSON"):
        retriever.save(tmp_path / "bm25.json")
    assert not (tmp_path / "bm25.json").exists()


def test_docstring_examples_run() -> None:
    failures, _ = doctest.testmod(bm25)
    assert failures == 0


def test_parity_through_the_loader(tmp_path: Path, interstellar_text: str) -> None:
    from localchain.retrievers.loaders import load_documents

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "interstellar.txt").write_text(interstellar_text, encoding="utf-8")
    chunks = SeparatorChunker(".").split_documents(load_documents(tmp_path / "kb").documents)
    hits = BM25Retriever.from_documents(chunks, k=3, **BOOK_BM25).invoke(QUERY)
    assert [round(h.metadata["score"], 3) for h in hits] == [1.789, 1.373]
    assert hits[0].metadata["source"] == str((tmp_path / "kb" / "interstellar.txt").resolve())
    assert hits[0].metadata["title"] == "interstellar"
