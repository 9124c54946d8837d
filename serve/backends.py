"""What answers a request: a chat model, a RAG chain, the agent, or any Runnable.

A backend turns one request (:class:`Call`) into a stream of :class:`Event` objects on the
calling thread; the app runs it on a thread of its own and writes the events out in the
OpenAI format. With a session id the backend keeps the conversation itself: it binds a
fresh memory of the configured kind to the session's stored history, answers the new
message with what that memory shows, and stores the exchange once the answer is complete
(a stream closed early stores nothing). Turns of one session run one at a time.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from langchain_core.messages import HumanMessage
    >>> backend = ChatBackend(FakeListChatModel(responses=["Hello!"]))
    >>> [e.value for e in backend.events(Call([HumanMessage("Hi")])) if e.kind == "text"]
    ['H', 'e', 'l', 'l', 'o', '!']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    SystemMessage,
)
from langchain_core.runnables import Runnable

from localchain.memory import InMemorySessionStore, Memory, SessionStore, memory_from_name
from localchain.memory.summary import SummaryMemory
from localchain.models.capabilities import capabilities
from localchain.serve.protocol import ApiError

__all__ = [
    "AgentBackend",
    "Backend",
    "Call",
    "ChatBackend",
    "Event",
    "MemorySpec",
    "RagBackend",
    "RunnableBackend",
]

EventKind = Literal["text", "tool_calls", "step", "extra", "usage", "finish"]


@dataclass(frozen=True)
class Event:
    """One thing a backend produced: a text piece, the tool calls, an agent step, the
    answer's extra fields (sources, citations, steps), the token usage, or the finish
    reason."""

    kind: EventKind
    value: Any


@dataclass
class Call:
    """One chat completion request, in LangChain terms."""

    messages: list[BaseMessage]
    """The request's messages (system, user, assistant, tool)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Sampling options set by the request (temperature, max_tokens, stop, seed, ...)."""
    tools: list[dict[str, Any]] | None = None
    """OpenAI tool definitions, passed to the model's ``bind_tools``."""
    tool_choice: str | dict[str, Any] | None = None
    session_id: str | None = None
    """Keep the conversation under this id on the server."""

    @property
    def system(self) -> str | None:
        """The request's system messages joined, or None."""
        texts = [m.text for m in self.messages if isinstance(m, SystemMessage) and m.text]
        return "\n\n".join(texts) if texts else None

    @property
    def last_user_text(self) -> str:
        """The text of the last message, which must be the user's."""
        last = self.messages[-1]
        if not isinstance(last, HumanMessage):
            raise ApiError(
                400, "the last message must be the user's (role 'user')", param="messages"
            )
        if not last.text.strip():
            raise ApiError(400, "the last user message is empty", param="messages")
        return last.text

    @property
    def earlier(self) -> list[BaseMessage]:
        """The conversation before the last message, without system messages."""
        return [m for m in self.messages[:-1] if not isinstance(m, SystemMessage)]


@dataclass(frozen=True)
class MemorySpec:
    """The memory each session gets: a kind from :func:`~localchain.memory.memory_from_name`
    (``buffer``, ``window``, ``summary``, ``summary-buffer``) and its sizes."""

    kind: str = "buffer"
    k: int = 2
    """Exchanges kept by a window memory."""
    max_tokens: int = 512
    """Verbatim budget of a summary-buffer memory."""

    def __post_init__(self) -> None:
        memory_from_name(self.kind)  # an unknown kind fails here, at start

    def make(self, llm: Any) -> Memory:
        memory = memory_from_name(self.kind, k=self.k, max_tokens=self.max_tokens)
        if isinstance(memory, SummaryMemory) and memory.llm is None:
            memory.llm = llm
        return memory

    def describe(self) -> str:
        return {
            "window": f"window (k={self.k})",
            "summary-buffer": f"summary-buffer ({self.max_tokens} tokens)",
        }.get(self.kind, self.kind)


class _SessionLocks:
    """One lock per session id: two requests of one session take turns."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(session_id, threading.Lock())
        with lock:
            yield


class Backend:
    """The shared part: the model, the session store, the memory, the usage count.

    Subclasses implement :meth:`events`; :meth:`check` refuses a request before it takes a
    place in the queue.
    """

    mode = "chat"
    """``chat``, ``rag``, ``agent`` or ``runnable``: shown on ``/v1/info`` and the page."""

    def __init__(
        self,
        llm: BaseChatModel | None,
        *,
        store: SessionStore | None = None,
        memory: MemorySpec | None = None,
        system_prompt: str | None = None,
        model_id: str | None = None,
    ) -> None:
        self.llm = llm
        self.store = store if store is not None else InMemorySessionStore()
        self.memory = memory or MemorySpec()
        self.system_prompt = system_prompt
        self.model_id = model_id or _model_id(llm)
        self._locks = _SessionLocks()

    def check(self, call: Call) -> None:
        """Raise :class:`ApiError` for a request this backend cannot answer."""
        call.last_user_text  # noqa: B018 - raises for a request that does not end with a user
        if call.tools and self.mode != "chat":
            raise ApiError(400, f"tools are not supported in {self.mode} mode", param="tools")
        if call.tools and call.session_id:
            raise ApiError(
                400, "tools are answered statelessly: send them without a session", param="tools"
            )

    def events(self, call: Call) -> Iterator[Event]:
        raise NotImplementedError

    @contextmanager
    def session(self, session_id: str) -> Iterator[Memory]:
        """A fresh memory bound to the session's history, the session held for the turn."""
        with self._locks.hold(session_id):
            memory = self.memory.make(self.llm)
            memory.bind(self.store.history(session_id))
            yield memory

    @contextmanager
    def maybe_session(self, call: Call) -> Iterator[Memory | None]:
        """:meth:`session` for a call with a session id, else None (stateless)."""
        if not call.session_id:
            yield None
            return
        with self.session(call.session_id) as memory:
            yield memory

    def _usage_events(
        self, counter: UsageMetadataCallbackHandler, prompt: str, answer: str
    ) -> Iterator[Event]:
        usage = _sum_usage(counter.usage_metadata)
        if usage is None:
            usage = {"input_tokens": self._count(prompt), "output_tokens": self._count(answer)}
        yield Event("usage", usage)

    def _count(self, text: str) -> int:
        """Tokens of ``text``: exact where the model counts them (llama.cpp), else words
        (LangChain's fallback tokenizer would be downloaded, which offline cannot work)."""
        if self.llm is not None and text and capabilities(self.llm).counts_tokens:
            return int(self.llm.get_num_tokens(text))
        return len(text.split())


class ChatBackend(Backend):
    """The chat model: stateless like OpenAI's API, or a session kept with the memory."""

    mode = "chat"

    def events(self, call: Call) -> Iterator[Event]:
        if call.session_id:
            yield from self._session_turn(call)
            return
        model: Runnable[Any, Any] = self.llm
        if call.tools:
            model = self.llm.bind_tools(call.tools, tool_choice=call.tool_choice)
        if call.options:
            model = model.bind(**call.options)
        messages = call.messages
        if self.system_prompt and not any(isinstance(m, SystemMessage) for m in messages):
            messages = [SystemMessage(self.system_prompt), *messages]
        merged: BaseMessageChunk | None = None
        for chunk in model.stream(messages):
            merged = chunk if merged is None else merged + chunk
            if chunk.text:
                yield Event("text", chunk.text)
        if merged is None:
            merged = AIMessageChunk(content="")
        calls = getattr(merged, "tool_calls", None) or []
        if calls:
            yield Event("tool_calls", calls)
        usage = getattr(merged, "usage_metadata", None)
        if usage:
            yield Event("usage", dict(usage))
        else:
            prompt = "\n".join(m.text for m in messages)
            yield Event(
                "usage",
                {"input_tokens": self._count(prompt), "output_tokens": self._count(merged.text)},
            )
        yield Event("finish", _finish_reason(merged, bool(calls)))

    def _session_turn(self, call: Call) -> Iterator[Event]:
        from localchain.chains.chat import Chatbot

        text = call.last_user_text
        llm = self.llm.bind(**call.options) if call.options else self.llm
        with self._locks.hold(call.session_id):
            bot = Chatbot(
                llm,
                self.memory.make(self.llm),
                session_id=call.session_id,
                store=self.store,
                system_prompt=call.system or self.system_prompt,
            )
            pieces = bot.stream(text)
            try:
                yield from (Event("text", piece) for piece in pieces)
            finally:
                pieces.close()
        turn = bot.last_turn
        if turn is None:  # closed early: nothing was stored
            return
        if turn.notices:
            yield Event("extra", {"notices": turn.notices})
        usage = turn.usage or {
            "input_tokens": self._count("\n".join(m.text for m in turn.prompt)),
            "output_tokens": self._count(turn.output),
        }
        yield Event("usage", usage)
        yield Event("finish", "stop")


class RagBackend(Backend):
    """A RAG chain over a retriever: answers carry their sources and citations.

    The content ends with the sources as text footnotes (``[1] path - text``), for plain
    OpenAI clients; the ``localchain`` field of the answer has them as data. Follow-ups are
    rewritten with the conversation (the session's memory, or the request's earlier
    messages) before searching.
    """

    mode = "rag"

    def __init__(
        self,
        retriever: Runnable[str, list[Document]],
        llm: BaseChatModel,
        *,
        rag_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(llm, **options)
        from localchain.chains.rag import rag_chain

        self.retriever = retriever
        # A first question is searched as asked: a small model's rewrite of it loses words.
        self.rag_options = {"rewrite": "follow_ups", **(rag_options or {})}
        self._make_chain: Callable[[Any], Runnable[Any, Any]] = lambda model: rag_chain(
            retriever, model, name="serve_rag", **self.rag_options
        )
        self.chain = self._make_chain(llm)

    def events(self, call: Call) -> Iterator[Event]:
        from langchain_core.runnables.utils import AddableDict

        from localchain.memory import format_transcript

        question = call.last_user_text
        chain = self._make_chain(self.llm.bind(**call.options)) if call.options else self.chain
        counter = UsageMetadataCallbackHandler()
        with self.maybe_session(call) as memory:
            history = memory.chat_history if memory else format_transcript(call.earlier)
            result = AddableDict()
            chunks = chain.stream(
                {"question": question, "chat_history": history}, {"callbacks": [counter]}
            )
            try:
                for chunk in chunks:
                    result = result + chunk
                    if piece := chunk.get("answer"):
                        yield Event("text", piece)
            finally:
                chunks.close()
            answer = str(result.get("answer", "")).strip()
            if memory is not None:
                memory.save_turn(question, answer)
        sources = [_source_json(s) for s in result.get("sources", [])]
        footnotes = _footnotes(sources, result.get("citations") or [])
        if footnotes:
            yield Event("text", footnotes)
        yield Event(
            "extra",
            {
                "query": result.get("query"),
                "citations": result.get("citations") or [],
                "supported": result.get("supported"),
                "unsupported_reason": result.get("unsupported_reason"),
                "sources": sources,
            },
        )
        yield from self._usage_events(counter, question, answer)
        yield Event("finish", "stop")


class AgentBackend(Backend):
    """The ReAct agent: each tool step is sent as it happens, the answer at the end."""

    mode = "agent"

    def __init__(self, agent: Any, **options: Any) -> None:
        super().__init__(agent.llm, **options)
        self.agent = agent

    def check(self, call: Call) -> None:
        super().check(call)
        if call.options.get("response_format"):
            raise ApiError(
                400, "response_format is not supported in agent mode", param="response_format"
            )

    def events(self, call: Call) -> Iterator[Event]:
        from localchain.agents.result import ReActStep

        question = call.last_user_text
        counter = UsageMetadataCallbackHandler()
        steps: list[dict[str, Any]] = []
        with self.maybe_session(call) as memory:
            history = memory.messages if memory is not None else call.earlier
            events = self.agent.stream(
                {"input": question, "chat_history": history}, {"callbacks": [counter]}
            )
            result: dict[str, Any] = {}
            try:
                for event in events:
                    step = event.get("step")
                    if "observation" in event and isinstance(step, ReActStep):
                        record = {
                            "tool": step.tool,
                            "tool_input": step.tool_input,
                            "observation": step.observation,
                            "error": step.error,
                        }
                        steps.append(record)
                        yield Event("step", record)
                    if "output" in event and "stopped_reason" in event:
                        result = event
            finally:
                events.close()
            answer = str(result.get("output", "")).strip()
            if memory is not None:
                memory.save_turn(question, answer)
        yield Event("text", answer)
        yield Event(
            "extra",
            {
                "steps": steps,
                "stopped_reason": result.get("stopped_reason"),
                "iterations": result.get("iterations"),
            },
        )
        yield from self._usage_events(counter, question, answer)
        yield Event("finish", "stop")


class RunnableBackend(Backend):
    """Any Runnable that takes a list of messages: a chain of your own.

    Its output may be a message (or message chunks when streamed), a string, or a dict
    with ``answer`` or ``output``. With a session, the memory's messages and the new one
    are what it gets.
    """

    mode = "runnable"

    def __init__(self, runnable: Runnable[Any, Any], **options: Any) -> None:
        super().__init__(options.pop("llm", None), **options)
        self.runnable = runnable
        if self.model_id == "localchain":
            self.model_id = runnable.get_name()

    def events(self, call: Call) -> Iterator[Event]:
        question = call.last_user_text
        counter = UsageMetadataCallbackHandler()
        with self.maybe_session(call) as memory:
            if memory is None:
                messages = call.messages
            else:
                system = call.system or self.system_prompt
                messages = [
                    *([SystemMessage(system)] if system else []),
                    *memory.messages,
                    HumanMessage(question),
                ]
            parts: list[str] = []
            chunks = self.runnable.stream(messages, {"callbacks": [counter]})
            try:
                for chunk in chunks:
                    piece = _text_of(chunk)
                    if piece:
                        parts.append(piece)
                        yield Event("text", piece)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            answer = "".join(parts).strip()
            if memory is not None:
                memory.save_turn(question, answer)
        yield from self._usage_events(counter, "\n".join(m.text for m in messages), answer)
        yield Event("finish", "stop")


def _text_of(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    if isinstance(chunk, BaseMessage):
        return chunk.text
    if isinstance(chunk, dict):
        value = chunk.get("answer", chunk.get("output"))
        return value if isinstance(value, str) else ""
    return ""


def _model_id(llm: Any) -> str:
    if llm is None:
        return "localchain"
    for name in ("model_name", "model"):
        value = getattr(llm, name, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def _finish_reason(message: BaseMessage, called: bool) -> str:
    if called:
        return "tool_calls"
    metadata = getattr(message, "response_metadata", {}) or {}
    reason = metadata.get("finish_reason") or "stop"
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else "stop"


def _sum_usage(by_model: dict[str, Any]) -> dict[str, Any] | None:
    if not by_model:
        return None
    total: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "cache_read": 0}
    for usage in by_model.values():
        total["input_tokens"] += int(usage.get("input_tokens", 0))
        total["output_tokens"] += int(usage.get("output_tokens", 0))
        total["cache_read"] += int((usage.get("input_token_details") or {}).get("cache_read", 0))
    return {
        "input_tokens": total["input_tokens"],
        "output_tokens": total["output_tokens"],
        "input_token_details": {"cache_read": total["cache_read"]},
    }


def _source_json(source: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(source.get("metadata") or {})
    return {
        "number": source.get("number"),
        "id": source.get("id"),
        "text": source.get("text"),
        "source": metadata.get("source"),
        "score": metadata.get("score"),
    }


def _footnotes(sources: list[dict[str, Any]], cited: list[int]) -> str:
    """The sources as text under the answer: the cited ones, or all when none is cited."""
    shown = [s for s in sources if s["number"] in cited] or sources
    if not shown:
        return ""
    lines = []
    for source in shown:
        text = " ".join(str(source.get("text") or "").split())
        text = text if len(text) <= 160 else text[:157] + "..."
        where = source.get("source") or source.get("id") or "source"
        lines.append(f"[{source['number']}] {where} - {text}")
    return "\n\nSources:\n" + "\n".join(lines)
