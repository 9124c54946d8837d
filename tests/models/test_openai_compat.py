"""The OpenAI-compatible path against llama-cpp-python's real server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from model_settings import free_port
from pydantic import BaseModel

from localchain import load_chat_model
from localchain.errors import BackendConnectionError
from localchain.models import OpenAICompatibleChat


def test_invoke_through_langchain_openai(server_url: str) -> None:
    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=32)
    assert isinstance(chat, OpenAICompatibleChat)
    reply = chat.invoke("What is the capital of France? Answer with one word.")
    assert "Paris" in reply.content
    assert reply.usage_metadata["input_tokens"] > 0
    assert 0 < reply.usage_metadata["output_tokens"] <= 32


def test_stream_through_langchain_openai(server_url: str) -> None:
    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=24)
    expected = chat.invoke("Name three animals.").content
    chunks = [chunk.content for chunk in chat.stream("Name three animals.")]
    assert len([c for c in chunks if c]) > 1
    assert "".join(chunks) == expected


async def test_ainvoke_through_langchain_openai(server_url: str) -> None:
    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=16)
    reply = await chat.ainvoke("What is 2 + 2?")
    assert "4" in reply.content


def test_structured_output_through_server(server_url: str) -> None:
    class Person(BaseModel):
        name: str
        age: int

    chat = load_chat_model("smollm2", base_url=server_url, temperature=0, max_tokens=64)
    # llama-cpp-python's server has no json_schema response_format; a forced tool call is
    # decoded under the schema's grammar there.
    person = chat.with_structured_output(Person, method="function_calling").invoke(
        "Extract the person: Maarten is 33 years old."
    )
    assert isinstance(person, Person)


def test_refused_connection_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    chat = load_chat_model("m", base_url=url, timeout=2, max_retries=0)
    with pytest.raises(BackendConnectionError) as caught:
        chat.invoke("hi")
    assert caught.value.url == url
    assert url in str(caught.value) and "connection failed" in str(caught.value)


def test_silent_server_times_out_within_the_limit() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        chat = load_chat_model("m", base_url=url, timeout=1.5, max_retries=0)
        started = time.monotonic()
        with pytest.raises(BackendConnectionError, match="timed out") as caught:
            chat.invoke("hi")
        waited = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert caught.value.timeout == 1.5
    # The call gave up on its own instead of hanging (generous bound for a loaded machine).
    assert waited < 15
