"""`localchain serve` as a user starts it: a process on 127.0.0.1 with an API key from the
environment, stopped by SIGTERM in the middle of an answer with every session left whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from model_settings import free_port

from localchain.memory import SQLiteSessionStore

pytestmark = pytest.mark.slow

KEY = "k-123-secret"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    sessions = tmp_path / "sessions.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    env["LOCALCHAIN_API_KEY"] = KEY
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "localchain", "serve", "--port", str(port), "--sessions",
         str(sessions), "--temperature", "0", "--n-ctx", "2048", "--grace", "2"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            httpx.get(f"{url}/", timeout=2)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError((tmp_path / "serve.log").read_text()[-3000:]) from None
            time.sleep(0.3)
    try:
        yield process, url, sessions
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()


def test_serve_requires_the_key_and_sigterm_leaves_every_session_whole(
    server: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    process, url, sessions = server
    auth = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{url}/v1/models").status_code == 401
    assert httpx.get(f"{url}/v1/models", headers=auth).json()["data"][0]["id"]
    done = httpx.post(
        f"{url}/v1/chat/completions",
        headers=auth,
        timeout=120,
        json={"messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 8, "user": "done"},
    )
    assert done.status_code == 200

    # An answer of up to 300 tokens is streaming when the server is told to stop.
    received: list[str] = []

    def stream() -> None:
        body = {
            "messages": [{"role": "user", "content": "Tell me a long story."}],
            "max_tokens": 300,
            "stream": True,
            "user": "cut",
        }
        try:
            with httpx.stream(
                "POST", f"{url}/v1/chat/completions", headers=auth, json=body, timeout=120
            ) as response:
                for line in response.iter_lines():
                    received.append(line)
        except httpx.HTTPError:
            received.append("<connection closed>")

    reader = threading.Thread(target=stream)
    reader.start()
    deadline = time.monotonic() + 60
    while sum(line.startswith("data: {") for line in received) < 5:
        assert time.monotonic() < deadline, "the stream did not start"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    # uvicorn raises the signal again once it has stopped gracefully.
    assert process.wait(timeout=30) == -signal.SIGTERM
    reader.join(timeout=30)
    output = (tmp_path / "serve.log").read_text()
    assert "localchain serve: chat on http://127.0.0.1:" in output
    assert "localchain serve: stopping" in output and "Traceback" not in output
    assert KEY not in output
    # Whole turns only: the finished one is stored, the cut one is either whole or absent.
    store = SQLiteSessionStore(sessions)
    assert [m.type for m in store.history("done").messages] == ["human", "ai"]
    assert len(store.history("cut").messages) in (0, 2)
    if received[-1] == "data: [DONE]":
        assert len(store.history("cut").messages) == 2


def test_serve_refuses_rag_and_agent_together(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localchain", "serve", "--rag", "x", "--agent"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "give --rag or --agent, not both" in result.stderr
