"""Files localchain writes and reads back: atomic writes, versioned JSON.

Indexes, stores and manifests are replaced whole (:func:`write_atomic`), so a crash or a
full disk never leaves half a file where a good one was. Their JSON files name their format
and version, and :func:`read_versioned_json` refuses a file that is corrupt, foreign or of
another version with an :class:`~localchain.errors.IndexFormatError` that says which.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> file = Path(tempfile.mkdtemp()) / "notes.json"
    >>> write_atomic(file, json.dumps({"format": "notes", "version": 1}).encode("utf-8"))
    >>> read_versioned_json(file, format="notes", version=1)
    {'format': 'notes', 'version': 1}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from localchain.errors import IndexFormatError

__all__ = ["read_versioned_json", "write_atomic"]


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once: readers see the old file or the new one.

    The bytes go to a temporary file in the same folder (created if needed), are flushed to
    disk, and the temporary file is renamed over ``path``. On any failure, the temporary
    file is removed and ``path`` keeps its old content.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> file = Path(tempfile.mkdtemp()) / "index" / "bm25.json"
        >>> write_atomic(file, b'{"documents": []}')
        >>> file.read_bytes(), [p.name for p in file.parent.iterdir()]
        (b'{"documents": []}', ['bm25.json'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder: os.replace is atomic only within one file system.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            # Without it a crash after the rename can leave the new name with no content.
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; some systems cannot open or sync a folder, and the
    # file is in place by now, so that is not worth failing the write for.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_versioned_json(
    file: str | Path, *, format: str, version: int, where: str | Path | None = None
) -> dict[str, Any]:
    """The JSON object in ``file``, checked to name ``format`` and ``version``.

    The object must hold ``"format": format`` and ``"version": version``. ``where`` is the
    index the file belongs to, when that is a folder holding it: errors then name the
    folder and say which file in it is wrong. Without it, the file is the index.

    Raises:
        IndexFormatError: the file is missing, unreadable or not JSON; is not a JSON object
            of this format (a foreign file); or has another version (a newer or older
            localchain wrote it).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from localchain.errors import IndexFormatError
        >>> folder = Path(tempfile.mkdtemp())
        >>> file = folder / "manifest.json"
        >>> _ = file.write_text('{"format": "localchain.demo", "version": 2}')
        >>> try:
        ...     read_versioned_json(file, format="localchain.demo", version=1, where=folder)
        ... except IndexFormatError as err:
        ...     print(err.reason)
        format version 2, expected 1
        >>> try:
        ...     read_versioned_json(file, format="localchain.bm25", version=1)
        ... except IndexFormatError as err:
        ...     print(err.reason)
        not a localchain.bm25 file
    """
    source = Path(file)
    place = str(source if where is None else where)
    # Inside a folder the message names the file; a file that is the index needs no name.
    named = "" if where is None else f"{source.name} is "
    try:
        payload = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        reason = "no such file" if where is None else f"no {source.name} in it"
        raise IndexFormatError(place, reason) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        reason = f"not a JSON file ({err})" if where is None else f"{named}not JSON ({err})"
        raise IndexFormatError(place, reason) from err
    if not isinstance(payload, dict) or payload.get("format") != format:
        raise IndexFormatError(place, f"{named}not a {format} file")
    if payload.get("version") != version:
        raise IndexFormatError(
            place, f"format version {payload.get('version')!r}, expected {version}"
        )
    return payload
