"""LlamaCppChat on the real embedded GGUF: answers, streaming, async, metadata, templates."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from model_settings import TEST_CTX

from localchain.errors import ConfigError, ContextOverflowError
from localchain.models import LlamaCppChat

FRANCE = "What is the capital of France? Answer with one word."


def test_answers_a_chat_prompt(chat: LlamaCppChat) -> None:
    reply = chat.invoke(FRANCE)
    assert isinstance(reply, AIMessage)
    assert "Paris" in reply.content


def test_usage_and_timings_in_metadata(chat: LlamaCppChat) -> None:
    reply = chat.invoke("What is 2 + 2?")
    assert "4" in reply.content
    usage = reply.usage_metadata
    assert usage["input_tokens"] == chat.count_tokens([HumanMessage("What is 2 + 2?")])
    assert 0 < usage["output_tokens"] <= 48
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    meta = reply.response_metadata
    assert meta["finish_reason"] == "stop"
    assert meta["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert meta["chat_template"] == "gguf (chatml)"
    timings = meta["timings"]
    assert timings["prompt_eval_s"] > 0 and timings["generation_s"] >= 0
    assert timings["total_s"] == pytest.approx(
        timings["prompt_eval_s"] + timings["generation_s"], abs=1e-3
    )


def test_max_tokens_cuts_with_length(chat: LlamaCppChat) -> None:
    reply = chat.invoke("Write a long story about a dragon.", max_tokens=5)
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata["output_tokens"] == 5


def test_stream_joins_to_invoke(chat: LlamaCppChat) -> None:
    question = "Name three animals that live in the sea."
    expected = chat.invoke(question).content
    chunks = [chunk.content for chunk in chat.stream(question)]
    assert len([c for c in chunks if c]) > 3
    assert "".join(chunks) == expected


def test_batch(chat: LlamaCppChat) -> None:
    replies = chat.batch([FRANCE, "What is 2 + 2?"])
    assert "Paris" in replies[0].content
    assert "4" in replies[1].content


async def test_ainvoke_and_astream(chat: LlamaCppChat) -> None:
    expected = chat.invoke(FRANCE).content
    reply = await chat.ainvoke(FRANCE)
    assert reply.content == expected
    chunks = [chunk.content async for chunk in chat.astream(FRANCE)]
    assert len(chunks) > 1
    assert "".join(chunks) == expected


def test_system_message_and_prompt_template(chat: LlamaCppChat) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer with a single word."), ("user", "{question}")]
    )
    rendered = chat.render(prompt.invoke({"question": "Capital of France?"}).to_messages())
    assert rendered.startswith("<|im_start|>system\nYou answer with a single word.<|im_end|>")
    assert rendered.endswith("<|im_start|>assistant\n")
    reply = (prompt | chat).invoke({"question": "What is the capital of France?"})
    assert "Paris" in reply.content


def test_gguf_template_adds_default_system_prompt(chat: LlamaCppChat) -> None:
    rendered = chat.render([HumanMessage("Hi")])
    assert rendered == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_prefix_reuse(chat: LlamaCppChat) -> None:
    history = [
        SystemMessage("You are a helpful assistant. " * 20),
        HumanMessage("Hi! My name is Maarten. What is 1 + 1?"),
    ]
    first = chat.invoke(history)
    first_prompt = first.usage_metadata["input_tokens"]
    history += [first, HumanMessage("What is my name?")]
    second = chat.invoke(history)
    cached = second.usage_metadata["input_token_details"]["cache_read"]
    # Everything up to the first answer was already in the KV cache.
    assert cached >= first_prompt
    assert second.response_metadata["timings"]["cached_tokens"] == cached
    chat.engine.reset()
    third = chat.invoke(history)
    assert third.usage_metadata["input_token_details"]["cache_read"] == 0
    assert third.usage_metadata["input_tokens"] == second.usage_metadata["input_tokens"]


def test_prompt_longer_than_context(chat: LlamaCppChat) -> None:
    with pytest.raises(ContextOverflowError) as caught:
        chat.invoke("word " * 3000)
    err = caught.value
    assert err.n_ctx == TEST_CTX
    assert err.prompt_tokens > TEST_CTX
    assert f"{err.prompt_tokens} tokens" in str(err) and f"{TEST_CTX} tokens" in str(err)
    # The model is still usable afterwards.
    assert "Paris" in chat.invoke(FRANCE).content


def test_long_prompt_near_context_limit_clamps_answer(chat: LlamaCppChat) -> None:
    words = "word " * 1900
    prompt_tokens = chat.count_tokens([HumanMessage(words)])
    assert prompt_tokens < TEST_CTX
    reply = chat.invoke(words, max_tokens=500)
    assert reply.usage_metadata["output_tokens"] <= TEST_CTX - prompt_tokens


def test_builtin_phi3_template_renders_book_format() -> None:
    phi = LlamaCppChat(n_ctx=TEST_CTX, chat_template="phi-3", max_tokens=8)
    assert phi.template.name == "phi-3"
    # The template starts with the model's own BOS token (SmolLM2's is <|im_start|>).
    assert phi.render([HumanMessage("Hello")]) == (
        phi.engine.bos_token + "<|user|>\nHello<|end|>\n<|assistant|>\n"
    )
    assert "<|end|>" in phi.template.stop
    reply = phi.invoke("Hello")
    assert isinstance(reply.content, str)
    assert reply.response_metadata["chat_template"] == "phi-3"


def test_hand_written_jinja_template() -> None:
    template = (
        "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}### assistant:"
    )
    custom = LlamaCppChat(n_ctx=TEST_CTX, chat_template=template, max_tokens=8)
    assert custom.template.name == "custom"
    assert custom.render([SystemMessage("Be brief."), HumanMessage("Hi")]) == (
        "### system: Be brief.\n### user: Hi\n### assistant:"
    )
    assert custom.invoke("Hi").usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("bad", ["not-a-template-name", "{% for %}"])
def test_bad_template_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="template"):
        LlamaCppChat(n_ctx=TEST_CTX, chat_template=bad)


def test_unknown_call_option(chat: LlamaCppChat) -> None:
    with pytest.raises(TypeError, match="unsupported call options.*frobnicate"):
        chat.invoke("Hi", frobnicate=True)
