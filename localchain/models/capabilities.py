"""What a model can do, asked in one place: grammars, token counts, context size.

Chains, memories, agents, judges and rerankers need to know a few things about the model
they were given: may a call carry a GBNF ``grammar=``? How large is the context, and how
many tokens does a prompt take? Can a hand-written prompt be continued as plain text? They
ask :func:`capabilities` instead of testing for localchain's classes, so any model that
answers the question - a user's own, or a scripted one in a test - takes the same paths.

A model declares what it can do by implementing one method, ``localchain_capabilities()``,
returning :class:`Capabilities` (localchain's llama.cpp models do). Any other LangChain
model gets a conservative answer: no grammar, unknown context, ``max_tokens`` only when the
model has such a field (``ChatOpenAI`` does).

The answer budget is one rule for every caller (:meth:`Capabilities.answer_reserve`): a
prompt must leave room for ``max_tokens`` answer tokens, but never more than a quarter of the
context (:data:`ANSWER_SHARE`), so a large ``max_tokens`` cannot squeeze the prompt out.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> caps = capabilities(FakeListChatModel(responses=["hi"]))
    >>> caps.grammar, caps.context_window, caps.count_tokens("hello") is None
    (False, None, True)
    >>> Capabilities(grammar=True, context_window=4096, max_tokens=2048).answer_reserve()
    1024
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from langchain_core.language_models import BaseLLM
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding

from localchain.errors import ConfigError
from localchain.gguf import GGUFInfo

__all__ = ["ANSWER_SHARE", "Capabilities", "HasCapabilities", "capabilities", "with_max_tokens"]

ANSWER_SHARE = 4
"""The answer may keep at most 1/ANSWER_SHARE of the context; the prompt gets the rest."""

Prompt = str | Sequence[BaseMessage]
"""A prompt to count: plain text, or chat messages (counted with the chat template)."""


@dataclass(frozen=True)
class Capabilities:
    """What one model can do; built by the model (``localchain_capabilities()``).

    Example:
        >>> caps = Capabilities(grammar=True, context_window=2048, max_tokens=256,
        ...                     counter=lambda prompt: len(str(prompt).split()))
        >>> caps.count_tokens("three short words"), caps.answer_reserve()
        (3, 256)
        >>> caps.fits("three short words")
        True
    """

    grammar: bool = False
    """Calls may carry ``grammar=`` (GBNF text), and answers are decoded under it."""
    context_window: int | None = None
    """Tokens the loaded context holds; None when unknown (remote models)."""
    max_tokens: int | None = None
    """The model's answer budget in tokens; None when unknown."""
    max_tokens_option: bool = False
    """``bind(max_tokens=...)`` is accepted (see :func:`with_max_tokens`)."""
    counter: Callable[[Prompt], int] | None = field(default=None, repr=False)
    """Counts a prompt's tokens exactly (text, or messages with the chat template)."""
    renderer: Callable[[Sequence[BaseMessage]], str] | None = field(default=None, repr=False)
    """Messages as the prompt text the model sees (chat template applied, ready for the
    completion twin: no BOS text the twin adds itself)."""
    twin: Callable[..., BaseLLM] | None = field(default=None, repr=False)
    """Builds a completion model over the same weights and cache (keyword overrides)."""
    info: GGUFInfo | None = field(default=None, repr=False)
    """The GGUF file's metadata, for local models."""
    chat_template: str | None = None
    """The chat template's name, for local chat models."""
    parallel: int = 1
    """Calls the model answers together (llama.cpp's ``n_parallel``: batched decoding);
    callers with many independent calls (a judge, a reranker) run that many at once."""

    @property
    def counts_tokens(self) -> bool:
        """Whether :meth:`count_tokens` gives exact counts."""
        return self.counter is not None

    @property
    def continues_text(self) -> bool:
        """Whether a hand-written prompt can be continued (:meth:`render` + :meth:`completion`)."""
        return self.renderer is not None and self.twin is not None

    def count_tokens(self, prompt: Prompt) -> int | None:
        """Tokens ``prompt`` takes, or None when the model cannot count them."""
        return None if self.counter is None else self.counter(prompt)

    def answer_reserve(self, max_tokens: int | None = None) -> int:
        """Tokens a prompt must leave free for the answer: ``max_tokens`` (the model's own
        by default), at most 1/:data:`ANSWER_SHARE` of the context."""
        budget = self.max_tokens if max_tokens is None else max_tokens
        if self.context_window is None:
            return budget or 0
        return min(budget or 0, self.context_window // ANSWER_SHARE)

    def fits(self, prompt: Prompt, *, reserve: int | None = None) -> bool:
        """Whether ``prompt`` and the answer reserve fit the context (True when unknown)."""
        if self.context_window is None or self.counter is None:
            return True
        room = self.answer_reserve() if reserve is None else reserve
        return self.counter(prompt) + room <= self.context_window

    def render(self, messages: Sequence[BaseMessage]) -> str:
        """The prompt text the model sees for ``messages``, for the completion twin."""
        if self.renderer is None:
            raise ConfigError("this model does not show its prompt text (no chat template)")
        return self.renderer(messages)

    def completion(self, **overrides: Any) -> BaseLLM:
        """A completion model over the same weights, context and lock, which continues a
        hand-written prompt as written (``overrides`` set its fields, e.g. ``stop``)."""
        if self.twin is None:
            raise ConfigError(
                "this model cannot continue a hand-written prompt; grammar-guided steps need "
                "a local llama.cpp model"
            )
        return self.twin(**overrides)


@runtime_checkable
class HasCapabilities(Protocol):
    """A model that says what it can do.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> class Scripted(FakeListChatModel):
        ...     def localchain_capabilities(self) -> Capabilities:
        ...         return Capabilities(grammar=True)
        >>> capabilities(Scripted(responses=["yes"])).grammar
        True
    """

    def localchain_capabilities(self) -> Capabilities:
        """What this model can do."""
        ...


def capabilities(model: Any) -> Capabilities:
    """What ``model`` can do: a LangChain model, or one bound with ``.bind(...)``.

    A ``max_tokens`` bound on the model counts as its answer budget.

    Example:
        >>> from localchain.models import LlamaCppChat
        >>> caps = capabilities(LlamaCppChat(n_ctx=2048).bind(max_tokens=64))  # doctest: +SKIP
        >>> caps.grammar, caps.context_window, caps.max_tokens                  # doctest: +SKIP
        (True, 2048, 64)
    """
    bound: dict[str, Any] = {}
    while isinstance(model, RunnableBinding):
        bound = {**model.kwargs, **bound}
        model = model.bound
    if isinstance(model, HasCapabilities):
        caps = model.localchain_capabilities()
    else:
        fields = getattr(type(model), "model_fields", {})
        budget = getattr(model, "max_tokens", None) if "max_tokens" in fields else None
        caps = Capabilities(
            max_tokens=budget if isinstance(budget, int) else None,
            max_tokens_option="max_tokens" in fields,
        )
    if isinstance(bound.get("max_tokens"), int):
        caps = replace(caps, max_tokens=bound["max_tokens"])
    return caps


def with_max_tokens(model: Runnable[Any, Any], max_tokens: int) -> Runnable[Any, Any]:
    """``model`` bound to answer in at most ``max_tokens`` tokens, where it takes the
    option; the model itself otherwise.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> fake = FakeListChatModel(responses=["hi"])
        >>> with_max_tokens(fake, 16) is fake
        True
    """
    if capabilities(model).max_tokens_option:
        return model.bind(max_tokens=max_tokens)
    return model
