"""The on-disk format of an index folder: its manifest, generation folders and locks.

``DIR/manifest.json`` (:class:`StoreManifest`) names the format and version, the embedding
model and dimension, the chunker and FAISS settings, the indexed roots, counts, and the
current generation; ``DIR/gen-NNNNNN/`` holds that generation's ``dense/`` FAISS store and
``bm25.json``. Generation 0 is an empty store that has no folder.

Two advisory ``flock`` locks keep processes out of each other's way:

- ``DIR/.writer.lock``: one writer at a time (:func:`writer_lock`); a second one waits,
  says so, and gives up with :class:`StoreBusyError` after its ``timeout``.
- ``DIR/.readers.lock``: a reader holds it shared while it reads the manifest and the
  generation it names (:func:`reader_pin`); a writer removes old generations only while
  it holds it exclusively (:func:`sweep`), so no reader ever finds its generation gone.
  A generation still being read is left for the next writer to remove.

Example:
    >>> generation_folder(3)
    'gen-000003'
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from localchain.errors import IndexFormatError, LocalchainError
from localchain.files import read_versioned_json
from localchain.retrievers.chunker_spec import ChunkerSpec
from localchain.retrievers.faiss_index import FaissSettings

try:  # POSIX; elsewhere concurrent writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "EmbeddingInfo",
    "StoreBusyError",
    "StoreExistsError",
    "StoreManifest",
    "generation_folder",
    "generation_folders",
    "reader_pin",
    "read_manifest",
    "sweep",
    "writer_lock",
]

FORMAT = "localchain.store"
VERSION = 1
MANIFEST = "manifest.json"
LOCK_FILE = ".writer.lock"
READERS_LOCK = ".readers.lock"
# What a writer leaves behind when it is killed: manifest.json's temporary file (before the
# rename) and generation folders the manifest no longer names (after it).
_GENERATION = re.compile(r"gen-(\d{6,})")
_MANIFEST_TMP = re.compile(rf"\.{re.escape(MANIFEST)}\..+\.tmp")
# How often a waiting writer tries the lock again, and how long a writer tries to get the
# readers lock before leaving old generations for the next one.
_POLL = 0.05
_SWEEP_WAIT = 2.0


class StoreBusyError(LocalchainError, TimeoutError):
    """Another process kept updating a store for longer than this writer would wait.

    Example:
        >>> err = StoreBusyError("kb.store", waited=600, holder=4242)
        >>> print(err)                                  # doctest: +NORMALIZE_WHITESPACE
        kb.store is being updated by another process (pid 4242); waited 600 s.
        Run again when it has finished.
    """

    def __init__(self, path: str, *, waited: float, holder: int | None = None) -> None:
        self.path = path
        self.waited = waited
        self.holder = holder
        who = f" (pid {holder})" if holder else ""
        super().__init__(
            f"{path} is being updated by another process{who}; waited {waited:g} s. "
            "Run again when it has finished."
        )


class StoreExistsError(LocalchainError, FileExistsError):
    """A new store was asked for in a folder that already holds one, or other files.

    Example:
        >>> print(StoreExistsError("notes", "is not empty; choose a new folder for the store"))
        notes is not empty; choose a new folder for the store
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} {reason}")


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
    bm25: dict[str, Any] = Field(default_factory=dict)
    """BM25 settings the store was created with (:class:`~.bm25.BM25Retriever` fields, the
    tokenizer by name); ``{}`` means the defaults. Each generation's ``bm25.json`` holds them
    too."""
    generation: int = 0
    """Number of the ``gen-NNNNNN`` folder holding the current data."""
    roots: list[str] = Field(default_factory=list)
    """Files and folders indexed into the store (absolute paths)."""
    chunks: int = 0
    sources: int = 0
    created_at: str = ""
    updated_at: str = ""


def read_manifest(folder: Path) -> StoreManifest:
    """The manifest of the store in ``folder``.

    Raises:
        IndexFormatError: no store there (or its manifest was deleted), or a manifest that
            is corrupt, foreign, of another version or malformed.
    """
    file = folder / MANIFEST
    if not file.is_file():
        if generation_folders(folder):
            raise IndexFormatError(str(folder), deleted_manifest(folder))
        reason = "no such folder" if not folder.exists() else f"no {MANIFEST} in it"
        raise IndexFormatError(
            str(folder), f"{reason}; build one with `localchain index PATH --store {folder}`"
        )
    raw = read_versioned_json(file, format=FORMAT, version=VERSION, where=folder)
    try:
        return StoreManifest.model_validate(raw)
    except ValidationError as err:
        raise IndexFormatError(str(folder), f"malformed {MANIFEST} ({err})") from err


def deleted_manifest(folder: Path) -> str:
    """The reason given for a folder with generation data but no manifest."""
    names = ", ".join(p.name for p in generation_folders(folder))
    return (
        f"it holds index data ({names}) but no {MANIFEST} (deleted?); "
        "restore it, or delete the folder"
    )


@contextmanager
def writer_lock(folder: Path, *, timeout: float | None = 600.0) -> Iterator[None]:
    """One writer per store folder at a time (an advisory lock).

    A second writer logs a warning that it waits for the first one (naming its pid), and
    raises :class:`StoreBusyError` if the lock is still held after ``timeout`` seconds
    (``None``: wait as long as it takes).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with writer_lock(folder):
        ...     try:
        ...         with writer_lock(folder, timeout=0.1):
        ...             pass
        ...     except StoreBusyError as err:
        ...         print(err.holder == os.getpid(), err.waited)
        True 0.1
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as handle:
        if fcntl is None:
            yield
            return
        _lock_exclusive(handle, folder, timeout)
        try:
            # The pid tells a waiting writer who it waits for.
            handle.truncate(0)
            handle.write(str(os.getpid()).encode())
            handle.flush()
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_exclusive(handle: IO[bytes], folder: Path, timeout: float | None) -> None:
    if _try_lock(handle, fcntl.LOCK_EX):
        return
    holder = _holder(handle)
    limit = "as long as it takes" if timeout is None else f"up to {timeout:g} s"
    logger.warning(
        "%s is being updated by another process%s; waiting %s",
        folder,
        f" (pid {holder})" if holder else "",
        limit,
    )
    start = time.monotonic()
    while not _try_lock(handle, fcntl.LOCK_EX):
        if timeout is not None and time.monotonic() - start >= timeout:
            raise StoreBusyError(str(folder), waited=timeout, holder=_holder(handle))
        time.sleep(_POLL)


def _try_lock(handle: IO[bytes], kind: int) -> bool:
    try:
        fcntl.flock(handle.fileno(), kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(handle: IO[bytes]) -> int | None:
    handle.seek(0)
    text = handle.read(32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


@contextmanager
def reader_pin(folder: Path) -> Iterator[None]:
    """Keep writers from removing any generation while the manifest and the generation it
    names are read (a shared lock; readers do not wait for each other).

    A folder that holds no manifest (nothing to pin; no lock file is left in a folder that
    is not a store) or where the lock file cannot be created (read-only) is read without it.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "gen-000001").mkdir(), (folder / "gen-000002").mkdir()
        >>> _ = (folder / MANIFEST).write_text("{}")
        >>> with reader_pin(folder):
        ...     sweep(folder, keep=2, wait=0.1)     # a writer leaves the old one alone
        False
        >>> sweep(folder, keep=2), [p.name for p in generation_folders(folder)]
        (True, ['gen-000002'])
    """
    try:
        if not (folder / MANIFEST).is_file():
            raise FileNotFoundError(folder / MANIFEST)
        handle = open(folder / READERS_LOCK, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        yield
        return
    with handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sweep(folder: Path, keep: int, *, wait: float = _SWEEP_WAIT) -> bool:
    """Remove what updates leave behind: generation folders other than ``keep`` and
    temporary manifest files. Call it holding :func:`writer_lock`.

    Generations are removed only when no reader holds :func:`reader_pin`, tried for up to
    ``wait`` seconds; returns False if they had to be left for a later sweep.
    """
    for tmp in folder.glob(f".{MANIFEST}.*.tmp"):
        if _MANIFEST_TMP.fullmatch(tmp.name):
            tmp.unlink(missing_ok=True)
    stale = [p for p in generation_folders(folder) if p.name != generation_folder(keep)]
    if not stale:
        return True
    with open(folder / READERS_LOCK, "a+b") as handle:
        if fcntl is not None:
            deadline = time.monotonic() + wait
            while not _try_lock(handle, fcntl.LOCK_EX):
                if time.monotonic() >= deadline:
                    logger.debug("%s: readers hold %d old generation(s)", folder, len(stale))
                    return False
                time.sleep(_POLL)
        try:
            for path in stale:
                shutil.rmtree(path, ignore_errors=True)
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return True


def generation_folder(number: int) -> str:
    return f"gen-{number:06d}"


def generation_folders(folder: Path) -> list[Path]:
    """The ``gen-NNNNNN`` folders in ``folder``, oldest first."""
    with contextlib.suppress(OSError):
        found = [p for p in folder.iterdir() if _GENERATION.fullmatch(p.name) and p.is_dir()]
        return sorted(found, key=lambda p: int(p.name[4:]))
    return []
