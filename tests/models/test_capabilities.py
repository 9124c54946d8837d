"""One capability interface: what a model can do, asked the same way by every caller."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from localchain.errors import ConfigError
from localchain.models import LlamaCppChat, LlamaCppLLM
from localchain.models.capabilities import (
    ANSWER_SHARE,
    Capabilities,
    capabilities,
    with_max_tokens,
)


def test_a_foreign_model_gets_the_conservative_answer() -> None:
    caps = capabilities(FakeListChatModel(responses=["hi"]))
    assert caps == Capabilities()
    assert not caps.grammar and not caps.counts_tokens and not caps.continues_text
    assert caps.count_tokens("anything") is None
    assert caps.fits("a" * 100_000)  # nothing to check against: never refused here
    with pytest.raises(ConfigError, match="cannot continue a hand-written prompt"):
        caps.completion()
    with pytest.raises(ConfigError, match="does not show its prompt text"):
        caps.render([HumanMessage("hi")])


def test_a_remote_model_with_max_tokens_takes_the_option() -> None:
    remote = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="x", max_tokens=99)
    caps = capabilities(remote)
    assert (caps.grammar, caps.context_window, caps.max_tokens, caps.max_tokens_option) == (
        False, None, 99, True,
    )  # fmt: skip
    assert with_max_tokens(remote, 7).kwargs == {"max_tokens": 7}
    fake = FakeListChatModel(responses=["hi"])
    assert with_max_tokens(fake, 7) is fake  # no such option: the model itself


def test_one_answer_reserve_rule() -> None:
    # max_tokens, but never more than a quarter of the context.
    assert ANSWER_SHARE == 4
    assert Capabilities(context_window=4096, max_tokens=512).answer_reserve() == 512
    assert Capabilities(context_window=4096, max_tokens=4000).answer_reserve() == 1024
    assert Capabilities(context_window=4096, max_tokens=512).answer_reserve(2000) == 1024
    assert Capabilities(max_tokens=300).answer_reserve() == 300  # no context known
    caps = Capabilities(context_window=100, max_tokens=20, counter=lambda p: len(str(p)))
    assert caps.fits("x" * 80) and not caps.fits("x" * 81)
    assert caps.fits("x" * 100, reserve=0) and not caps.fits("x" * 96, reserve=5)


def test_a_scripted_model_declares_its_own() -> None:
    class Scripted(FakeListChatModel):
        def localchain_capabilities(self) -> Capabilities:
            return Capabilities(grammar=True, context_window=64, max_tokens=8)

    model = Scripted(responses=["x"])
    assert capabilities(model).grammar
    # A bound max_tokens is the budget the caller will get.
    assert capabilities(model.bind(max_tokens=3)).max_tokens == 3
    assert capabilities(model.bind(stop=["\n"]).bind(max_tokens=5)).context_window == 64


def test_llama_cpp_models(chat: LlamaCppChat) -> None:
    caps = capabilities(chat)
    assert caps.grammar and caps.counts_tokens and caps.continues_text
    assert caps.context_window == chat.context_window and caps.max_tokens == chat.max_tokens
    assert caps.chat_template == chat.template.name
    assert caps.info is chat.engine.info
    messages = [HumanMessage("What is 2 + 2?")]
    assert caps.count_tokens(messages) == chat.count_tokens(messages)
    assert caps.count_tokens("hello world") == chat.get_num_tokens("hello world")
    # The twin continues the rendered prompt on the same engine (one lock, one cache).
    twin = caps.completion(max_tokens=4)
    assert isinstance(twin, LlamaCppLLM) and twin.engine is chat.engine
    assert twin.max_tokens == 4 and twin.stop == [*chat.template.stop, *(chat.stop or [])]
    rendered = caps.render(messages)
    assert "What is 2 + 2?" in rendered
    if chat.engine.add_bos and chat.engine.bos_token:
        assert not rendered.startswith(chat.engine.bos_token)

    completion = LlamaCppLLM(model_path=chat.model_path, n_ctx=chat.n_ctx, n_batch=chat.n_batch)
    ccaps = capabilities(completion)
    assert ccaps.grammar and ccaps.count_tokens("hello") == completion.get_num_tokens("hello")
    assert not ccaps.continues_text
    with pytest.raises(TypeError, match="counts text prompts"):
        ccaps.count_tokens(messages)


def test_grammar_paths_run_on_a_scripted_model() -> None:
    """The RAG chain's grammar path, taken by a model that only declares the capability."""
    from localchain.chains import rag_chain
    from localchain.chains.citations import citation_grammar
    from localchain.retrievers import BM25Retriever

    seen: list[dict[str, Any]] = []

    class Scripted(FakeListChatModel):
        def localchain_capabilities(self) -> Capabilities:
            return Capabilities(grammar=True)

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
            seen.append(kw)
            yield from super()._stream(messages, stop, run_manager, **kw)

    llm = Scripted(responses=["It grossed $677 million [1]."])
    retriever = BM25Retriever.from_texts(
        ["The film grossed $677 million worldwide.", "Cats purr when they are content."], k=1
    )
    result = rag_chain(retriever, llm, grammar=True).invoke("How much did the film gross?")
    assert result["citations"] == [1]
    assert seen and seen[0]["grammar"] == citation_grammar(1)
