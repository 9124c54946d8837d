"""The OpenAI wire format: request bodies, LangChain messages from them, and answers.

Only what a chat completion needs is modelled; fields a client may send that localchain
does not use (``presence_penalty``, ``logit_bias``, ...) are accepted and ignored, as
llama.cpp's own server does. Fields whose meaning localchain cannot honour (``n`` above 1,
image parts) are refused with a 400 rather than silently answered differently.

Example:
    >>> body = ChatCompletionRequest.model_validate(
    ...     {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})
    >>> [m.type for m in to_messages(body.messages)], body.call_options()["max_tokens"]
    (['human'], 8)
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ApiError",
    "ChatCompletionRequest",
    "ChatMessageIn",
    "EmbeddingRequest",
    "completion_id",
    "error_body",
    "message_content",
    "openai_tool_calls",
    "to_messages",
]


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "code"}}``.

    Example:
        >>> err = ApiError(404, "no model named 'gpt-4'", code="model_not_found")
        >>> err.body()["error"]["type"], err.status
        ('not_found_error', 404)
    """

    TYPES = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        413: "invalid_request_error",
        429: "rate_limit_error",
        503: "server_error",
        504: "timeout_error",
    }

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return error_body(
            self.message, self.TYPES.get(self.status, "server_error"), self.code, self.param
        )


def error_body(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "code", "param"}}`` as OpenAI's API writes it."""
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False
    """Send one more chunk before ``[DONE]`` with the usage and no choices."""


class ChatMessageIn(BaseModel):
    """One message of a request, as the OpenAI chat API writes it."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ChatCompletionRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    user: str | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice per request.")

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @property
    def answer_budget(self) -> int | None:
        """``max_completion_tokens`` (the newer name) or ``max_tokens``."""
        return self.max_completion_tokens or self.max_tokens

    def call_options(self) -> dict[str, Any]:
        """The sampling options the request sets, as LangChain call keyword arguments."""
        options: dict[str, Any] = {}
        for name in ("temperature", "top_p", "seed", "response_format"):
            value = getattr(self, name)
            if value is not None:
                options[name] = value
        if self.answer_budget is not None:
            options["max_tokens"] = self.answer_budget
        if self.stop:
            options["stop"] = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        if options.get("response_format", {}).get("type") == "text":
            del options["response_format"]
        return options


class EmbeddingRequest(BaseModel):
    """The body of ``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    input: str | list[str] = Field(...)
    encoding_format: Literal["float", "base64"] = "float"

    @property
    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if not texts:
            raise ApiError(400, "input is empty: give a string or a list of strings", param="input")
        if any(not isinstance(text, str) or not text.strip() for text in texts):
            raise ApiError(400, "every input must be a non-empty string", param="input")
        return texts


def message_content(message: ChatMessageIn) -> str:
    """The text of a message; content parts must all be text."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(
                400,
                f"only text content parts are supported, not {part.get('type')!r}",
                param="messages",
            )
        parts.append(part["text"])
    return "".join(parts)


def to_messages(messages: list[ChatMessageIn]) -> list[BaseMessage]:
    """LangChain messages for the OpenAI ones (tool calls and tool results included)."""
    converted: list[BaseMessage] = []
    for message in messages:
        text = message_content(message)
        if message.role in ("system", "developer"):
            converted.append(SystemMessage(text))
        elif message.role == "user":
            converted.append(HumanMessage(text))
        elif message.role == "assistant":
            converted.append(AIMessage(text, tool_calls=_lc_tool_calls(message.tool_calls)))
        else:
            if not message.tool_call_id:
                raise ApiError(400, "a tool message needs its tool_call_id", param="messages")
            converted.append(ToolMessage(text, tool_call_id=message.tool_call_id))
    return converted


def _lc_tool_calls(calls: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = []
    for call in calls or []:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        except (ValueError, TypeError) as err:
            raise ApiError(
                400, f"tool call arguments are not JSON: {err}", param="messages"
            ) from err
        parsed.append(
            {
                "name": function.get("name", ""),
                "args": args,
                "id": call.get("id") or completion_id("call"),
            }
        )
    return parsed


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LangChain tool calls in OpenAI's form (arguments as a JSON string).

    Example:
        >>> openai_tool_calls([{"name": "add", "args": {"a": 1}, "id": "c1"}])[0]["function"]
        {'name': 'add', 'arguments': '{"a": 1}'}
    """
    return [
        {
            "index": index,
            "id": call.get("id") or completion_id("call"),
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call.get("args", {}))},
        }
        for index, call in enumerate(calls)
    ]


def completion_id(prefix: str = "chatcmpl") -> str:
    """A fresh id such as ``chatcmpl-3f9a0c...``."""
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())
