"""A scripted chat model for the pure-logic tests (agent loop, RAG chains, judges, rerankers).

Import it the way the tests import ``model_settings``: ``from fakes import ScriptedChat``
(``tests/`` is on ``sys.path`` through ``tests/conftest.py``, rootdir-relative imports are not
used).

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> llm = ScriptedChat(replies=["first", ValueError("the model broke"), "last"])
    >>> llm.invoke("hi", grammar="root ::= x").text
    'first'
    >>> llm.invoke("again")
    Traceback (most recent call last):
    ValueError: the model broke
    >>> "".join(chunk.text for chunk in llm.stream("more"))
    'last'
    >>> [chunk.text for chunk in llm.stream("x") if chunk.text]  # three characters a piece
    ['las', 't']
    >>> llm.calls[0].kwargs["grammar"], llm.calls[0].messages == [HumanMessage("hi")]
    ('root ::= x', True)
    >>> len(llm.calls), llm.prompt_text(1)
    (4, 'again')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from localchain.models.capabilities import Capabilities

__all__ = ["Call", "Reply", "ScriptedChat", "word_count"]

Reply = str | BaseException | Callable[[list[BaseMessage]], str]
"""One scripted answer: a text, an exception to raise, or a function of the call's messages."""


@dataclass
class Call:
    """One call the model received."""

    messages: list[BaseMessage]
    """The messages of the call, as the model saw them."""
    stop: list[str] | None = None
    """The stop sequences of the call."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """The other keyword arguments (``grammar=``, ``temperature=``, bound options)."""

    def text(self) -> str:
        """All message texts of the call, joined by newlines."""
        return "\n".join(message.text for message in self.messages)


class ScriptedChat(BaseChatModel):
    """Answers from ``replies`` in turn and records every call; streams in small pieces.

    After the last reply, ``after_last`` decides: ``"repeat"`` the last one forever,
    ``"cycle"`` back to the first, or ``"fail"`` (an AssertionError: the test expected fewer
    calls). ``capabilities``, when given, is what the model declares it can do
    (``localchain_capabilities()``): grammar, context window, a token counter; without it the
    model declares nothing, like any LangChain model without a ``max_tokens`` field.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Reply]
    """The answers, used in turn."""
    after_last: Literal["repeat", "cycle", "fail"] = "repeat"
    """What the calls after the last reply get."""
    capabilities: Capabilities | None = None
    """What the model declares it can do; None declares nothing."""
    chunk_chars: int = 3
    """Characters per streamed piece."""
    delay_s: float = 0.0
    """Seconds each call takes before it answers (for timeouts and concurrency)."""
    model_name: str = "scripted"
    """The name judges and reports show."""
    calls: list[Call] = Field(default_factory=list)
    """Every call received, in order."""
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def localchain_capabilities(self) -> Capabilities:
        return self.capabilities if self.capabilities is not None else Capabilities()

    @property
    def stops(self) -> list[list[str] | None]:
        """The stop sequences of each call."""
        return [call.stop for call in self.calls]

    @property
    def prompts(self) -> list[str]:
        """The last message's text of each call."""
        return [str(call.messages[-1].content) for call in self.calls]

    def prompt_text(self, call: int = -1) -> str:
        """All message texts of one call, joined."""
        return self.calls[call].text()

    def _answer(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any) -> str:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            index = len(self.calls)
            self.calls.append(Call(list(messages), stop, dict(kwargs)))
        if index >= len(self.replies):
            if self.after_last == "fail" or not self.replies:
                raise AssertionError(
                    f"call {index + 1} to a model scripted with {len(self.replies)} replies"
                )
            index = index % len(self.replies) if self.after_last == "cycle" else -1
        reply = self.replies[index]
        if isinstance(reply, BaseException):
            raise reply
        return reply(list(messages)) if callable(reply) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._answer(messages, stop, kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._answer(messages, stop, kwargs)
        size = self.chunk_chars
        for start in range(0, len(text), size):
            yield ChatGenerationChunk(message=AIMessageChunk(text[start : start + size]))


def word_count(prompt: str | Sequence[BaseMessage]) -> int:
    """A token counter for declared capabilities: whitespace words of a text or messages."""
    if isinstance(prompt, str):
        return len(prompt.split())
    return sum(len(message.text.split()) for message in prompt)


class PromptRecorder(BaseCallbackHandler):
    """Keeps every prompt a completion model is given (``on_llm_start``), for tests that
    check what the model read."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.prompts.extend(prompts)
