"""Model backends and the one function that loads a chat model for any of them.

Built-in backends register through the same hook a plugin would use:

    >>> from localchain.models.registry import register_backend
    >>> @register_backend("echo")
    ... def make_echo(settings):
    ...     from langchain_core.language_models.fake_chat_models import FakeListChatModel
    ...     return FakeListChatModel(responses=["echo"])
    >>> load_chat_model(backend="echo").invoke("hi").content
    'echo'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel

from localchain.errors import ConfigError, MissingDependencyError
from localchain.settings import Settings, load_settings

__all__ = ["BackendFactory", "backends", "load_chat_model", "load_llm", "register_backend"]

BackendFactory = Callable[[Settings], BaseChatModel]
_BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Register a factory that builds a chat model for ``backend=name`` from settings.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> @register_backend("scripted")
        ... def make_scripted(settings):
        ...     return FakeListChatModel(responses=[f"temperature {settings.temperature}"])
        >>> load_chat_model(backend="scripted", temperature=0.5).invoke("hi").content
        'temperature 0.5'
    """

    def decorate(factory: BackendFactory) -> BackendFactory:
        _BACKENDS[name] = factory
        return factory

    return decorate


def backends() -> list[str]:
    """Names of the registered backends.

    Example:
        >>> {"llamacpp", "openai", "cohere"} <= set(backends())
        True
    """
    return sorted(_BACKENDS)


def resolve_settings(
    model: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    base_url: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for a load call: explicit arguments over ``settings`` over the environment."""
    given = {"model": os.fspath(model) if model is not None else None, "backend": backend,
             "base_url": base_url, **overrides}
    unknown = sorted(set(given) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings: {unknown}; known: {sorted(Settings.model_fields)}")
    if settings is None:
        settings = load_settings(**given)
    else:
        settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    if "backend" not in settings.model_fields_set and settings.base_url:
        settings = settings.model_copy(update={"backend": "openai"})
    return settings


def load_chat_model(
    model: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    base_url: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> BaseChatModel:
    """Load a LangChain chat model: a local GGUF, an OpenAI-compatible server, or Cohere.

    With no arguments: the embedded SmolLM2-135M-Instruct GGUF, or whatever
    ``LOCALCHAIN_*`` variables and ``localchain.toml`` select. ``model`` is a GGUF path
    (``llamacpp``) or a model name (remote backends); a ``base_url`` alone selects the
    OpenAI-compatible backend. Other keyword arguments are settings
    (``temperature=0``, ``n_ctx=2048``, ``chat_template="phi-3"``, ...).

    Example:
        >>> chat = load_chat_model(temperature=0, max_tokens=32)
        >>> chat.invoke("Say hi").content  # doctest: +SKIP
        'Hi! How can I help you today?'
        >>> remote = load_chat_model("local", base_url="http://127.0.0.1:8000/v1")
    """
    settings = resolve_settings(
        model, backend=backend, base_url=base_url, settings=settings, **overrides
    )
    factory = _BACKENDS.get(settings.backend)
    if factory is None:
        raise ConfigError(
            f"unknown backend {settings.backend!r}; registered: {', '.join(backends())}"
        )
    return factory(settings)


def load_llm(
    model: str | os.PathLike[str] | None = None,
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> Any:
    """A completion LLM (prompt text in, text out) over a local GGUF, for hand-written templates.

    Example:
        >>> llm = load_llm(max_tokens=16)
        >>> llm.invoke("<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n")  # doctest: +SKIP
    """
    from localchain.models.llamacpp import LlamaCppLLM

    settings = resolve_settings(model, settings=settings, **overrides)
    if settings.backend != "llamacpp":
        raise ConfigError("load_llm works with local GGUF models only (backend llamacpp)")
    return LlamaCppLLM.from_settings(settings)


@register_backend("llamacpp")
def _llamacpp(settings: Settings) -> BaseChatModel:
    from localchain.models.llamacpp import LlamaCppChat

    return LlamaCppChat.from_settings(settings)


@register_backend("openai")
def _openai(settings: Settings) -> BaseChatModel:
    from localchain.models.openai_compat import openai_chat_from_settings

    return openai_chat_from_settings(settings)


@register_backend("cohere")
def _cohere(settings: Settings) -> BaseChatModel:
    try:
        from langchain_cohere import ChatCohere
    except ImportError:
        raise MissingDependencyError("the Cohere backend", "langchain-cohere", "cohere") from None
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if not api_key and not os.environ.get("COHERE_API_KEY"):
        raise ConfigError("the cohere backend needs an API key (LOCALCHAIN_API_KEY or COHERE_API_KEY)")
    options: dict[str, Any] = {
        "model": settings.model or "command-r",
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "timeout_seconds": int(settings.timeout),
    }
    if api_key:
        options["cohere_api_key"] = api_key
    return ChatCohere(**options)
