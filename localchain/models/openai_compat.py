"""OpenAI-compatible servers (llama.cpp's server, vLLM, OpenAI) through langchain-openai.

:class:`OpenAICompatibleChat` is ``ChatOpenAI`` with one change: a server that cannot be
reached, or does not answer within ``timeout``, raises
:class:`~localchain.errors.BackendConnectionError` naming the URL and the limit.

Example:
    >>> chat = OpenAICompatibleChat(
    ...     model="local", base_url="http://127.0.0.1:8000/v1", api_key="none", timeout=30)
    >>> chat.invoke("Hello")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from localchain.errors import BackendConnectionError
from localchain.settings import Settings

__all__ = ["OpenAICompatibleChat", "openai_chat_from_settings"]


class OpenAICompatibleChat(ChatOpenAI):
    """``ChatOpenAI`` whose connection failures are clear localchain errors.

    Example:
        >>> from localchain.errors import BackendConnectionError
        >>> chat = OpenAICompatibleChat(model="smollm2", base_url="http://127.0.0.1:9/v1",
        ...                             api_key="none", timeout=5, max_retries=0)
        >>> try:
        ...     chat.invoke("Hello")                 # nothing listens on port 9
        ... except BackendConnectionError as err:
        ...     print(err.url, err.timeout)
        http://127.0.0.1:9/v1 5.0
    """

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except openai.APIConnectionError as err:
            timeout = (
                self.request_timeout if isinstance(self.request_timeout, (int, float)) else None
            )
            kind = "timed out" if isinstance(err, openai.APITimeoutError) else "connection failed"
            cause = err.__cause__ or err
            raise BackendConnectionError(
                str(self.openai_api_base), f"{kind} ({cause})", timeout=timeout
            ) from err

    def _get_request_payload(
        self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict:
        """OpenAI's payload, with ``""`` for the content of an assistant message that only
        calls tools: OpenAI accepts ``null`` there, llama-cpp-python's server rejects it."""
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        for message in payload.get("messages", []):
            if message.get("role") == "assistant" and message.get("content") is None:
                message["content"] = ""
        return payload

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with self._translate_errors():
            return super()._generate(*args, **kwargs)

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with self._translate_errors():
            return await super()._agenerate(*args, **kwargs)

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._translate_errors():
            yield from super()._stream(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        with self._translate_errors():
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk


def openai_chat_from_settings(settings: Settings) -> OpenAICompatibleChat:
    """An OpenAI-compatible chat model configured from settings."""
    from localchain.errors import ConfigError

    if not settings.base_url:
        raise ConfigError(
            "the openai backend needs base_url (LOCALCHAIN_BASE_URL), e.g. http://127.0.0.1:8000/v1"
        )
    api_key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
    return OpenAICompatibleChat(
        model=settings.model or "local",
        base_url=settings.base_url,
        api_key=api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
        stream_usage=True,
    )
