"""The server on the real embedded model, driven by the official openai client and by
LangChain's ChatOpenAI: plain, streamed and JSON-schema answers, sessions, RAG with
citations, the agent, tool calls, embeddings, an over-long prompt and a client that leaves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from localchain.agents import ReActAgent
from localchain.agents.tools import Calculator
from localchain.memory import SQLiteSessionStore
from localchain.models import LlamaCppChat
from localchain.retrievers import BM25Retriever, SeparatorChunker, load_documents
from localchain.serve import create_app

pytestmark = pytest.mark.slow

INTERSTELLAR = Path(__file__).resolve().parents[2] / "data" / "interstellar.txt"


@pytest.fixture
def client(serve: Any, chat: LlamaCppChat, tmp_path: Path) -> openai.OpenAI:
    url = serve(create_app(chat, store=SQLiteSessionStore(tmp_path / "s.db")))
    return openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)


def model_id(client: openai.OpenAI) -> str:
    return client.models.list().data[0].id


def test_a_plain_answer_has_the_openai_shape_and_its_usage(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=model_id(client),
        max_tokens=24,
        temperature=0,
        seed=42,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-")
    assert "Paris" in answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage.prompt_tokens > 5
    assert 0 < answer.usage.completion_tokens <= 24
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_a_streamed_answer_arrives_in_chunks_and_ends_with_usage_and_done(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model=model_id(client),
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Name three colors."}],
    )
    chunks = list(stream)
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length") and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= len(pieces) - 1
    # The raw stream ends with the [DONE] line.
    raw = httpx.post(
        f"{client.base_url}chat/completions",
        timeout=60,
        json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_a_json_schema_answer_is_decoded_under_its_grammar(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    answer = client.chat.completions.create(
        model=model_id(client),
        max_tokens=24,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "sum", "schema": schema}},
        messages=[{"role": "user", "content": "What is 2 + 3?"}],
    )
    parsed = json.loads(answer.choices[0].message.content)
    assert set(parsed) == {"answer"} and isinstance(parsed["answer"], int)


def test_a_session_continues_across_requests_that_send_only_the_new_message(
    client: openai.OpenAI,
) -> None:
    model = model_id(client)
    first = client.chat.completions.create(
        model=model,
        max_tokens=16,
        user="maarten",
        messages=[{"role": "user", "content": "Hi! My name is Maarten."}],
    )
    second = client.chat.completions.create(
        model=model,
        max_tokens=16,
        extra_headers={"X-Session-Id": "maarten"},
        messages=[{"role": "user", "content": "What is my name?"}],
    )
    # The first exchange was in the second prompt, and its tokens came from the KV cache.
    assert second.usage.prompt_tokens >= first.usage.prompt_tokens + first.usage.completion_tokens
    assert second.usage.prompt_tokens_details.cached_tokens > first.usage.prompt_tokens // 2
    stored = httpx.get(f"{client.base_url}sessions/maarten").json()["messages"]
    assert [m["content"] for m in stored[::2]] == ["Hi! My name is Maarten.", "What is my name?"]
    assert stored[1]["content"] == first.choices[0].message.content.strip()


def test_langchain_chat_openai_talks_to_it(client: openai.OpenAI) -> None:
    llm = ChatOpenAI(
        base_url=str(client.base_url),
        api_key="none",
        model=model_id(client),
        temperature=0,
        max_tokens=12,
        max_retries=0,
    )
    message = llm.invoke("Say hello.")
    assert message.content.strip()
    assert message.usage_metadata["input_tokens"] > 0
    streamed = list(llm.stream("Say hello."))
    assert len(streamed) > 2 and "".join(c.text for c in streamed).strip()


def test_tools_pass_through_to_the_model_tool_calling(client: openai.OpenAI) -> None:
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}  # fmt: skip
    answer = client.chat.completions.create(
        model=model_id(client),
        max_tokens=48,
        temperature=0,
        tools=[weather],
        tool_choice="required",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_a_prompt_longer_than_the_context_is_a_400_and_the_server_goes_on(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model_id(client),
            max_tokens=8,
            messages=[{"role": "user", "content": "word " * 5000}],
        )
    assert caught.value.body["code"] == "context_length_exceeded"
    answer = client.chat.completions.create(
        model=model_id(client), max_tokens=4, messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.choices[0].message.content


def test_a_client_leaving_mid_stream_frees_the_model_within_a_token(
    client: openai.OpenAI, chat: LlamaCppChat
) -> None:
    body = {
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": 400,
        "stream": True,
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream("POST", f"{client.base_url}chat/completions", json=body) as response,
    ):
        lines = response.iter_lines()
        for _ in range(8):
            next(lines)
    left = time.monotonic()
    # Left alone, the answer would run for 400 tokens (tens of seconds here); a token or
    # two is all it may take (the margin is for a loaded machine).
    assert chat.engine.lock.acquire(timeout=10), "the model was still generating"
    chat.engine.lock.release()
    assert time.monotonic() - left < 5
    answer = client.chat.completions.create(
        model=model_id(client), max_tokens=4, messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.choices[0].message.content


def test_embeddings_come_from_the_embedded_model(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a dog"])
    assert [d.index for d in result.data] == [0, 1]
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [384, 384]
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-3
    assert result.usage.prompt_tokens > 0
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="all-MiniLM-L6-v2", input=[])


def test_rag_mode_answers_with_citations_as_data_and_as_footnotes(
    serve: Any, chat: LlamaCppChat
) -> None:
    chunks = SeparatorChunker(".").split_documents(load_documents(INTERSTELLAR).documents)
    retriever = BM25Retriever.from_documents(chunks, k=3)
    url = serve(create_app(chat, rag=retriever))
    answer = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=120,
        json={"messages": [{"role": "user", "content": "How much did the film gross?"}]},
    ).json()
    assert answer["localchain"]["query"] == "How much did the film gross?"
    extra = answer["localchain"]
    assert extra["citations"], extra
    cited = [s for s in extra["sources"] if s["number"] in extra["citations"]]
    assert any("677" in s["text"] for s in cited)
    assert all(s["source"].endswith("interstellar.txt") for s in extra["sources"])
    content = answer["choices"][0]["message"]["content"]
    assert "\n\nSources:\n" in content
    assert f"[{extra['citations'][0]}] " in content.split("Sources:")[1]
    assert answer["usage"]["completion_tokens"] > 0


def test_agent_mode_streams_its_steps_then_the_answer(serve: Any, chat: LlamaCppChat) -> None:
    agent = ReActAgent(llm=chat, tools=[Calculator()], tool_choice="required", max_iterations=3)
    url = serve(create_app(agent))
    response = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=180,
        json={"messages": [{"role": "user", "content": "What is 12 * 34?"}], "stream": True},
    )
    chunks = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")
    ]
    steps = [c["localchain"]["step"] for c in chunks if "step" in c.get("localchain", {})]
    assert steps and steps[0]["tool"] == "calculator" and steps[0]["observation"] == "408"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "408" in text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["localchain"]["steps"] == steps
    # The run ended on an answer, not on a budget (the guard may end a repeated action).
    assert last["localchain"]["stopped_reason"] in ("final_answer", "repeated_action")


def test_a_batched_model_answers_as_many_requests_at_once_as_it_has_slots(serve: Any) -> None:
    import threading

    model = LlamaCppChat(temperature=0, max_tokens=12, n_ctx=512, n_parallel=2, seed=42)
    url = serve(create_app(model))
    assert httpx.get(f"{url}/v1/info").json()["queue"]["max_queue"] == 8
    model.engine.scheduler.peak_running = 0
    answers: list[dict[str, Any]] = []

    def ask(text: str) -> None:
        answers.append(
            httpx.post(
                f"{url}/v1/chat/completions",
                timeout=120,
                json={"messages": [{"role": "user", "content": text}], "max_tokens": 12},
            ).json()
        )

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("Name a fruit.", "Name a sea.")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [bool(a["choices"][0]["message"]["content"]) for a in answers] == [True, True]
    assert model.engine.scheduler.peak_running == 2
