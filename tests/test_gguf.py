"""GGUF header checks run before llama.cpp sees a file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from localchain.errors import ModelLoadError
from localchain.gguf import read_gguf_info


def test_embedded_model_header(model_path: Path) -> None:
    info = read_gguf_info(model_path)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.size_bytes == model_path.stat().st_size
    assert "<|im_start|>" in (info.chat_template or "")
    # The 49k-token vocabulary is summarised, not loaded into the metadata.
    assert info.metadata["tokenizer.ggml.tokens"] == "<array of 49152>"


def test_text_file_renamed_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("This is a text file, not a model.\n")
    with pytest.raises(ModelLoadError, match="not a GGUF file") as caught:
        read_gguf_info(fake)
    assert caught.value.path == str(fake)


@pytest.mark.parametrize("keep", [3, 20, 4000, 60_000_000])
def test_truncated_gguf(tmp_path: Path, model_path: Path, keep: int) -> None:
    cut = tmp_path / "cut.gguf"
    with open(model_path, "rb") as src:
        cut.write_bytes(src.read(keep))
    with pytest.raises(ModelLoadError, match="truncated|not a GGUF"):
        read_gguf_info(cut)


def test_last_byte_missing(tmp_path: Path, model_path: Path) -> None:
    data = model_path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:-1])
    with pytest.raises(ModelLoadError, match=f"need {len(data)} bytes but it has {len(data) - 1}"):
        read_gguf_info(cut)


def test_unsupported_version(tmp_path: Path) -> None:
    bad = tmp_path / "v9.gguf"
    bad.write_bytes(b"GGUF" + struct.pack("<IQQ", 9, 0, 0))
    with pytest.raises(ModelLoadError, match="unsupported GGUF version 9"):
        read_gguf_info(bad)


def test_absurd_counts_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "huge.gguf"
    bad.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 2**60))
    with pytest.raises(ModelLoadError, match="corrupt header"):
        read_gguf_info(bad)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        read_gguf_info(empty)
