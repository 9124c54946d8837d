"""Read and check a GGUF file's header without llama.cpp.

llama.cpp aborts or crashes on some malformed files, so localchain reads the header itself
first: the magic number, the metadata, and the tensor table, and checks that every tensor's
data lies inside the file (a truncated download is caught here).

Example:
    >>> from localchain.gguf import read_gguf_info
    >>> from localchain.models.embedded import embedded_model_path
    >>> info = read_gguf_info(embedded_model_path())
    >>> info.architecture, info.quantization
    ('llama', 'Q4_1')
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field

from localchain.errors import ModelLoadError

__all__ = ["GGUFInfo", "read_gguf_info"]

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
# Arrays longer than this (tokenizer vocabularies) are skipped, only their length kept.
_MAX_KEPT_ARRAY = 64
_MAX_STRING = 1 << 26
_MAX_DIMS = 8

# GGUF metadata value types: (struct format, size) for the fixed-size ones.
_SCALARS = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), from ggml's type traits.
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}

# llama.cpp's `general.file_type` (enum llama_ftype) -> the usual quantization name.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}


class GGUFInfo(BaseModel):
    """What a GGUF file says about itself."""

    path: str
    """Absolute path of the file."""
    size_bytes: int
    """File size in bytes."""
    version: int
    """GGUF format version (2 or 3)."""
    tensor_count: int
    """Number of tensors in the file."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Metadata key/values; long arrays (the vocabulary) are replaced by their length."""

    @property
    def architecture(self) -> str | None:
        """Model architecture, e.g. ``llama``."""
        return self.metadata.get("general.architecture")

    @property
    def name(self) -> str | None:
        """Model name from the metadata, if any."""
        return self.metadata.get("general.name")

    @property
    def quantization(self) -> str | None:
        """Quantization of the weights, e.g. ``Q4_1``."""
        file_type = self.metadata.get("general.file_type")
        if file_type is None:
            return None
        return _FILE_TYPES.get(int(file_type), f"file_type {file_type}")

    @property
    def context_length(self) -> int | None:
        """Context length the model was trained with."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template stored in the file, if any."""
        return self.metadata.get("tokenizer.chat_template")

    def kv_cache_bytes(self, n_ctx: int) -> int | None:
        """Bytes llama.cpp's KV cache takes for ``n_ctx`` tokens (16-bit keys and values),
        from the layer and attention sizes in the metadata; None when they are missing.

        Example:
            >>> info = GGUFInfo(path="m.gguf", size_bytes=0, version=3, tensor_count=0,
            ...     metadata={"general.architecture": "llama", "llama.block_count": 30,
            ...               "llama.embedding_length": 576, "llama.attention.head_count": 9,
            ...               "llama.attention.head_count_kv": 3})
            >>> info.kv_cache_bytes(4096)   # 2 (K, V) x 30 layers x 3 heads x 64 x 2 bytes
            94371840
        """
        arch = self.architecture
        layers = self.metadata.get(f"{arch}.block_count")
        width = self.metadata.get(f"{arch}.embedding_length")
        heads = self.metadata.get(f"{arch}.attention.head_count")
        if not (layers and width and heads):
            return None
        kv_heads = self.metadata.get(f"{arch}.attention.head_count_kv") or heads
        head_dim = int(width) // int(heads)
        return 2 * int(layers) * int(kv_heads) * head_dim * 2 * n_ctx


class _Reader:
    def __init__(self, handle: BinaryIO, path: str, size: int) -> None:
        self.handle = handle
        self.path = path
        self.size = size

    def fail(self, reason: str) -> ModelLoadError:
        return ModelLoadError(self.path, reason)

    def read(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise self.fail(
                f"file ends inside the header at byte {self.handle.tell()} of {self.size} "
                "(truncated download?)"
            )
        return data

    def scalar(self, kind: int) -> Any:
        fmt, size = _SCALARS[kind]
        return struct.unpack(fmt, self.read(size))[0]

    def u32(self) -> int:
        return self.scalar(4)

    def u64(self) -> int:
        return self.scalar(10)

    def string(self) -> str:
        length = self.u64()
        if length > _MAX_STRING or length > self.size:
            raise self.fail(f"corrupt header: a string claims {length} bytes")
        return self.read(length).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        if self.handle.tell() + n > self.size:
            raise self.fail("file ends inside the header (truncated download?)")
        self.handle.seek(n, os.SEEK_CUR)

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(kind)
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = self.u32()
            count = self.u64()
            if count > self.size:
                raise self.fail(f"corrupt header: an array claims {count} items")
            if count > _MAX_KEPT_ARRAY:
                if item_kind in _SCALARS:
                    self.skip(count * _SCALARS[item_kind][1])
                else:
                    for _ in range(count):
                        self.value(item_kind)
                return f"<array of {count}>"
            return [self.value(item_kind) for _ in range(count)]
        raise self.fail(f"corrupt header: unknown metadata value type {kind}")


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read a GGUF file's header and check that the file is complete.

    Raises:
        ModelLoadError: the file is not GGUF, is an unsupported version, or is truncated.
        FileNotFoundError: the file does not exist.
    """
    file = Path(path).expanduser().resolve()
    size = file.stat().st_size
    with open(file, "rb") as handle:
        reader = _Reader(handle, str(file), size)
        magic = handle.read(4)
        if magic != _MAGIC:
            raise reader.fail(
                f"not a GGUF file (starts with {magic!r}, expected b'GGUF'); llama.cpp loads "
                "only GGUF models - convert other formats with llama.cpp's convert_hf_to_gguf.py"
            )
        version = reader.u32()
        if version not in _SUPPORTED_VERSIONS:
            raise reader.fail(f"unsupported GGUF version {version} (supported: 2, 3)")
        tensor_count = reader.u64()
        kv_count = reader.u64()
        if tensor_count > size or kv_count > size:
            raise reader.fail("corrupt header: impossible tensor or metadata count")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(reader.u32())
        data_end = 0
        unknown_types = False
        for _ in range(tensor_count):
            name = reader.string()
            n_dims = reader.u32()
            if n_dims > _MAX_DIMS:
                raise reader.fail(f"corrupt tensor table: tensor {name!r} has {n_dims} dims")
            elements = 1
            for _ in range(n_dims):
                elements *= reader.u64()
            ggml_type = reader.u32()
            offset = reader.u64()
            block, block_bytes = _GGML_TYPES.get(ggml_type, (0, 0))
            if block == 0:
                unknown_types = True
                data_end = max(data_end, offset)
            else:
                data_end = max(data_end, offset + elements // block * block_bytes)
        alignment = int(metadata.get("general.alignment", 32)) or 32
        data_start = -(-handle.tell() // alignment) * alignment
    needed = data_start + data_end
    if needed > size or (unknown_types and needed >= size):
        raise ModelLoadError(
            str(file),
            f"file is truncated: its tensors need {needed} bytes but it has {size} "
            "(download it again)",
        )
    return GGUFInfo(
        path=str(file), size_bytes=size, version=version, tensor_count=tensor_count,
        metadata=metadata,
    )
