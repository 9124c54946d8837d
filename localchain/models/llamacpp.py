"""LangChain models over a local GGUF through llama.cpp: a chat model and a completion LLM.

Both go through a shared :class:`~localchain.models.engine.LlamaCppEngine`, so they are
safe to call from many threads or tasks at once (callers queue on the model lock), reuse
the KV cache across calls with a common prefix, and can decode under a grammar.

Example:
    >>> from localchain.models import LlamaCppChat
    >>> chat = LlamaCppChat(temperature=0)          # the embedded SmolLM2-135M-Instruct
    >>> chat.invoke("What is the capital of France?").content  # doctest: +SKIP
    'The capital of France is Paris.'
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import fields, replace
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    generate_from_stream,
)
from langchain_core.language_models.llms import LLM
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult, GenerationChunk
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from llama_cpp import LlamaGrammar
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from localchain.errors import ModelNotFoundError, StructuredOutputError
from localchain.models.aio import iterate_in_thread
from localchain.models.capabilities import Capabilities
from localchain.models.embedded import EMBEDDED_MODEL_NAME, embedded_model_path
from localchain.models.engine import GenerationStats, LlamaCppEngine, get_engine, grammar_text
from localchain.models.templates import ChatTemplate, resolve_chat_template
from localchain.sampling import DEFAULT_SAMPLING, SamplingParams
from localchain.settings import Settings

__all__ = ["LlamaCppChat", "LlamaCppLLM", "messages_to_dicts"]

_SAMPLING_KEYS = {f.name for f in fields(SamplingParams)}
_GRAMMAR_KEYS = {"grammar", "json_schema", "response_format"}


class _LlamaCppBase(BaseModel):
    """Fields and plumbing shared by the chat and the completion model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str | None = None
    """GGUF file; None means the embedded SmolLM2-135M-Instruct."""
    n_ctx: int = Field(4096, ge=16)
    """Context window in tokens."""
    n_threads: int | None = Field(None, ge=1)
    """CPU threads (None: all cores)."""
    n_batch: int = Field(512, ge=1)
    """Prompt tokens per llama.cpp batch."""
    temperature: float = Field(DEFAULT_SAMPLING.temperature, ge=0.0, le=2.0)
    """0 means greedy decoding."""
    top_p: float = Field(DEFAULT_SAMPLING.top_p, gt=0.0, le=1.0)
    top_k: int = Field(DEFAULT_SAMPLING.top_k, ge=0)
    repeat_penalty: float = Field(DEFAULT_SAMPLING.repeat_penalty, ge=0.0)
    max_tokens: int = Field(DEFAULT_SAMPLING.max_tokens, ge=1)
    """Most tokens per answer (lowered automatically to what the context has left)."""
    seed: int = DEFAULT_SAMPLING.seed
    stop: list[str] | None = None
    """Extra strings that end the answer."""
    grammar: str | None = None
    """A GBNF grammar every answer is decoded under (per call: ``grammar=...``)."""
    verbose: bool = False
    """Let llama.cpp log to stderr."""

    _engine: LlamaCppEngine | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        # Loaded after validation, so load errors reach the caller as themselves rather
        # than wrapped in a pydantic ValidationError.
        self._load()

    def _load(self) -> None:
        path = self.model_path or str(embedded_model_path())
        if not os.path.isfile(path):
            raise ModelNotFoundError(path)
        self._engine = get_engine(
            path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads or os.cpu_count() or 1,
            n_batch=self.n_batch,
            seed=self.seed,
            verbose=self.verbose,
        )

    @property
    def engine(self) -> LlamaCppEngine:
        """The loaded engine (model, context and lock)."""
        assert self._engine is not None
        return self._engine

    @property
    def context_window(self) -> int:
        """Tokens the loaded context holds: ``n_ctx`` as llama.cpp rounded it (up to a
        multiple of 256)."""
        return self.engine.n_ctx

    @property
    def model_name(self) -> str:
        """File name of the model without ``.gguf``."""
        return EMBEDDED_MODEL_NAME if self.model_path is None else self.engine.path.stem

    def localchain_capabilities(self) -> Capabilities:
        """Grammar decoding, exact token counts and the loaded context size."""
        return Capabilities(
            grammar=True,
            context_window=self.context_window,
            max_tokens=self.max_tokens,
            max_tokens_option=True,
            counter=self._count_prompt,
            info=self.engine.info,
        )

    def _count_prompt(self, prompt: str | Sequence[BaseMessage]) -> int:
        if isinstance(prompt, str):
            return self.get_num_tokens(prompt)
        raise TypeError(f"{type(self).__name__} counts text prompts, not messages")

    def _split_kwargs(
        self, kwargs: dict[str, Any]
    ) -> tuple[SamplingParams, str | None]:
        unknown = {k for k in kwargs if k not in _SAMPLING_KEYS | _GRAMMAR_KEYS}
        unknown = {k for k in unknown if not k.startswith("ls_")}
        if unknown:
            raise TypeError(
                f"unsupported call options for a llama.cpp model: {sorted(unknown)}; "
                f"supported: {sorted(_SAMPLING_KEYS | _GRAMMAR_KEYS)}"
            )
        params = SamplingParams(
            **{key: kwargs.get(key, getattr(self, key)) for key in _SAMPLING_KEYS}
        )
        constraint = {k: kwargs[k] for k in _GRAMMAR_KEYS if kwargs.get(k) is not None}
        if not constraint and self.grammar:
            constraint = {"grammar": self.grammar}
        return params, grammar_text(**constraint)

    def _prepare(self, kwargs: dict[str, Any]) -> tuple[SamplingParams, LlamaGrammar | None]:
        params, gbnf = self._split_kwargs(kwargs)
        return params, self.engine.grammar(gbnf) if gbnf else None

    def _run(
        self, tokens: list[int], stop: list[str], kwargs: dict[str, Any]
    ) -> Iterator[str | GenerationStats]:
        params, grammar = self._prepare(kwargs)
        return self.engine.stream(tokens, params, stop=stop, grammar=grammar)

    def _complete(
        self, tokens: list[int], stop: list[str], kwargs: dict[str, Any]
    ) -> tuple[str, GenerationStats]:
        params, grammar = self._prepare(kwargs)
        return self.engine.complete(tokens, params, stop=stop, grammar=grammar)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Any:
        """Build from a :class:`~localchain.settings.Settings` (plus overrides)."""
        values: dict[str, Any] = {
            "model_path": settings.model,
            "n_ctx": settings.n_ctx,
            "n_threads": settings.n_threads,
            "n_batch": settings.n_batch,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": settings.top_k,
            "repeat_penalty": settings.repeat_penalty,
            "max_tokens": settings.max_tokens,
            "seed": settings.seed,
            "verbose": settings.verbose,
        }
        if "chat_template" in cls.model_fields:
            values["chat_template"] = settings.chat_template
        values.update(overrides)
        return cls(**values)


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block.get("text", ""))
    return "".join(parts)


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as ``{"role", "content"}`` dicts for a chat template."""
    roles = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
    out = []
    for message in messages:
        role = message.role if isinstance(message, ChatMessage) else roles.get(message.type)
        if role is None:
            raise ValueError(f"cannot put a {message.type!r} message into a chat template")
        out.append({"role": role, "content": _text(message.content)})
    return out


class LlamaCppChat(_LlamaCppBase, BaseChatModel):
    """A LangChain chat model over a local GGUF model, with the model's own chat template.

    invoke / stream / batch / ainvoke / astream all work; ``usage_metadata`` has the token
    counts and ``response_metadata["timings"]`` the timings and reused prefix tokens.
    Per call options: ``temperature``, ``max_tokens``, ``top_p``, ``top_k``,
    ``repeat_penalty``, ``seed``, and one constraint: ``grammar`` (GBNF), ``json_schema``
    or ``response_format``.

    Example:
        >>> chat = LlamaCppChat(temperature=0, max_tokens=64)
        >>> reply = chat.invoke([("system", "Answer briefly."), ("user", "Name a colour.")])
        >>> reply.usage_metadata["output_tokens"] > 0
        True
        >>> chat.invoke("Is the sky blue?", grammar='root ::= "yes" | "no"').content in {"yes", "no"}
        True
    """

    chat_template: str | None = None
    """A built-in template name or a Jinja chat template; None uses the GGUF's own."""

    _template: ChatTemplate | None = PrivateAttr(default=None)

    def _load(self) -> None:
        super()._load()
        engine = self.engine
        self._template = resolve_chat_template(
            self.chat_template,
            gguf_template=engine.info.chat_template,
            bos_token=engine.bos_token,
            eos_token=engine.eos_token,
        )

    @property
    def _llm_type(self) -> str:
        return "localchain-llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n_ctx": self.n_ctx,
            "chat_template": self.template.name,
        }

    @property
    def template(self) -> ChatTemplate:
        """The chat template in use."""
        assert self._template is not None
        return self._template

    def render(self, messages: Sequence[BaseMessage]) -> str:
        """The exact prompt text the model sees for these messages."""
        return self.template.render(messages_to_dicts(messages))

    def count_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Prompt tokens for these messages, template included."""
        return len(self._tokens(messages))

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return self.count_tokens(messages)

    def localchain_capabilities(self) -> Capabilities:
        """As the completion model's, plus the chat template and a completion twin."""
        return replace(
            super().localchain_capabilities(),
            renderer=self._render_for_twin,
            twin=self.completion_twin,
            chat_template=self.template.name,
        )

    def _count_prompt(self, prompt: str | Sequence[BaseMessage]) -> int:
        if isinstance(prompt, str):
            return self.get_num_tokens(prompt)
        return self.count_tokens(prompt)

    def _render_for_twin(self, messages: Sequence[BaseMessage]) -> str:
        rendered = self.render(messages)
        engine = self.engine
        # The completion twin adds BOS itself when the model wants one; the template may
        # have written it as text already.
        if engine.add_bos and engine.bos_token and rendered.startswith(engine.bos_token):
            rendered = rendered[len(engine.bos_token) :]
        return rendered

    def completion_twin(self, **overrides: Any) -> LlamaCppLLM:
        """A completion model over the *same* engine (one lock, one KV cache) with this
        model's sampling settings and stop strings: it continues hand-written prompt text,
        e.g. a turn the caller has started for the model.

        Example:
            >>> chat = LlamaCppChat(n_ctx=2048)
            >>> twin = chat.completion_twin(max_tokens=8)
            >>> twin.engine is chat.engine, twin.max_tokens
            (True, 8)
        """
        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in _LlamaCppBase.model_fields
            if name not in ("grammar", "stop")
        }
        values["stop"] = [*self.template.stop, *(self.stop or [])]
        values.update(overrides)
        return LlamaCppLLM(**values)

    def get_num_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text, add_bos=False))

    def _tokens(self, messages: Sequence[BaseMessage]) -> list[int]:
        # The template writes BOS itself where the model wants one (added_special).
        return self.engine.tokenize(self.render(messages), add_bos=False)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for item in self._run(self._tokens(messages), self._stops(stop), kwargs):
            if isinstance(item, GenerationStats):
                yield self._final_chunk(item)
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=item))
            if run_manager:
                run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk

    def _stops(self, stop: list[str] | None) -> list[str]:
        return [*self.template.stop, *(self.stop or []), *(stop or [])]

    def _final_chunk(self, stats: GenerationStats) -> ChatGenerationChunk:
        usage = {
            "input_tokens": stats.prompt_tokens,
            "output_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens,
            "input_token_details": {"cache_read": stats.cached_tokens},
        }
        metadata = {
            "model_name": self.model_name,
            "finish_reason": stats.finish_reason,
            "chat_template": self.template.name,
            "timings": stats.as_metadata(),
        }
        message = AIMessageChunk(
            content="", usage_metadata=usage, response_metadata=metadata, chunk_position="last"
        )
        return ChatGenerationChunk(
            message=message, generation_info={"finish_reason": stats.finish_reason}
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # LangChain itself switches to _stream when a callback wants tokens.
        text, stats = self._complete(self._tokens(messages), self._stops(stop), kwargs)
        final = self._final_chunk(stats)
        return generate_from_stream(
            iter([ChatGenerationChunk(message=AIMessageChunk(content=text)), final])
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        chunks = iterate_in_thread(lambda: self._stream(messages, stop, None, **kwargs))
        async for chunk in chunks:
            if run_manager and chunk.message.content:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # On a thread of its own, like _astream: waiting for the model lock must not
        # occupy the event loop's shared executor.
        results = iterate_in_thread(lambda: iter([self._generate(messages, stop, None, **kwargs)]))
        return [result async for result in results][0]

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """A runnable whose answers are decoded under the schema's grammar and validated.

        ``schema`` is a pydantic model class (returns instances) or a JSON schema dict
        (returns dicts). ``method="json_mode"`` only forces valid JSON.

        Example:
            >>> from pydantic import BaseModel
            >>> class City(BaseModel):
            ...     name: str
            ...     country: str
            >>> LlamaCppChat().with_structured_output(City).invoke("Paris?")  # doctest: +SKIP
            City(name='Paris', country='France')
        """
        kwargs.pop("strict", None)  # the grammar is always strict
        if kwargs:
            raise TypeError(f"unsupported arguments: {sorted(kwargs)}")
        if method == "json_schema":
            bound = self.bind(json_schema=_json_schema_of(schema))
        elif method == "json_mode":
            bound = self.bind(response_format={"type": "json_object"})
        else:
            raise ValueError(f"method must be 'json_schema' or 'json_mode', not {method!r}")
        parser = RunnableLambda(lambda message: parse_structured(message, schema))
        if not include_raw:
            return bound | parser
        parse_raw = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=bound) | parse_raw.with_fallbacks(
            [keep_raw], exception_key="parsing_error"
        )


def _json_schema_of(schema: dict[str, Any] | type) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    raise TypeError(f"schema must be a pydantic model class or a JSON schema dict, not {schema!r}")


class _StructuredParseError(StructuredOutputError, OutputParserException):
    """A StructuredOutputError that LangChain's fallbacks also recognise."""

    def __init__(self, schema: str, raw: str, reason: str) -> None:
        StructuredOutputError.__init__(self, schema, raw, reason)
        self.llm_output = raw
        self.observation = reason
        self.send_to_llm = False


def parse_structured(message: AIMessage, schema: dict[str, Any] | type) -> Any:
    """Parse and validate a JSON answer against ``schema`` (pydantic class or dict).

    Raises :class:`~localchain.errors.StructuredOutputError` (also a LangChain
    ``OutputParserException``) with the raw answer when it is not valid.

    Example:
        >>> from langchain_core.messages import AIMessage
        >>> from pydantic import BaseModel
        >>> class City(BaseModel):
        ...     name: str
        ...     country: str
        >>> parse_structured(AIMessage('{"name": "Paris", "country": "France"}'), City)
        City(name='Paris', country='France')
        >>> parse_structured(AIMessage('{"name": "Paris"}'), {"type": "object"})
        {'name': 'Paris'}
    """
    raw = _text(message.content)
    name = schema.__name__ if isinstance(schema, type) else schema.get("title", "the schema")
    finish = message.response_metadata.get("finish_reason")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        reason = f"not JSON ({err})"
        if finish == "length":
            reason += "; the answer was cut off at max_tokens"
        raise _StructuredParseError(name, raw, reason) from None
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            return schema.model_validate(data)
        except ValidationError as err:
            raise _StructuredParseError(name, raw, str(err)) from None
    return data


class LlamaCppLLM(_LlamaCppBase, LLM):
    """A LangChain completion LLM over a local GGUF: the prompt text is sent as written.

    Use it with a hand-written template, as in the book's Phi-3 example. The same engine,
    lock and grammar options as :class:`LlamaCppChat`.

    Example:
        >>> from langchain_core.prompts import PromptTemplate
        >>> llm = LlamaCppLLM(max_tokens=32)
        >>> prompt = PromptTemplate.from_template(
        ...     "<|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n")
        >>> answer = (prompt | llm).invoke({"question": "Say hello."})  # doctest: +SKIP
    """

    @property
    def _llm_type(self) -> str:
        return "localchain-llamacpp-completion"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model_name, "temperature": self.temperature}

    def get_num_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text, add_bos=self.engine.add_bos))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        tokens = self.engine.tokenize(prompt, add_bos=self.engine.add_bos)
        stops = [*(self.stop or []), *(stop or [])]
        for item in self._run(tokens, stops, kwargs):
            if isinstance(item, GenerationStats):
                yield GenerationChunk(
                    text="",
                    generation_info={
                        "finish_reason": item.finish_reason,
                        "usage": {
                            "prompt_tokens": item.prompt_tokens,
                            "completion_tokens": item.completion_tokens,
                        },
                        "timings": item.as_metadata(),
                    },
                )
                continue
            chunk = GenerationChunk(text=item)
            if run_manager:
                run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        tokens = self.engine.tokenize(prompt, add_bos=self.engine.add_bos)
        text, _stats = self._complete(tokens, [*(self.stop or []), *(stop or [])], kwargs)
        return text

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        async for chunk in iterate_in_thread(lambda: self._stream(prompt, stop, None, **kwargs)):
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _acall(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        results = iterate_in_thread(lambda: iter([self._call(prompt, stop, None, **kwargs)]))
        return [result async for result in results][0]
