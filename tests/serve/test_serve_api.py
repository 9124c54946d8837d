"""The server's HTTP contract on a real socket, with scripted models: errors, auth, CORS,
the queue, disconnects, timeouts, sessions and the targets create_app accepts."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import HeldChat
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda

from localchain.chains import Chatbot
from localchain.errors import ConfigError
from localchain.memory import SQLiteSessionStore, WindowMemory
from localchain.serve import ServeLimits, create_app

SERVE_DIR = Path(__file__).resolve().parents[2] / "serve"


class EchoChat(BaseChatModel):
    """Answers with what it was given: the number of messages and the last one's text."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = f"{len(messages)} messages; last: {messages[-1].text}"
        if stop:
            kwargs["stop"] = stop
        if kwargs:
            text += f"; options: {json.dumps(kwargs, sort_keys=True)}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def chat_body(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


BAD_REQUESTS = [
    ("malformed JSON", b'{"messages": [', 400, "invalid_json"),
    ("not an object", b"[1, 2]", 400, "invalid_json"),
    ("no messages", b"{}", 400, "invalid_value"),
    ("empty messages", b'{"messages": []}', 400, "invalid_value"),
    ("message without role", b'{"messages": [{"content": "Hi"}]}', 400, "invalid_value"),
    ("unknown role", b'{"messages": [{"role": "robot", "content": "Hi"}]}', 400, "invalid_value"),
    ("negative max_tokens", json.dumps(chat_body(max_tokens=-5)).encode(), 400, "invalid_value"),
    ("max_tokens over the cap", json.dumps(chat_body(max_tokens=5000)).encode(), 400,
     "max_tokens_too_large"),
    ("unknown model", json.dumps(chat_body(model="gpt-4o")).encode(), 404, "model_not_found"),
    ("two choices", json.dumps(chat_body(n=2)).encode(), 400, "invalid_value"),
    ("last message is not the user's",
     json.dumps({"messages": [{"role": "assistant", "content": "Hi"}]}).encode(), 400, None),
    ("image part", json.dumps({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "x"}}]}]}).encode(), 400, None),
    ("a 10 MB body", b'{"messages": "' + b"x" * 10_000_000 + b'"}', 413, "body_too_large"),
]  # fmt: skip


def test_bad_requests_get_openai_errors_and_the_server_keeps_serving(serve: Any) -> None:
    url = serve(create_app(FakeListChatModel(responses=["fine"]), model_id="m"))
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, body, status, code in BAD_REQUESTS:
            response = client.post(
                "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == status, name
            error = response.json()["error"]
            assert set(error) == {"message", "type", "code", "param"}, name
            assert error["message"], name
            assert error["type"] in ("invalid_request_error", "not_found_error"), name
            if code is not None:
                assert error["code"] == code, (name, error)
        ok = client.post("/v1/chat/completions", json=chat_body())
    assert ok.status_code == 200
    assert ok.json()["choices"][0]["message"]["content"] == "fine"


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(serve: Any) -> None:
    url = serve(
        create_app(
            FakeListChatModel(responses=["fine"]),
            model_id="m",
            limits=ServeLimits(max_body_bytes=1000),
        )
    )

    def pieces() -> Any:  # no Content-Length: the server counts what it reads
        yield b'{"messages": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = httpx.post(
        f"{url}/v1/chat/completions", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert httpx.post(f"{url}/v1/chat/completions", json=chat_body()).status_code == 200


def test_the_official_client_reads_the_errors_as_its_own_exceptions(serve: Any) -> None:
    url = serve(create_app(FakeListChatModel(responses=["fine"]), model_id="m"))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], max_tokens=-1
        )
    assert [m.id for m in client.models.list()] == ["m"]


def test_an_api_key_guards_every_api_route_and_is_never_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "s3cret-key-123"
    url = serve(create_app(FakeListChatModel(responses=["fine"] * 5), model_id="m", api_key=key))
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/v1/models", "/v1/sessions", "/v1/info"):
            missing = client.get(path)
            assert missing.status_code == 401, path
            assert missing.json()["error"]["type"] == "authentication_error"
            assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post(
            "/v1/chat/completions", json=chat_body(), headers={"Authorization": "Bearer wrong"}
        )
        assert wrong.status_code == 401
        assert (
            client.get("/v1/models", headers={"Authorization": f"Basic {key}"}).status_code == 401
        )
        # The page itself loads without the key; it asks for one when the API says 401.
        assert client.get("/").status_code == 200
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].message.content == "fine"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).models.list()
    assert key not in caplog.text


def test_cors_is_off_unless_origins_are_given(serve: Any) -> None:
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
    closed = serve(create_app(FakeListChatModel(responses=["x"])))
    response = httpx.options(f"{closed}/v1/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    opened = serve(
        create_app(FakeListChatModel(responses=["x"]), cors_origins=["http://app.example"])
    )
    response = httpx.options(f"{opened}/v1/chat/completions", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    other = httpx.options(
        f"{opened}/v1/chat/completions", headers={**preflight, "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    # With a key, the preflight (which carries none) still gets its CORS answer.
    keyed = serve(
        create_app(
            FakeListChatModel(responses=["x"]), api_key="k", cors_origins=["http://app.example"]
        )
    )
    response = httpx.options(f"{keyed}/v1/chat/completions", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://app.example"


def test_a_full_queue_answers_429_at_once_and_the_queued_requests_complete(
    serve: Any, held: HeldChat
) -> None:
    held.pieces = 5
    url = serve(create_app(held, model_id="m", limits=ServeLimits(max_queue=1)))
    results: dict[str, httpx.Response] = {}

    def post(name: str) -> None:
        results[name] = httpx.post(f"{url}/v1/chat/completions", json=chat_body(), timeout=60)

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert held.wait_started()
    second = threading.Thread(target=post, args=("second",))
    second.start()
    deadline = time.monotonic() + 10
    while httpx.get(f"{url}/v1/info").json()["queue"]["waiting"] < 1:
        assert time.monotonic() < deadline, "the second request never queued"
        time.sleep(0.05)
    started = time.monotonic()
    refused = httpx.post(f"{url}/v1/chat/completions", json=chat_body(), timeout=60)
    assert time.monotonic() - started < 2
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "queue_full"
    assert int(refused.headers["retry-after"]) >= 1
    held.release()
    first.join(30)
    second.join(30)
    for name in ("first", "second"):
        assert results[name].status_code == 200, name
        assert results[name].json()["choices"][0]["message"]["content"] == "tok " * 5
    assert httpx.get(f"{url}/v1/info").json()["queue"] == {
        "running": 0,
        "waiting": 0,
        "max_queue": 1,
    }


def test_a_client_that_leaves_mid_stream_stops_its_answer_and_frees_the_model(
    serve: Any, held: HeldChat
) -> None:
    held.pieces, held.delay_s = 400, 0.02  # 8 s if nobody stopped it
    held.release()
    url = serve(create_app(held, model_id="m", limits=ServeLimits(max_queue=0)))
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{url}/v1/chat/completions", json=chat_body(stream=True)
        ) as response,
    ):
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(6)]
    assert any('"tok "' in line for line in seen)
    left = time.monotonic()
    while not held.closed[0]:
        assert time.monotonic() - left < 2, "the answer went on after the client left"
        time.sleep(0.02)
    assert held.produced[0] < 100
    # max_queue=0: the next request is only taken if the first one let go of the model.
    held.pieces = 3
    again = httpx.post(f"{url}/v1/chat/completions", json=chat_body(), timeout=30)
    assert again.status_code == 200
    assert again.json()["choices"][0]["message"]["content"] == "tok " * 3


def test_a_request_past_its_timeout_is_stopped(serve: Any, held: HeldChat) -> None:
    held.pieces, held.delay_s = 200, 0.05  # 10 s
    held.release()
    url = serve(create_app(held, model_id="m", limits=ServeLimits(timeout_s=1.0)))
    started = time.monotonic()
    response = httpx.post(f"{url}/v1/chat/completions", json=chat_body(), timeout=30)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 4
    deadline = time.monotonic() + 2
    while not held.closed[0]:
        assert time.monotonic() < deadline, "the answer went on after its timeout"
        time.sleep(0.02)
    streamed = httpx.post(f"{url}/v1/chat/completions", json=chat_body(stream=True), timeout=30)
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert any(json.loads(e).get("error", {}).get("code") == "timeout" for e in events[:-1])


def test_a_session_keeps_the_conversation_so_a_client_sends_only_the_new_message(
    serve: Any, tmp_path: Path
) -> None:
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    url = serve(create_app(EchoChat(), store=store, model_id="m", system_prompt="Be brief."))
    with httpx.Client(base_url=url, timeout=30) as client:
        first = client.post(
            "/v1/chat/completions", json=chat_body("My name is Maarten.", user="s1")
        )
        second = client.post(
            "/v1/chat/completions",
            json=chat_body("What is my name?"),
            headers={"X-Session-Id": "s1"},
        )
        other = client.post("/v1/chat/completions", json=chat_body("Hello", user="s2"))
        # system + 1 new, then system + the first exchange + 1 new
        assert first.json()["choices"][0]["message"]["content"].startswith("2 messages")
        assert second.json()["choices"][0]["message"]["content"] == (
            "4 messages; last: What is my name?"
        )
        assert second.json()["localchain"]["session_id"] == "s1"
        assert other.json()["choices"][0]["message"]["content"].startswith("2 messages")
        listed = {s["id"]: s["messages"] for s in client.get("/v1/sessions").json()["data"]}
        assert listed == {"s1": 4, "s2": 2}
        session = client.get("/v1/sessions/s1").json()
        assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 2
        assert session["messages"][2]["content"] == "What is my name?"
        assert client.delete("/v1/sessions/s1").json()["deleted"] is True
        assert client.get("/v1/sessions/s1").status_code == 404
        assert client.delete("/v1/sessions/s1").status_code == 404
        assert client.get("/v1/sessions/nobody").json()["error"]["code"] == "session_not_found"
    # Stored in the SQLite file: another store on it sees what is left.
    assert [s.session_id for s in SQLiteSessionStore(tmp_path / "sessions.db").sessions()] == ["s2"]


def test_without_a_session_the_request_is_the_whole_conversation(serve: Any) -> None:
    url = serve(create_app(EchoChat(), model_id="m"))
    body = {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2 + 2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "times 3?"}], "temperature": 0.2, "max_tokens": 9,
        "seed": 7, "stop": ["\n"]}  # fmt: skip
    answer = httpx.post(f"{url}/v1/chat/completions", json=body).json()
    content = answer["choices"][0]["message"]["content"]
    assert content.startswith("4 messages; last: times 3?")
    options = json.loads(content.split("options: ", 1)[1])
    assert options == {"max_tokens": 9, "seed": 7, "stop": ["\n"], "temperature": 0.2}
    assert "localchain" not in answer
    assert httpx.get(f"{url}/v1/sessions").json()["data"] == []


def test_any_runnable_that_takes_messages_can_be_served_with_sessions(serve: Any) -> None:
    echo = RunnableLambda(
        lambda messages: f"{len(messages)} in view: {messages[-1].text}", name="echo_chain"
    )
    url = serve(create_app(echo))
    with httpx.Client(base_url=url, timeout=30) as client:
        info = client.get("/v1/info").json()
        assert (info["mode"], info["model"]) == ("runnable", "echo_chain")
        client.post("/v1/chat/completions", json=chat_body("one", user="r"))
        answer = client.post("/v1/chat/completions", json=chat_body("two", user="r")).json()
    assert answer["choices"][0]["message"]["content"] == "3 in view: two"


def test_a_chatbot_brings_its_memory_and_store(serve: Any, tmp_path: Path) -> None:
    store = SQLiteSessionStore(tmp_path / "bot.db")
    bot = Chatbot(EchoChat(), WindowMemory(k=1), store=store, system_prompt="Hi.")
    url = serve(create_app(bot))
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/v1/info").json()["memory"] == "window (k=1)"
        for text in ("a", "b", "c"):
            answer = client.post("/v1/chat/completions", json=chat_body(text, user="w")).json()
    # The window keeps one exchange in view: system + (b, answer) + c.
    assert answer["choices"][0]["message"]["content"] == "4 messages; last: c"
    assert store.sessions()[0].messages == 6


def test_create_app_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(ConfigError, match="cannot serve a int"):
        create_app(42)
    with pytest.raises(ValueError, match="unknown memory"):
        create_app(EchoChat(), memory="everything")
    with pytest.raises(ValueError, match="max_queue"):
        ServeLimits(max_queue=-1)


def test_the_page_and_its_assets_are_served_by_the_server_itself(serve: Any) -> None:
    url = serve(create_app(EchoChat()))
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/chat.js">' in page.text
    for asset in ("chat.js", "chat.css"):
        assert httpx.get(f"{url}/static/{asset}").status_code == 200
    assert httpx.get(f"{url}/static/missing.js").status_code == 404
    for name in ("index.html", "chat.js", "chat.css"):
        text = (SERVE_DIR / "static" / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, f"{name} loads from the network"
    assert httpx.get(f"{serve(create_app(EchoChat(), page=False))}/").status_code == 404
