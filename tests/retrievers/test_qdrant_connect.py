"""Qdrant store arguments and the server path's failures: nothing listening, a refused API
key (a small HTTP server on 127.0.0.1 answering as Qdrant does), where the key comes from."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localchain.errors import BackendConnectionError, BackendResponseError
from localchain.retrievers.qdrant_connect import QdrantTarget, connect, is_qdrant_store
from localchain.retrievers.store import Index

GOOD_KEY = "right-key-7f3a"
BAD_KEY = "wrong-key-91c2"


def test_store_arguments() -> None:
    local = QdrantTarget.parse("qdrant:films.qdrant")
    assert local.local and local.path is not None and local.path.is_absolute()
    assert local.where == f"qdrant:{local.path}"
    server = QdrantTarget.parse("qdrant+http://127.0.0.1:6333/films")
    assert (server.url, server.collection, server.local) == (
        "http://127.0.0.1:6333",
        "films",
        False,
    )
    assert (
        QdrantTarget.parse("qdrant+https://db.example.com/kb").url == "https://db.example.com:443"
    )
    assert QdrantTarget.parse("qdrant+http://db/kb").url == "http://db:6333"
    for bad in ("qdrant+http://host:6333", "qdrant+http://host:6333/a/b", "qdrant:", "faiss:x"):
        with pytest.raises(ValueError):
            QdrantTarget.parse(bad)
    with pytest.raises(ValueError, match="not in the store URL"):
        QdrantTarget.parse("qdrant+https://user:secret@db:6333/kb")
    assert is_qdrant_store("qdrant+https://db/kb") and not is_qdrant_store("store")
    assert not is_qdrant_store(__import__("pathlib").Path("qdrant:x"))  # a Path is a folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nothing_listening_is_a_connection_error_within_the_timeout() -> None:
    port = _free_port()  # bound and released: nothing listens there
    store = f"qdrant+http://127.0.0.1:{port}/films"
    started = time.monotonic()
    with pytest.raises(BackendConnectionError) as err:
        Index.open(store)
    assert time.monotonic() - started < 15
    message = str(err.value)
    assert (
        f"no answer from the Qdrant server at http://127.0.0.1:{port}/films within 10 s" in message
    )
    assert "Qdrant is running" in message and "LOCALCHAIN_BASE_URL" not in message
    assert err.value.url == f"http://127.0.0.1:{port}/films"


class _Qdrant(BaseHTTPRequestHandler):
    """Answers ``GET /collections/NAME/exists`` as a Qdrant server with an API key does:
    401 and a plain-text reason without the right ``api-key`` header, else the JSON shape
    of Qdrant's REST answer."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        key = self.headers.get("api-key")
        type(self).seen.append(key)
        if key != GOOD_KEY:
            self._send(
                401, b"Must provide an API key or an Authorization bearer token", "text/plain"
            )
            return
        body = {"result": {"exists": False}, "status": "ok", "time": 2.1e-05}
        self._send(200, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Qdrant.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Qdrant)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_a_refused_api_key_names_the_url_not_the_key(server: str, monkeypatch) -> None:
    monkeypatch.setenv("QDRANT_API_KEY", BAD_KEY)
    store = f"qdrant+http{server.removeprefix('http')}/films"
    with pytest.raises(BackendResponseError) as err:
        Index.open(store)
    message = str(err.value)
    assert err.value.status == 401 and f"Qdrant at {server}/films" in message
    assert "refused the API key" in message and "QDRANT_API_KEY" in message
    assert BAD_KEY not in message and BAD_KEY not in repr(err.value.__cause__)
    assert _Qdrant.seen == [BAD_KEY]


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_the_key_comes_from_settings_before_the_environment(server: str, monkeypatch) -> None:
    target = QdrantTarget.parse(f"qdrant+http{server.removeprefix('http')}/films")
    monkeypatch.setenv("QDRANT_API_KEY", BAD_KEY)
    monkeypatch.setenv("LOCALCHAIN_QDRANT_API_KEY", GOOD_KEY)
    connect(target).close()
    monkeypatch.delenv("LOCALCHAIN_QDRANT_API_KEY")
    monkeypatch.setenv("QDRANT_API_KEY", GOOD_KEY)
    connect(target).close()
    connect(target, key=GOOD_KEY).close()
    assert _Qdrant.seen == [GOOD_KEY, GOOD_KEY, GOOD_KEY]
    # A collection that does not exist on a server that answers: the usual clear error.
    from localchain.errors import IndexFormatError

    with pytest.raises(IndexFormatError, match="no collection 'films'"):
        Index.open(f"qdrant+http{server.removeprefix('http')}/films")
