"""Atomic writes and versioned-JSON reading (localchain.files), failure paths included."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from localchain import files
from localchain.errors import IndexFormatError
from localchain.files import read_versioned_json, write_atomic

FORMAT = "localchain.test"


def test_write_atomic_creates_the_folder_and_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "index.json"
    write_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    write_atomic(str(target), b"second")  # a str path works too, and replaces the file
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["index.json"]


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ("fsync", OSError(5, "Input/output error")),
        ("replace", OSError(28, "No space left on device")),
        ("replace", KeyboardInterrupt()),
    ],
)
def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, error: BaseException
) -> None:
    target = tmp_path / "index.json"
    write_atomic(target, b"old")

    def fail(*args: object) -> None:
        raise error

    monkeypatch.setattr(files.os, step, fail)
    with pytest.raises(type(error)):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_failed_write_leaves_no_file_where_there_was_none(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    with pytest.raises(TypeError):
        write_atomic(target, "text, not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def _write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_read_versioned_json_returns_the_object(tmp_path: Path) -> None:
    payload = {"format": FORMAT, "version": 3, "documents": ["é"]}
    file = _write(tmp_path / "index.json", payload)
    assert read_versioned_json(file, format=FORMAT, version=3) == payload
    assert read_versioned_json(str(file), format=FORMAT, version=3, where=tmp_path) == payload


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        ("{not json", "not a JSON file"),
        (b"\xff\xfe", "not a JSON file"),
        ([1, 2], "not a localchain.test file"),
        ({"format": "someone.else", "version": 1}, "not a localchain.test file"),
        ({"version": 1}, "not a localchain.test file"),
        ({"format": FORMAT, "version": 2}, "format version 2, expected 1"),
        ({"format": FORMAT}, "format version None, expected 1"),
    ],
)
def test_a_bad_file_is_refused_by_its_path(
    tmp_path: Path, content: object, reason: str
) -> None:
    file = tmp_path / "index.json"
    if isinstance(content, bytes):
        file.write_bytes(content)
    elif content is not None:
        _write(file, content)
    with pytest.raises(IndexFormatError) as info:
        read_versioned_json(file, format=FORMAT, version=1)
    assert info.value.path == str(file)
    assert info.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no docstore.json in it"),
        ("{not json", "docstore.json is not JSON"),
        ({"format": "someone.else"}, "docstore.json is not a localchain.test file"),
        ({"format": FORMAT, "version": 2}, "format version 2, expected 1"),
    ],
)
def test_a_bad_file_in_a_folder_is_refused_by_the_folder(
    tmp_path: Path, content: object, reason: str
) -> None:
    file = tmp_path / "docstore.json"
    if content is not None:
        _write(file, content)
    with pytest.raises(IndexFormatError) as info:
        read_versioned_json(file, format=FORMAT, version=1, where=tmp_path)
    assert info.value.path == str(tmp_path)
    assert info.value.reason.startswith(reason)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "index.json"
    folder.mkdir()  # reading a folder raises an OSError that is not FileNotFoundError
    with pytest.raises(IndexFormatError, match="not a JSON file"):
        read_versioned_json(folder, format=FORMAT, version=1)


def test_what_write_atomic_writes_reads_back(tmp_path: Path) -> None:
    file = tmp_path / "store" / "manifest.json"
    payload = {"format": FORMAT, "version": 1, "roots": ["/kb"]}
    write_atomic(file, json.dumps(payload).encode("utf-8"))
    assert read_versioned_json(file, format=FORMAT, version=1, where=file.parent) == payload


def test_docstring_examples_run() -> None:
    result = doctest.testmod(files, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
