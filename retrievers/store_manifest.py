"""The on-disk format of an index folder: its manifest, generation folders and writer lock.

``DIR/manifest.json`` (:class:`StoreManifest`) names the format and version, the embedding
model and dimension, the chunker and FAISS settings, the indexed roots, counts, and the
current generation; ``DIR/gen-NNNNNN/`` holds that generation's ``dense/`` FAISS store and
``bm25.json``. Writers hold ``DIR/.writer.lock`` (an advisory ``flock``).

Example:
    >>> generation_folder(3)
    'gen-000003'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from localchain.errors import IndexFormatError
from localchain.files import read_versioned_json
from localchain.retrievers.chunker_spec import ChunkerSpec
from localchain.retrievers.faiss_index import FaissSettings

try:  # POSIX; elsewhere concurrent writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "EmbeddingInfo",
    "StoreManifest",
    "generation_folder",
    "read_manifest",
    "writer_lock",
]

FORMAT = "localchain.store"
VERSION = 1
MANIFEST = "manifest.json"
LOCK_FILE = ".writer.lock"


class EmbeddingInfo(BaseModel):
    """The embedding model a store was built with."""

    name: str
    dimension: int


class StoreManifest(BaseModel):
    """``manifest.json``: what a store holds and how it was built.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from localchain.retrievers import Index
        >>> kb, store = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()) / "store"
        >>> _ = (kb / "a.txt").write_text("The Moon orbits Earth.")
        >>> fake = DeterministicFakeEmbedding(size=16)
        >>> _ = Index.build(kb, store, embeddings=fake)
        >>> manifest = Index.open(store, embeddings=fake).manifest
        >>> manifest.chunker.kind, manifest.chunks, manifest.embedding.dimension
        ('window', 1, 16)
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["localchain.store"] = FORMAT
    version: int = VERSION
    embedding: EmbeddingInfo
    chunker: ChunkerSpec
    faiss: FaissSettings
    generation: int = 0
    """Number of the ``gen-NNNNNN`` folder holding the current data."""
    roots: list[str] = Field(default_factory=list)
    """Files and folders indexed into the store (absolute paths)."""
    chunks: int = 0
    sources: int = 0
    created_at: str = ""
    updated_at: str = ""


def read_manifest(folder: Path) -> StoreManifest:
    file = folder / MANIFEST
    if not file.is_file():
        reason = "no such folder" if not folder.exists() else f"no {MANIFEST} in it"
        raise IndexFormatError(
            str(folder), f"{reason}; build one with `localchain index PATH --store {folder}`"
        )
    raw = read_versioned_json(file, format=FORMAT, version=VERSION, where=folder)
    try:
        return StoreManifest.model_validate(raw)
    except ValidationError as err:
        raise IndexFormatError(str(folder), f"malformed {MANIFEST} ({err})") from err


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """One writer per store folder at a time (an advisory lock; other writers wait)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def generation_folder(number: int) -> str:
    return f"gen-{number:06d}"
