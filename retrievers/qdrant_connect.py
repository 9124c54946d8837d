"""Where a Qdrant index lives, and a client for it that fails with localchain's errors.

A store argument (``--store``, ``Index.open(...)``) names a Qdrant index in one of two forms:

``qdrant:PATH``
    Qdrant's embedded local mode: the collection ``localchain`` in the folder PATH, read and
    written in this process (no server). Qdrant allows one process per folder at a time; a
    second one gets :class:`StoreLockedError`.
``qdrant+http://HOST:PORT/COLLECTION`` (or ``qdrant+https://...``)
    The collection COLLECTION on a Qdrant server or cluster. The API key comes from the
    ``qdrant_api_key`` setting (``LOCALCHAIN_QDRANT_API_KEY``, ``localchain.toml``) or
    ``QDRANT_API_KEY``; it is never part of an error message.

An unreachable server is :class:`~localchain.errors.BackendConnectionError` after at most
``timeout`` seconds; a refused API key is :class:`~localchain.errors.BackendResponseError`
naming the URL.

Example:
    >>> target = QdrantTarget.parse("qdrant+https://db.example.com:6333/films")
    >>> target.url, target.collection, target.local
    ('https://db.example.com:6333', 'films', False)
    >>> QdrantTarget.parse("qdrant:/tmp/films.qdrant").collection
    'localchain'
    >>> is_qdrant_store("films.store"), is_qdrant_store("qdrant:films.qdrant")
    (False, True)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from localchain.errors import BackendConnectionError, BackendResponseError, LocalchainError

__all__ = [
    "DEFAULT_COLLECTION",
    "QdrantTarget",
    "StoreLockedError",
    "connect",
    "is_qdrant_store",
    "qdrant_errors",
]

DEFAULT_COLLECTION = "localchain"
"""The collection a ``qdrant:PATH`` store uses inside its folder."""
_PREFIXES = ("qdrant:", "qdrant+http://", "qdrant+https://")
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")


class StoreLockedError(LocalchainError, RuntimeError):
    """A ``qdrant:PATH`` folder is open in another process (Qdrant's local mode allows one).

    Example:
        >>> print(StoreLockedError("films.qdrant"))  # doctest: +NORMALIZE_WHITESPACE
        films.qdrant is open in another process: Qdrant's local mode allows one process per
        folder. Close the other program (a running `localchain chat --rag`, a notebook), or
        run a Qdrant server and use --store qdrant+http://HOST:6333/COLLECTION to share one
        index.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is open in another process: Qdrant's local mode allows one process per "
            "folder. Close the other program (a running `localchain chat --rag`, a notebook), "
            "or run a Qdrant server and use --store qdrant+http://HOST:6333/COLLECTION to "
            "share one index."
        )


def is_qdrant_store(store: str | Path) -> bool:
    """Whether a store argument names a Qdrant index rather than a FAISS folder."""
    return isinstance(store, str) and store.startswith(_PREFIXES)


class QdrantTarget(BaseModel):
    """A parsed Qdrant store argument: a local folder or a server URL, and the collection.

    Example:
        >>> target = QdrantTarget.parse("qdrant+http://127.0.0.1:6333/films", timeout=5)
        >>> target.where, target.timeout
        ('http://127.0.0.1:6333/films', 5.0)
    """

    model_config = ConfigDict(frozen=True)

    collection: str = DEFAULT_COLLECTION
    path: Path | None = None
    """The folder of an embedded (local mode) store."""
    url: str | None = None
    """``http(s)://HOST:PORT`` of a server."""
    timeout: float = 10.0
    """Seconds to wait for a server before :class:`BackendConnectionError`."""

    @property
    def local(self) -> bool:
        return self.path is not None

    @property
    def where(self) -> str:
        """How errors name this store (never with a key)."""
        if self.path is not None:
            return f"qdrant:{self.path}"
        return f"{self.url}/{self.collection}"

    @classmethod
    def parse(cls, store: str, *, timeout: float = 10.0) -> QdrantTarget:
        """Read ``qdrant:PATH`` or ``qdrant+http(s)://HOST:PORT/COLLECTION``.

        Raises:
            ValueError: neither form, or a URL without a collection.
        """
        if store.startswith(("qdrant+http://", "qdrant+https://")):
            parts = urlsplit(store[len("qdrant+") :])
            collection = parts.path.strip("/")
            if not parts.hostname or not _COLLECTION_NAME.fullmatch(collection):
                raise ValueError(
                    f"{store!r}: a Qdrant URL is qdrant+http://HOST:PORT/COLLECTION "
                    "(one collection name of letters, digits, '_', '-' or '.')"
                )
            if parts.username or parts.password:
                raise ValueError(
                    "put the Qdrant API key in QDRANT_API_KEY or the qdrant_api_key setting, "
                    "not in the store URL"
                )
            port = parts.port or (443 if parts.scheme == "https" else 6333)
            url = f"{parts.scheme}://{parts.hostname}:{port}"
            return cls(url=url, collection=collection, timeout=timeout)
        if store.startswith("qdrant:") and store[len("qdrant:") :].strip():
            return cls(path=Path(store[len("qdrant:") :]).expanduser().resolve(), timeout=timeout)
        raise ValueError(
            f"{store!r} is not a Qdrant store: use qdrant:PATH (embedded) or "
            "qdrant+http://HOST:PORT/COLLECTION (a server)"
        )


def api_key(explicit: str | None = None) -> str | None:
    """The Qdrant API key: ``explicit``, else the ``qdrant_api_key`` setting, else
    ``QDRANT_API_KEY``."""
    if explicit:
        return explicit
    from localchain.settings import load_settings

    secret = load_settings().qdrant_api_key
    if secret is not None and secret.get_secret_value():
        return secret.get_secret_value()
    return os.environ.get("QDRANT_API_KEY") or None


def connect(target: QdrantTarget, *, key: str | None = None) -> Any:
    """A ``QdrantClient`` for ``target``; a server is asked once whether it answers.

    Raises:
        StoreLockedError: a local folder another process has open.
        BackendConnectionError: no server answered within ``target.timeout``.
        BackendResponseError: the server refused the API key (or answered otherwise wrongly).
    """
    from qdrant_client import QdrantClient

    if target.path is not None:
        target.path.mkdir(parents=True, exist_ok=True)
        try:
            return QdrantClient(path=str(target.path))
        except RuntimeError as err:
            if "already accessed by another instance" in str(err):
                raise StoreLockedError(str(target.path)) from None
            raise
    client = QdrantClient(
        url=target.url,
        api_key=api_key(key),
        timeout=max(1, round(target.timeout)),
        # The version check would make a request of its own, with a warning instead of an
        # error when it fails; the collection check below is the one request we make.
        check_compatibility=False,
    )
    with qdrant_errors(target):
        client.collection_exists(target.collection)
    return client


@contextmanager
def qdrant_errors(target: QdrantTarget) -> Iterator[None]:
    """Turn the client's transport and HTTP errors into localchain's, naming the URL only."""
    if target.local:
        yield
        return
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as err:
        status = err.status_code
        if status in (401, 403):
            reason = (
                "the server refused the API key; set the right one in QDRANT_API_KEY or the "
                "qdrant_api_key setting (LOCALCHAIN_QDRANT_API_KEY, localchain.toml)"
            )
        else:
            reason = f"unexpected answer {err.reason_phrase or ''}".strip()
        raise BackendResponseError(f"Qdrant at {target.where}", reason, status=status) from None
    except (ResponseHandlingException, httpx.TransportError) as err:
        cause = err.source if isinstance(err, ResponseHandlingException) else err
        raise BackendConnectionError(
            target.where,
            f"{type(cause).__name__}: {cause}",
            timeout=target.timeout,
            service="Qdrant server",
            hint="Check that Qdrant is running there (docs/retrievers.md, 'Running a Qdrant "
            "server') and that the --store URL names it.",
        ) from None
