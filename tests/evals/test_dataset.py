"""Datasets: every format loads the same rows; every malformed row is named with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localchain.errors import EvalDatasetError
from localchain.evals import load_dataset

ROWS = [
    {"question": "Who wrote Dune?", "ground_truth": "Frank Herbert", "relevant_ids": ["d1"]},
    {"user_input": "Where is Paris?", "response": "In France.",
     "retrieved_contexts": ["Paris is in France."], "relevant_ids": {"d2": 2}},
]


def _check(samples: list) -> None:
    assert [s.question for s in samples] == ["Who wrote Dune?", "Where is Paris?"]
    assert samples[0].reference == "Frank Herbert"
    assert samples[0].relevant_ids == {"d1": 1.0} and samples[0].has_judgments
    assert samples[0].precomputed is False and samples[0].contexts is None
    assert samples[1].answer == "In France." and samples[1].contexts == ["Paris is in France."]
    assert samples[1].relevant_ids == {"d2": 2.0} and samples[1].precomputed


def test_jsonl_json_csv_and_list_give_the_same_samples(tmp_path: Path) -> None:
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    plain = tmp_path / "rows.json"
    plain.write_text(json.dumps(ROWS), encoding="utf-8")
    table = tmp_path / "rows.csv"
    table.write_text(
        "question,reference,answer,contexts,relevant_ids\n"
        "Who wrote Dune?,Frank Herbert,,,d1\n"
        'Where is Paris?,,In France.,"[""Paris is in France.""]","{""d2"": 2}"\n',
        encoding="utf-8")
    for source in (ROWS, jsonl, plain, table, str(jsonl)):
        _check(load_dataset(source))


def test_contexts_as_dicts_or_documents_keep_their_ids() -> None:
    from langchain_core.documents import Document

    sample = load_dataset([{"question": "q", "contexts": [
        {"text": "a", "id": "c1"}, Document("b", id="c2")]}])[0]
    assert sample.contexts == ["a", "b"] and sample.context_ids == ["c1", "c2"]


@pytest.mark.parametrize(
    ("content", "line", "field", "words"),
    [
        ('{"question": "ok"}\n{"answer": "no question"}\n', 2, "question",
         "missing field 'question' (the row has: answer)"),
        ('{"question": "ok"}\n\n{"question": "x", "contexts": "not a list"}\n', 3, "contexts",
         "must be a list of texts"),
        ('{"question": "ok"}\n{"question": 5}\n', 2, "question", "non-empty text"),
        ('{"question": "   "}\n', 1, "question", "non-empty text"),
        ('{"question": "ok"}\n{"question": "x", "answer": ["a"]}\n', 2, "answer", "text or null"),
        ('{"question": "ok", "relevant_ids": 3}\n', 1, "relevant_ids", "list of ids"),
        ('{"question": "ok", "contexts": [1]}\n', 1, "contexts", "item 1"),
        ('{"question": "ok"}\n{"question": \n', 2, None, "not valid JSON"),
        ('["question"]\n', 1, None, "must be an object"),
    ],
)
def test_bad_rows_name_the_file_line_and_field(
    tmp_path: Path, content: str, line: int, field: str | None, words: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalDatasetError) as caught:
        load_dataset(path)
    assert caught.value.line == line and caught.value.field == field
    assert words in str(caught.value) and f"bad.jsonl, line {line}" in str(caught.value)


def test_csv_rows_report_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("question,contexts\nok,\n,\n", encoding="utf-8")
    with pytest.raises(EvalDatasetError, match=r"bad.csv, line 3: missing field 'question'"):
        load_dataset(path)


def test_empty_missing_and_wrong_sources(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvalDatasetError, match="has no rows"):
        load_dataset(empty)
    with pytest.raises(EvalDatasetError, match="has no rows"):
        load_dataset([])
    with pytest.raises(EvalDatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")
    not_list = tmp_path / "x.json"
    not_list.write_text('{"question": "q"}', encoding="utf-8")
    with pytest.raises(EvalDatasetError, match="list of rows"):
        load_dataset(not_list)
    with pytest.raises(EvalDatasetError, match=r"<list>, row 2"):
        load_dataset([{"question": "a"}, {"question": None}])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_gives_the_encoding(tmp_path: Path, encoding: str) -> None:
    rows = [{"question": "Où est Zürich?", "ground_truth": "En Suisse"}, {"question": "Dune?"}]
    for suffix, text in [
        (".jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"),
        (".json", json.dumps(rows, ensure_ascii=False)),
        (".csv", "question,reference\nOù est Zürich?,En Suisse\nDune?,\n"),
    ]:
        path = tmp_path / f"rows{suffix}"
        data = text.encode(encoding)
        if encoding == "utf-16-be":  # Python writes no mark for an explicit byte order
            data = b"\xfe\xff" + data
        path.write_bytes(data)
        assert data[:2] in (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb")
        samples = load_dataset(path)
        assert [s.question for s in samples] == ["Où est Zürich?", "Dune?"], (encoding, suffix)
        assert samples[0].reference == "En Suisse"


def test_other_encodings_are_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"question": "ok"}\n{"question": "Où?"}\n'.encode("latin-1"))
    with pytest.raises(EvalDatasetError) as caught:
        load_dataset(path)
    message = str(caught.value)
    assert "\n" not in message and not isinstance(caught.value, UnicodeDecodeError)
    assert message.startswith(f"{path}, line 2: not UTF-8 text (invalid start byte at byte 34)")
    assert "save the dataset as UTF-8" in message
    # A mark that promises UTF-16 with an odd number of bytes after it is refused alike.
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\xff\xfe" + '{"question": "q"}'.encode("utf-16-le") + b"\x00")
    with pytest.raises(EvalDatasetError, match=r"broken.jsonl: not UTF-16 text \(truncated data"):
        load_dataset(broken)
