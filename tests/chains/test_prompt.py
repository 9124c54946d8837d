"""prompt_chain on the real embedded model: chat template and hand-written template."""

from __future__ import annotations

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableLambda
from model_settings import TEST_CTX

from localchain import ChainInputError, LlamaCppLLM
from localchain.chains import prompt_chain, strip_text

CAPITAL = "What is the capital of {country}? Answer with one word."


@pytest.fixture(scope="module")
def completion() -> LlamaCppLLM:
    return LlamaCppLLM(temperature=0, max_tokens=24, n_ctx=TEST_CTX)


def test_chat_template_chain_answers(chat) -> None:
    chain = prompt_chain(CAPITAL, chat)
    assert "Paris" in chain.invoke({"country": "France"})
    assert "Paris" in chain.invoke("France")  # one variable: a bare value


def test_hand_written_template_with_a_completion_model(completion) -> None:
    # The book's first call returns nothing without the chat template; written by hand it works.
    chain = prompt_chain(
        "<|im_start|>user\n" + CAPITAL + "<|im_end|>\n<|im_start|>assistant\n", completion
    )
    assert "Paris" in chain.invoke({"country": "France"})


def test_the_books_business_name_template(chat) -> None:
    chain = prompt_chain("Create a funny name for a business that sells {product}.", chat)
    name = chain.invoke("ice cream")
    assert isinstance(name, str) and name == name.strip() and len(name) > 3


def test_stream_batch_and_async_agree_with_invoke(chat) -> None:
    chain = prompt_chain(CAPITAL, chat)
    answer = chain.invoke("France")
    assert "".join(chain.stream("France")) == answer
    assert chain.batch(["France", "France"]) == [answer, answer]


async def test_ainvoke(chat) -> None:
    assert "Paris" in await prompt_chain(CAPITAL, chat).ainvoke("France")


def test_composes_with_pipe(chat) -> None:
    chain = prompt_chain(CAPITAL, chat) | RunnableLambda(str.upper)
    assert "PARIS" in chain.invoke("France")


class Recorder(BaseCallbackHandler):
    """Keeps the messages each chat model call was given."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.calls.extend(messages)


def test_system_message_reaches_the_model(chat) -> None:
    recorder = Recorder()
    chain = prompt_chain("Say hi to {name}.", chat, system="You are a pirate.")
    chain.invoke({"name": "Ann"}, {"callbacks": [recorder]})
    assert [(m.type, m.content) for m in recorder.calls[0]] == [
        ("system", "You are a pirate."), ("human", "Say hi to Ann."),
    ]


def test_missing_variables_are_named(chat) -> None:
    chain = prompt_chain("Compare {a} and {b}.", chat)
    with pytest.raises(ChainInputError, match="missing 'b'") as err:
        chain.invoke({"a": "cats"})
    assert err.value.missing == ["b"]
    with pytest.raises(ChainInputError, match="expects a dict"):
        chain.invoke("cats")


@pytest.mark.parametrize("template", ["", "   ", 3])
def test_bad_templates(chat, template) -> None:
    with pytest.raises(ChainInputError, match="non-empty string"):
        prompt_chain(template, chat)


def test_system_needs_a_chat_model(completion) -> None:
    with pytest.raises(ChainInputError, match="needs a chat model"):
        prompt_chain("Hi {x}", completion, system="be nice")


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [(["  Par", "is  ", "\n"], "Paris"), (["a ", " ", "b"], "a  b"), (["", "  "], ""), ([], "")],
)
def test_strip_text_streams(chunks, expected) -> None:
    stripped = list(strip_text().transform(iter(chunks)))
    assert "".join(stripped) == expected
    assert all(piece == piece.lstrip() or i > 0 for i, piece in enumerate(stripped))
