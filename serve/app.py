"""The ASGI app: OpenAI-compatible routes, sessions, and the web chat page.

:func:`create_app` takes what should answer - a chat model, a :class:`~localchain.chains.Chatbot`,
a :class:`~localchain.agents.ReActAgent`, a retriever for RAG (``rag=``), or any Runnable
that takes messages - and returns a FastAPI app; ``localchain serve`` only starts it with
uvicorn. Add routes to it as to any FastAPI app.

Example:
    >>> from localchain.serve import create_app
    >>> app = create_app()                                  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)         # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from langchain_core.messages import convert_to_openai_messages
from starlette.exceptions import HTTPException as StarletteHTTPException

from localchain.errors import (
    BackendConnectionError,
    ChainInputError,
    ConfigError,
    ContextOverflowError,
    LocalchainError,
    SessionStoreError,
    ToolBindingError,
)
from localchain.memory import SessionStore
from localchain.memory.history import check_session_id
from localchain.models.aio import iterate_in_thread
from localchain.serve.backends import (
    AgentBackend,
    Backend,
    Call,
    ChatBackend,
    Event,
    MemorySpec,
    RagBackend,
    RunnableBackend,
)
from localchain.serve.limits import ApiKeyGuard, BodyLimit, ModelGate, ServeLimits
from localchain.serve.protocol import (
    ApiError,
    ChatCompletionRequest,
    EmbeddingRequest,
    completion_id,
    error_body,
    now,
    openai_tool_calls,
    to_messages,
)

__all__ = ["backend_for", "create_app"]

logger = logging.getLogger("localchain.serve")

SESSION_HEADER = "X-Session-Id"


def backend_for(
    target: Any = None,
    *,
    rag: Any = None,
    store: SessionStore | None = None,
    memory: MemorySpec | str | None = None,
    system_prompt: str | None = None,
    model_id: str | None = None,
) -> Backend:
    """The backend that answers for ``target`` (see :func:`create_app`)."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from localchain.agents import ReActAgent
    from localchain.chains.chat import Chatbot

    if isinstance(memory, str):
        memory = MemorySpec(kind=memory)
    common: dict[str, Any] = {
        "store": store,
        "memory": memory,
        "system_prompt": system_prompt,
        "model_id": model_id,
    }
    if isinstance(target, Backend):
        return target
    if isinstance(target, Chatbot):
        common["store"] = store or target.store
        common["system_prompt"] = system_prompt or target._default_system
        if memory is None:
            common["memory"] = _spec_of(target.memory)
        target = target.llm
    if isinstance(target, ReActAgent):
        if rag is not None:
            raise ConfigError("give an agent or rag=, not both")
        return AgentBackend(target, **common)
    if target is None:
        from localchain.models.registry import load_chat_model

        target = load_chat_model()
    if rag is not None:
        if not isinstance(target, BaseChatModel):
            raise ConfigError("rag= needs a chat model to answer with")
        return RagBackend(rag, target, **common)
    if isinstance(target, BaseChatModel):
        return ChatBackend(target, **common)
    if isinstance(target, Runnable):
        return RunnableBackend(target, **common)
    raise ConfigError(
        f"cannot serve a {type(target).__name__}: give a chat model, a Chatbot, a ReActAgent, "
        "rag=retriever, or a Runnable that takes a list of messages"
    )


def _spec_of(memory: Any) -> MemorySpec:
    from localchain.memory import MEMORY_TYPES

    kind = next((name for name, cls in MEMORY_TYPES.items() if type(memory) is cls), "buffer")
    return MemorySpec(
        kind=kind, k=getattr(memory, "k", 2), max_tokens=getattr(memory, "max_tokens", 512) or 512
    )


def create_app(
    target: Any = None,
    *,
    rag: Any = None,
    store: SessionStore | None = None,
    memory: MemorySpec | str | None = None,
    system_prompt: str | None = None,
    model_id: str | None = None,
    api_key: str | None = None,
    cors_origins: Sequence[str] = (),
    limits: ServeLimits | None = None,
    embeddings: Any = None,
    page: bool = True,
) -> FastAPI:
    """The ASGI app serving ``target`` over the OpenAI chat API, with sessions and a web page.

    Args:
        target: What answers: ``None`` (the configured chat model, the embedded one by
            default), a chat model, a :class:`~localchain.chains.Chatbot` (its model,
            memory kind, store and system prompt), a :class:`~localchain.agents.ReActAgent`,
            or any Runnable that takes a list of messages.
        rag: A retriever: answer from it with citations (``target`` is then the model).
        store: Where sessions live (default: in memory; give a
            :class:`~localchain.memory.SQLiteSessionStore` to keep them across restarts).
        memory: What each session's model sees: ``"buffer"``, ``"window"``, ``"summary"``,
            ``"summary-buffer"``, or a :class:`~localchain.serve.MemorySpec`.
        system_prompt: The system message when a request brings none.
        model_id: The name ``/v1/models`` lists (default: the model's name).
        api_key: Require ``Authorization: Bearer <key>`` on every ``/v1`` route.
        cors_origins: Origins allowed to call the API from a browser (default: none).
        limits: Queue, body, ``max_tokens`` and time bounds (:class:`ServeLimits`).
        embeddings: What ``/v1/embeddings`` uses (default: the embedded MiniLM, loaded on
            first use).
        page: Serve the web chat at ``/``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> app = create_app(FakeListChatModel(responses=["Hi!"]))
        >>> sorted(r.path for r in app.routes if r.path.startswith("/v1/c"))
        ['/v1/chat/completions']
    """
    backend = backend_for(
        target, rag=rag, store=store, memory=memory, system_prompt=system_prompt, model_id=model_id
    )
    # As many requests at the model as it decodes together (batched decoding).
    limits = limits or ServeLimits(parallel=getattr(backend.llm, "n_parallel", 1) or 1)
    gate = ModelGate(parallel=limits.parallel, max_queue=limits.max_queue)
    state = _ServerState(backend, gate, limits, embeddings)
    app = FastAPI(title="localchain", docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.localchain = state
    _add_error_handlers(app)

    # The last one added runs first: body limit, then CORS (a browser's preflight carries
    # no key), then the key.
    if api_key:
        app.add_middleware(ApiKeyGuard, key=api_key)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", SESSION_HEADER],
        )
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": backend.model_id,
                    "object": "model",
                    "created": state.started,
                    "owned_by": "localchain",
                }
            ],
        }

    @app.get("/v1/info")
    async def info() -> dict[str, Any]:
        """What this server answers with: the mode, the model, the memory, the queue."""
        return {
            "mode": backend.mode,
            "model": backend.model_id,
            "memory": backend.memory.describe(),
            "auth": bool(api_key),
            "queue": {
                "running": gate.running,
                "waiting": gate.waiting,
                "max_queue": gate.max_queue,
            },
            "limits": {
                "max_tokens": limits.max_tokens,
                "timeout_s": limits.timeout_s,
                "max_body_bytes": limits.max_body_bytes,
            },
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        body = await _json_body(request, ChatCompletionRequest)
        return await state.complete(request, body)

    @app.post("/v1/embeddings")
    async def embeddings_route(request: Request) -> dict[str, Any]:
        body = await _json_body(request, EmbeddingRequest)
        return await state.embed(body)

    @app.get("/v1/sessions")
    async def list_sessions() -> dict[str, Any]:
        infos = await asyncio.to_thread(backend.store.sessions)
        return {
            "object": "list",
            "data": [
                {"id": i.session_id, "messages": i.messages, "updated": i.updated.isoformat()}
                for i in infos
            ],
        }

    @app.get("/v1/sessions/{session_id}")
    async def get_session(session_id: str) -> dict[str, Any]:
        session_id = _checked_session(session_id)
        if not await asyncio.to_thread(backend.store.exists, session_id):
            raise ApiError(404, f"no session {session_id!r}", code="session_not_found")
        history = backend.store.history(session_id)
        messages = await asyncio.to_thread(lambda: history.messages)
        return {
            "id": session_id,
            "memory": backend.memory.describe(),
            "messages": convert_to_openai_messages(messages),
        }

    @app.delete("/v1/sessions/{session_id}")
    async def delete_session(session_id: str) -> dict[str, Any]:
        session_id = _checked_session(session_id)
        if not await asyncio.to_thread(backend.store.exists, session_id):
            raise ApiError(404, f"no session {session_id!r}", code="session_not_found")
        await asyncio.to_thread(backend.store.delete, session_id)
        return {"id": session_id, "object": "session", "deleted": True}

    if page:
        static = Path(str(resources.files("localchain.serve") / "static"))

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(static / "index.html", media_type="text/html")

        @app.get("/static/{name}", include_in_schema=False)
        async def asset(name: str) -> FileResponse:
            path = static / name
            if "/" in name or name.startswith(".") or not path.is_file():
                raise ApiError(404, f"no asset {name!r}", code="not_found")
            return FileResponse(path)

    return app


class _ServerState:
    """The app's moving parts: the backend, the queue, the limits, the embeddings."""

    def __init__(
        self, backend: Backend, gate: ModelGate, limits: ServeLimits, embeddings: Any
    ) -> None:
        self.backend = backend
        self.gate = gate
        self.limits = limits
        self._embeddings = embeddings
        self.started = now()

    # -- chat completions ------------------------------------------------------------------

    def call_of(self, request: Request, body: ChatCompletionRequest) -> Call:
        backend = self.backend
        if body.model and body.model not in (backend.model_id, "localchain"):
            raise ApiError(
                404,
                f"the model {body.model!r} is not served here; this server "
                f"serves {backend.model_id!r} (GET /v1/models)",
                code="model_not_found",
                param="model",
            )
        budget = body.answer_budget
        if budget is not None and budget > self.limits.max_tokens:
            raise ApiError(
                400,
                f"max_tokens={budget} is over this server's cap of {self.limits.max_tokens}",
                code="max_tokens_too_large",
                param="max_tokens",
            )
        options = body.call_options()
        session = request.headers.get(SESSION_HEADER) or body.user
        call = Call(
            messages=to_messages(body.messages),
            options=options,
            tools=body.tools,
            tool_choice=body.tool_choice,
            session_id=_checked_session(session) if session else None,
        )
        backend.check(call)
        return call

    async def complete(self, request: Request, body: ChatCompletionRequest) -> Response:
        call = self.call_of(request, body)
        deadline = time.monotonic() + self.limits.timeout_s
        async with contextlib.AsyncExitStack() as held:
            await held.enter_async_context(
                self.gate.slot(deadline=deadline, gone=request.is_disconnected)
            )
            events = _events(self.backend, call)
            first = await _first(events, deadline)
            reply = _Reply(self.backend.model_id, call.session_id)
            if body.stream:
                usage_chunk = bool(body.stream_options and body.stream_options.include_usage)
                # The stream holds the place at the model from here on, until it ends.
                return _GatedStream(
                    reply.sse(first, events, deadline, usage_chunk),
                    held.pop_all(),
                    media_type="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                )
            answer = await reply.collect(first, events, deadline, request)
        return JSONResponse(answer)

    # -- embeddings ------------------------------------------------------------------------

    async def embed(self, body: EmbeddingRequest) -> dict[str, Any]:
        texts = body.texts
        embeddings = await asyncio.to_thread(self.embeddings)
        vectors: list[Any] = await asyncio.to_thread(embeddings.embed_documents, texts)
        if body.encoding_format == "base64":
            # What the openai client asks for by default: little-endian float32, base64.
            import base64

            import numpy as np

            vectors = [
                base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors
            ]
        counter = getattr(embeddings, "count_tokens", None)
        tokens = sum(counter(t) for t in texts) if counter else sum(len(t.split()) for t in texts)
        name = getattr(embeddings, "model_name", None) or type(embeddings).__name__
        return {
            "object": "list",
            "model": body.model or name,
            "data": [
                {"object": "embedding", "index": i, "embedding": vector}
                for i, vector in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def embeddings(self) -> Any:
        if self._embeddings is None:
            from localchain.retrievers.embeddings import default_embeddings

            self._embeddings = default_embeddings()
        return self._embeddings


def _events(backend: Backend, call: Call) -> AsyncIterator[Event]:
    return iterate_in_thread(lambda: backend.events(call))


async def _first(events: AsyncIterator[Event], deadline: float) -> Event | None:
    """The first event: errors before any output become HTTP errors, not a broken stream."""
    try:
        async with asyncio.timeout_at(_loop_deadline(deadline)):
            return await anext(events)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        await events.aclose()
        raise ApiError(504, "timed out before the first token", code="timeout") from None
    except BaseException as err:
        await events.aclose()
        raise _api_error(err) from err


def _loop_deadline(deadline: float) -> float:
    """A time.monotonic deadline on the event loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


class _Reply:
    """Writes one answer in the OpenAI shape, whole or as SSE chunks."""

    def __init__(self, model: str, session_id: str | None) -> None:
        self.id = completion_id()
        self.created = now()
        self.model = model
        self.session_id = session_id
        self.usage: dict[str, Any] = {}
        self.extra: dict[str, Any] = {"session_id": session_id} if session_id else {}
        self.steps: list[dict[str, Any]] = []
        self.finish = "stop"

    def _absorb(self, event: Event) -> None:
        if event.kind == "usage":
            self.usage = event.value
        elif event.kind == "extra":
            self.extra.update(event.value)
        elif event.kind == "finish":
            self.finish = event.value
        elif event.kind == "step":
            self.steps.append(event.value)

    def usage_json(self) -> dict[str, Any]:
        prompt = int(self.usage.get("input_tokens", 0))
        completion = int(self.usage.get("output_tokens", 0))
        cached = int((self.usage.get("input_token_details") or {}).get("cache_read", 0))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    async def collect(
        self,
        first: Event | None,
        events: AsyncIterator[Event],
        deadline: float,
        request: Request,
    ) -> dict[str, Any]:
        text: list[str] = []
        calls: list[dict[str, Any]] = []

        async def gather() -> None:
            event = first
            while event is not None:
                if event.kind == "text":
                    text.append(event.value)
                elif event.kind == "tool_calls":
                    calls.extend(event.value)
                else:
                    self._absorb(event)
                event = await anext(events, None)

        task = asyncio.ensure_future(gather())
        try:
            async with asyncio.timeout_at(_loop_deadline(deadline)):
                while not task.done():
                    await asyncio.wait([task], timeout=0.25)
                    if not task.done() and await request.is_disconnected():
                        task.cancel()
                        raise ApiError(499, "the client closed the request", code="client_closed")
            task.result()
        except TimeoutError:
            raise ApiError(
                504, "the answer took longer than the server's timeout", code="timeout"
            ) from None
        except ApiError:
            raise
        except BaseException as err:
            raise _api_error(err) from err
        finally:
            if not task.done():
                task.cancel()
            # The task must have let go of the stream before it can be closed.
            await asyncio.gather(task, return_exceptions=True)
            await events.aclose()
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
        if calls:
            message["tool_calls"] = openai_tool_calls(calls)
            message["content"] = message["content"] or None
        answer = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": self.finish, "logprobs": None}
            ],
            "usage": self.usage_json(),
        }
        if self.steps:
            self.extra["steps"] = self.steps
        if self.extra:
            answer["localchain"] = self.extra
        return answer

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        data.update(extra)
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def sse(
        self,
        first: Event | None,
        events: AsyncIterator[Event],
        deadline: float,
        include_usage: bool,
    ) -> AsyncIterator[str]:
        yield self.chunk({"role": "assistant", "content": ""})
        try:
            async with asyncio.timeout_at(_loop_deadline(deadline)):
                event = first
                while event is not None:
                    if event.kind == "text":
                        yield self.chunk({"content": event.value})
                    elif event.kind == "tool_calls":
                        yield self.chunk({"tool_calls": openai_tool_calls(event.value)})
                    elif event.kind == "step":
                        self.steps.append(event.value)
                        yield self.chunk({}, localchain={"step": event.value})
                    else:
                        self._absorb(event)
                    event = await anext(events, None)
        except TimeoutError:
            self.finish = "length"
            error = ApiError(
                504, "the answer took longer than the server's timeout; it was cut", code="timeout"
            )
            yield f"data: {json.dumps(error.body())}\n\n"
        except Exception as err:  # noqa: BLE001 - the status line has gone: report in-band
            error = _api_error(err)
            yield f"data: {json.dumps(error.body())}\n\n"
            yield "data: [DONE]\n\n"
            return
        finally:
            await events.aclose()
        if self.steps:
            self.extra["steps"] = self.steps
        extra = {"localchain": self.extra} if self.extra else {}
        yield self.chunk({}, self.finish, **extra)
        if include_usage:
            data = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage_json(),
            }
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"


class _GatedStream(StreamingResponse):
    """A streamed answer that gives its place at the model back however it ends: done,
    failed, or cancelled because the client went away."""

    def __init__(
        self, content: AsyncIterator[str], held: contextlib.AsyncExitStack, **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self._held = held

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
            await self._held.aclose()


async def _json_body(request: Request, model: Any) -> Any:
    from pydantic import ValidationError

    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the body is not valid JSON: {err}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(
            400,
            f"{where}: {first['msg']}" if where else first["msg"],
            code="invalid_value",
            param=where or None,
        ) from None


def _checked_session(session_id: str) -> str:
    try:
        return check_session_id(session_id)
    except ValueError as err:
        raise ApiError(400, str(err), code="invalid_session", param="user") from None


def _api_error(err: BaseException) -> ApiError:
    """The HTTP error for an exception raised while answering."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, ContextOverflowError):
        return ApiError(400, str(err), code="context_length_exceeded", param="messages")
    if isinstance(err, (ChainInputError, ConfigError, ToolBindingError, ValueError)):
        return ApiError(400, str(err), code="invalid_request")
    if isinstance(err, BackendConnectionError):
        return ApiError(503, str(err), code="backend_unavailable")
    if isinstance(err, SessionStoreError):
        return ApiError(503, str(err), code="session_store_error")
    if isinstance(err, LocalchainError):
        return ApiError(500, str(err), code="localchain_error")
    logger.exception("unexpected error while answering", exc_info=err)
    return ApiError(500, f"internal error: {type(err).__name__}: {err}", code="internal_error")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"msg": "invalid request", "loc": ()}
        error = ApiError(400, str(first.get("msg")), code="invalid_value")
        return JSONResponse(error.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        kind = ApiError.TYPES.get(err.status_code, "invalid_request_error")
        return JSONResponse(
            error_body(str(err.detail), kind, None),
            status_code=err.status_code,
            headers=getattr(err, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, err: Exception) -> JSONResponse:
        error = _api_error(err)
        return JSONResponse(error.body(), status_code=error.status)
