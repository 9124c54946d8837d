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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
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
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult, GenerationChunk
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema
from llama_cpp import LlamaGrammar
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic.v1 import BaseModel as V1BaseModel
from pydantic.v1 import ValidationError as V1ValidationError

from localchain.errors import ModelNotFoundError, StructuredOutputError, ToolBindingError
from localchain.models.aio import iterate_in_thread
from localchain.models.capabilities import Capabilities
from localchain.models.embedded import EMBEDDED_MODEL_NAME, embedded_model_path
from localchain.models.engine import GenerationStats, LlamaCppEngine, get_engine, grammar_text
from localchain.models.templates import ChatTemplate, resolve_chat_template
from localchain.models.tool_calling import (
    HERMES,
    STRING_LIMIT,
    TOOL_PROMPT,
    ToolCallFormat,
    ToolCallStream,
    ToolChoice,
    calls_grammar,
    conversation_dicts,
    conversation_view,
    described_arguments,
    message_text,
    normalise_tool_choice,
    tool_format_of,
    tool_offered,
    tool_specs,
)
from localchain.sampling import DEFAULT_SAMPLING, SamplingParams
from localchain.settings import Settings

__all__ = ["LlamaCppChat", "LlamaCppLLM", "messages_to_dicts", "parse_tool_arguments"]

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
    n_parallel: int = Field(1, ge=1, le=64)
    """Calls decoded together (batched decoding: threads, ``batch()``, asyncio and server
    requests share each decode step); each has ``n_ctx`` tokens of its own. 1: one call at
    a time."""
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
            n_parallel=self.n_parallel,
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
            parallel=self.engine.n_parallel,
        )

    def _count_prompt(self, prompt: str | Sequence[BaseMessage]) -> int:
        if isinstance(prompt, str):
            return self.get_num_tokens(prompt)
        raise TypeError(f"{type(self).__name__} counts text prompts, not messages")

    def _split_kwargs(self, kwargs: dict[str, Any]) -> tuple[SamplingParams, str | None]:
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
            "n_parallel": settings.n_parallel,
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


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as ``{"role", "content"}`` dicts for a chat template that does not
    know tools: tool calls are written into the assistant's text and tool results become
    user turns (:func:`~localchain.models.tool_calling.conversation_dicts`).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> messages_to_dicts([HumanMessage("Hi")])
        [{'role': 'user', 'content': 'Hi'}]
    """
    return conversation_dicts(messages, tools=None, native=None)


def _tool_rounds(messages: Sequence[BaseMessage]) -> int:
    """The rounds of tool calls made since the last user message.

    Example:
        >>> from langchain_core.messages import HumanMessage, ToolMessage
        >>> call = {"name": "add", "args": {}, "id": "c1"}
        >>> _tool_rounds([HumanMessage("2+3?"), AIMessage("", tool_calls=[call]),
        ...               ToolMessage("5", tool_call_id="c1")])
        1
    """
    rounds = 0
    for message in reversed(messages):
        if message.type == "human":
            break
        if isinstance(message, AIMessage) and message.tool_calls:
            rounds += 1
    return rounds


@dataclass(frozen=True)
class _ToolCall:
    """The tool options of one call: the tools, the choice, and the reply's grammar."""

    specs: list[dict[str, Any]]
    choice: ToolChoice
    fmt: ToolCallFormat
    grammar: str

    @property
    def names(self) -> list[str]:
        return [spec["function"]["name"] for spec in self.specs]


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
    tool_prompt: str = TOOL_PROMPT
    """How bound tools are stated to a model whose chat template does not know tools
    (``{tools}``: one JSON line per tool); a template that knows tools renders them itself."""
    ground_tool_arguments: bool = True
    """Ground tool-call arguments in the conversation (the user's messages and the tool
    results): integer and number arguments are quoted from it, and a tool that describes
    its own input (localchain's calculator, web search and retriever tools) gets that
    grammar - the calculator's expression uses numbers in view, a search query words in
    view. A small model otherwise invents numbers. Off: arguments follow the JSON schemas
    only."""
    tool_string_limit: int | None = Field(STRING_LIMIT, ge=1)
    """The longest string argument of a tool call (characters) when the tool's schema sets
    no ``maxLength``; None: no limit."""
    call_tools_first: bool = False
    """With tools bound and ``tool_choice`` auto, the reply to a user message must call a
    tool until a tool result has come back; then the model may answer. A small model
    otherwise answers from memory ("17 * 23 = 349") instead of calling the calculator."""
    max_tool_rounds: int | None = Field(None, ge=1)
    """With tools bound and ``tool_choice`` auto, the most rounds of tool calls per user
    message: after that many, the reply is an answer. None: no limit (the agent loop's own
    limit applies). A small model otherwise calls the calculator again on its own result
    ("391 * 23") instead of answering."""

    _template: ChatTemplate | None = PrivateAttr(default=None)
    _tool_format: ToolCallFormat | None = PrivateAttr(default=None)

    def _load(self) -> None:
        super()._load()
        engine = self.engine
        self._template = resolve_chat_template(
            self.chat_template,
            gguf_template=engine.info.chat_template,
            bos_token=engine.bos_token,
            eos_token=engine.eos_token,
        )
        self._tool_format = tool_format_of(self._template.source)

    @property
    def _llm_type(self) -> str:
        return "localchain-llamacpp"

    @property
    def tool_format(self) -> ToolCallFormat:
        """How tool calls are written: the chat template's own format, or the hermes
        ``<tool_call>`` fallback when the template does not know tools."""
        return self._tool_format or HERMES

    @property
    def renders_tools(self) -> bool:
        """Whether the chat template renders tools, tool calls and tool results itself."""
        return self._tool_format is not None

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

    def render(self, messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None) -> str:
        """The exact prompt text the model sees for these messages (and bound tools).

        Example:
            >>> from langchain_core.messages import HumanMessage
            >>> chat = LlamaCppChat(n_ctx=2048)
            >>> "<tools>" in chat.render([HumanMessage("2 + 3?")], tools=[{"type": "function",
            ...     "function": {"name": "add", "parameters": {"type": "object"}}}])
            True
        """
        specs = tool_specs(tools) if tools else None
        dicts = conversation_dicts(
            messages, tools=specs, native=self._tool_format, tool_prompt=self.tool_prompt
        )
        return self.template.render(dicts, tools=specs if self.renders_tools else None)

    def count_tokens(
        self, messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Prompt tokens for these messages (and bound tools), template included."""
        return len(self._tokens(messages, tools))

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return self.count_tokens(messages, tools)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """A runnable whose replies may call ``tools`` (``AIMessage.tool_calls``).

        The reply is decoded under a grammar: a tool call always names a bound tool and
        its arguments follow the tool's JSON schema (``strict`` is therefore always on).
        ``tool_choice``: ``None``/``"auto"`` (answer or call), ``"none"``, ``"any"``/
        ``"required"`` (call some tool), or a tool's name (or OpenAI's ``{"type":
        "function", "function": {"name": ...}}``). ``parallel_tool_calls=False`` allows
        one call per reply. A schema with no grammar, or a choice naming an unbound tool,
        raises :class:`~localchain.errors.ToolBindingError` here.

        Example:
            >>> def add(a: int, b: int) -> int:
            ...     '''Add two integers.'''
            ...     return a + b
            >>> chat = LlamaCppChat(temperature=0, n_ctx=2048)
            >>> reply = chat.bind_tools([add], tool_choice="add").invoke("What is 2 + 3?")
            >>> reply.tool_calls[0]["name"], sorted(reply.tool_calls[0]["args"])
            ('add', ['a', 'b'])
        """
        del strict  # the grammar makes every call strict
        specs = tool_specs(tools)
        choice = normalise_tool_choice(tool_choice, [spec["function"]["name"] for spec in specs])
        # Compiled now, so a schema llama.cpp cannot decode fails at bind time.
        self.engine.grammar(
            calls_grammar(
                specs,
                choice,
                self.tool_format,
                parallel=parallel_tool_calls is not False,
                string_limit=self.tool_string_limit,
            )
        )
        options: dict[str, Any] = {"tools": specs, **kwargs}
        described = {
            tool.name: tool
            for tool in tools
            if isinstance(tool, BaseTool) and callable(getattr(tool, "input_grammar", None))
        }
        if described and self.ground_tool_arguments:
            options["tool_objects"] = described
        if tool_choice is not None:
            options["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            options["parallel_tool_calls"] = parallel_tool_calls
        return self.bind(**options)

    def _tool_call(
        self, kwargs: dict[str, Any], messages: Sequence[BaseMessage]
    ) -> _ToolCall | None:
        """Take the tool options out of a call's kwargs."""
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        parallel = kwargs.pop("parallel_tool_calls", None)
        objects: dict[str, Any] = kwargs.pop("tool_objects", None) or {}
        if not tools:
            if tool_choice not in (None, "auto", "none"):
                raise ToolBindingError(f"tool_choice {tool_choice!r} needs tools; none are bound")
            return None
        if any(kwargs.get(key) is not None for key in _GRAMMAR_KEYS):
            raise ToolBindingError(
                "tools decode under their own grammar; do not combine them with grammar, "
                "json_schema or response_format"
            )
        specs = tool_specs(tools)
        names = [spec["function"]["name"] for spec in specs]
        choice = normalise_tool_choice(tool_choice, names)
        if choice.mode == "auto":
            rounds = _tool_rounds(messages)
            if self.max_tool_rounds is not None and rounds >= self.max_tool_rounds:
                choice = ToolChoice("none")
            elif self.call_tools_first and rounds == 0:
                choice = ToolChoice("required")
        view = conversation_view(messages)
        if not self.ground_tool_arguments:
            objects = {}
        arguments = {
            spec["function"]["name"]: grammar
            for spec in specs
            if (tool := objects.get(spec["function"]["name"])) is not None
            and (grammar := described_arguments(tool, spec, view)) is not None
        }
        offered = [
            name for name in names if name not in objects or tool_offered(objects[name], view)
        ]
        fmt = self.tool_format
        gbnf = calls_grammar(
            specs,
            choice,
            fmt,
            parallel=parallel is not False,
            arguments=arguments,
            offered=offered,
            view=view if self.ground_tool_arguments else None,
            string_limit=self.tool_string_limit,
        )
        return _ToolCall(specs, choice, fmt, gbnf)

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

    def _tokens(
        self, messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None
    ) -> list[int]:
        # The template writes BOS itself where the model wants one (added_special).
        return self.engine.tokenize(self.render(messages, tools), add_bos=False)

    def _start(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[list[int], ToolCallStream | None]:
        """The prompt tokens, with the call's kwargs constrained to its tool grammar."""
        call = self._tool_call(kwargs, messages)
        if call is None:
            return self._tokens(messages), None
        tokens = self._tokens(messages, call.specs)
        if call.choice.mode == "none":
            # A plain answer: no grammar, which would cost a vocabulary scan per token.
            return tokens, None
        kwargs["grammar"] = call.grammar
        return tokens, ToolCallStream(call.fmt, call.names)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tokens, reader = self._start(messages, kwargs)
        for item in self._run(tokens, self._stops(stop), kwargs):
            if isinstance(item, GenerationStats):
                for message in reader.finish() if reader else []:
                    yield ChatGenerationChunk(message=message)
                yield self._final_chunk(item, called=bool(reader and reader.calls))
                continue
            for message in reader.feed(item) if reader else [AIMessageChunk(content=item)]:
                chunk = ChatGenerationChunk(message=message)
                if run_manager and message.content:
                    run_manager.on_llm_new_token(str(message.content), chunk=chunk)
                yield chunk

    def _stops(self, stop: list[str] | None) -> list[str]:
        return [*self.template.stop, *(self.stop or []), *(stop or [])]

    def _final_chunk(self, stats: GenerationStats, *, called: bool = False) -> ChatGenerationChunk:
        finish = "tool_calls" if called and stats.finish_reason == "stop" else stats.finish_reason
        usage = {
            "input_tokens": stats.prompt_tokens,
            "output_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens,
            "input_token_details": {"cache_read": stats.cached_tokens},
        }
        metadata = {
            "model_name": self.model_name,
            "finish_reason": finish,
            "chat_template": self.template.name,
            "timings": stats.as_metadata(),
        }
        message = AIMessageChunk(
            content="", usage_metadata=usage, response_metadata=metadata, chunk_position="last"
        )
        return ChatGenerationChunk(message=message, generation_info={"finish_reason": finish})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # LangChain itself switches to _stream when a callback wants tokens.
        tokens, reader = self._start(messages, kwargs)
        text, stats = self._complete(tokens, self._stops(stop), kwargs)
        # The same reader as stream(), so invoke() and a merged stream() agree.
        parts = [*reader.feed(text), *reader.finish()] if reader else [AIMessageChunk(content=text)]
        chunks = [ChatGenerationChunk(message=part) for part in parts]
        final = self._final_chunk(stats, called=bool(reader and reader.calls))
        return generate_from_stream(iter([*chunks, final]))

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

        ``schema`` is a pydantic model class (returns instances), a TypedDict or a JSON
        schema dict (return dicts). ``method``: ``"json_schema"`` (the answer is the JSON),
        ``"function_calling"`` (the answer is a call of a tool with the schema as its
        arguments, through :meth:`bind_tools`) or ``"json_mode"`` (JSON; on llama.cpp also
        decoded under the schema, so it is the same as ``"json_schema"``).

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
        if method not in ("json_schema", "function_calling", "json_mode"):
            raise ValueError(
                f"method must be 'json_schema', 'function_calling' or 'json_mode', not {method!r}"
            )
        traced = {"kwargs": {"method": method}, "schema": convert_to_json_schema(schema)}
        if method == "json_schema":
            bound = self.bind(
                json_schema=_json_schema_of(schema), ls_structured_output_format=traced
            )
            parse: Callable[[AIMessage], Any] = lambda message: parse_structured(message, schema)
        elif method == "function_calling":
            name = tool_specs([schema])[0]["function"]["name"]
            bound = self.bind_tools([schema], tool_choice=name, ls_structured_output_format=traced)
            parse = lambda message: parse_tool_arguments(message, schema)
        else:
            # json_mode promises valid JSON; with the schema at hand the grammar keeps its
            # shape too, which a model told only "JSON" (LangChain's json_mode) often misses.
            bound = self.bind(
                response_format={"type": "json_object", "schema": _json_schema_of(schema)},
                ls_structured_output_format=traced,
            )
            parse = lambda message: parse_structured(message, schema)
        parser = RunnableLambda(parse)
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
    try:
        return convert_to_json_schema(schema)  # a TypedDict
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"schema must be a pydantic model class, a TypedDict or a JSON schema dict, "
            f"not {schema!r}"
        ) from err


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
    raw = message_text(message.content)
    name = schema.__name__ if isinstance(schema, type) else schema.get("title", "the schema")
    finish = message.response_metadata.get("finish_reason")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        reason = f"not JSON ({err})"
        if finish == "length":
            reason += "; the answer was cut off at max_tokens"
        raise _StructuredParseError(name, raw, reason) from None
    return _validated(data, schema, name, raw)


def _validated(data: Any, schema: dict[str, Any] | type, name: str, raw: str) -> Any:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            return schema.model_validate(data)
        except ValidationError as err:
            raise _StructuredParseError(name, raw, str(err)) from None
    if isinstance(schema, type) and issubclass(schema, V1BaseModel):
        try:
            return schema.parse_obj(data)
        except V1ValidationError as err:
            raise _StructuredParseError(name, raw, str(err)) from None
    return data


def parse_tool_arguments(message: AIMessage, schema: dict[str, Any] | type) -> Any:
    """The arguments of the reply's first tool call, validated against ``schema``.

    Raises :class:`~localchain.errors.StructuredOutputError` (also a LangChain
    ``OutputParserException``) when the reply holds no valid call.

    Example:
        >>> from langchain_core.messages import AIMessage
        >>> call = {"name": "City", "args": {"name": "Paris"}, "id": "c1"}
        >>> parse_tool_arguments(AIMessage("", tool_calls=[call]), {"title": "City"})
        {'name': 'Paris'}
    """
    name = schema.__name__ if isinstance(schema, type) else schema.get("title", "the schema")
    if not message.tool_calls:
        invalid = message.invalid_tool_calls
        reason = invalid[0].get("error") or "invalid arguments" if invalid else "no tool call"
        if message.response_metadata.get("finish_reason") == "length":
            reason += "; the answer was cut off at max_tokens"
        raw = invalid[0].get("args") or "" if invalid else message_text(message.content)
        raise _StructuredParseError(name, str(raw), str(reason))
    call = message.tool_calls[0]
    return _validated(call["args"], schema, name, json.dumps(call["args"]))


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
