"""Servers for the serve tests: the app on a real socket (uvicorn in a thread), and a chat
model the tests can hold and release, to fill the queue and cut streams on purpose."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from model_settings import free_port
from pydantic import PrivateAttr


@contextmanager
def running(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """``serve(app)`` starts the app on a real socket for this test and returns its URL."""
    stack: list[Any] = []

    def start(app: Any) -> str:
        context = running(app)
        url = context.__enter__()
        stack.append(context)
        return url

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


class HeldChat(BaseChatModel):
    """A chat model that answers ``"tok tok ..."`` one piece at a time, but only while the
    test lets it (``release``), and records what happened to each answer."""

    pieces: int = 50
    delay_s: float = 0.02
    _release: threading.Event = PrivateAttr(default_factory=threading.Event)
    _started: threading.Semaphore = PrivateAttr(default_factory=lambda: threading.Semaphore(0))
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    produced: list[int] = []
    closed: list[bool] = []

    @property
    def _llm_type(self) -> str:
        return "held"

    def release(self) -> None:
        self._release.set()

    def wait_started(self, timeout: float = 10) -> bool:
        return self._started.acquire(timeout=timeout)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            index = len(self.produced)
            self.produced.append(0)
            self.closed.append(False)
        self._started.release()
        self._release.wait(timeout=30)
        try:
            for _ in range(self.pieces):
                self.produced[index] += 1
                yield ChatGenerationChunk(message=AIMessageChunk(content="tok "))
                time.sleep(self.delay_s)
            usage = {
                "input_tokens": 3,
                "output_tokens": self.pieces,
                "total_tokens": 3 + self.pieces,
            }
            yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
        except GeneratorExit:
            self.closed[index] = True
            raise

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


@pytest.fixture
def held() -> HeldChat:
    return HeldChat(produced=[], closed=[])
