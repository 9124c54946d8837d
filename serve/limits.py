"""What keeps the server safe under load: the queue, body and answer caps, the API key.

Requests wait for the model in a bounded queue (:class:`ModelGate`): one answers while up
to ``max_queue`` wait; the next one gets a 429 at once, with a ``Retry-After`` estimated
from recent answer times. Waiting happens on the event loop, so a queued request holds no
thread and no model state, and a client that gives up while queued costs nothing.

Example:
    >>> ServeLimits(max_queue=4).max_queue
    4
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from localchain.serve.protocol import ApiError

__all__ = ["ApiKeyGuard", "BodyLimit", "ModelGate", "ServeLimits", "bearer_matches"]


@dataclass(frozen=True)
class ServeLimits:
    """Bounds of one server.

    Example:
        >>> ServeLimits().max_body_bytes
        1000000
    """

    max_queue: int = 8
    """Requests that may wait while one is answered; more get 429 at once."""
    parallel: int = 1
    """Requests answered at the same time (one per model slot)."""
    max_body_bytes: int = 1_000_000
    """Largest request body; a bigger one gets 413 before it is read."""
    max_tokens: int = 1024
    """Largest ``max_tokens`` a request may ask for (400 above it)."""
    timeout_s: float = 300.0
    """Seconds a request may take, queueing included (504, or the stream ends)."""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_tokens", "parallel"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must be >= 0, got {self.max_queue}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


class ModelGate:
    """The model's queue: :meth:`slot` waits for a turn, or refuses when the queue is full.

    Example:
        >>> import asyncio
        >>> async def two():
        ...     gate = ModelGate(parallel=1, max_queue=0)
        ...     async with gate.slot(deadline=time.monotonic() + 5):
        ...         try:
        ...             async with gate.slot(deadline=time.monotonic() + 5):
        ...                 pass
        ...         except ApiError as err:
        ...             return err.status, "Retry-After" in err.headers
        >>> asyncio.run(two())
        (429, True)
    """

    def __init__(self, *, parallel: int = 1, max_queue: int = 8) -> None:
        self.parallel = parallel
        self.max_queue = max_queue
        self.running = 0
        self.waiting = 0
        self._free = asyncio.Condition()
        self._durations: deque[float] = deque(maxlen=20)

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the queue ahead times the mean answer."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 1.0
        ahead = self.running + self.waiting
        return max(1, math.ceil(mean * ahead / self.parallel))

    @asynccontextmanager
    async def slot(
        self,
        *,
        deadline: float,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[None]:
        """Hold a place at the model until the block ends.

        Raises ApiError 429 when ``max_queue`` requests already wait, 504 when the
        deadline passes in the queue, and 499 (client closed) when ``gone()`` says so.
        """
        if self.running >= self.parallel and self.waiting >= self.max_queue:
            raise ApiError(
                429,
                f"the server is busy: {self.running} answering and {self.waiting} waiting "
                f"(--max-queue {self.max_queue}); retry later",
                code="queue_full",
                headers={"Retry-After": str(self.retry_after())},
            )
        self.waiting += 1
        try:
            async with self._free:
                while self.running >= self.parallel:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ApiError(504, "timed out waiting for the model", code="timeout")
                    try:
                        await asyncio.wait_for(self._free.wait(), timeout=min(left, 0.5))
                    except TimeoutError:
                        if gone is not None and await gone():
                            raise ApiError(
                                499, "the client closed the request", code="client_closed"
                            ) from None
                self.running += 1
        finally:
            self.waiting -= 1
        started = time.monotonic()
        try:
            yield
        finally:
            self._durations.append(time.monotonic() - started)
            async with self._free:
                self.running -= 1
                self._free.notify()


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` gets 413 without being read to the end.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a
    chunked body is counted as it arrives.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_error(send, self._too_large())
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()  # an ApiError: the app answers it with 413
            return message

        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except _BodyTooLarge as error:
            if not started:
                await _send_error(send, error)

    def _too_large(self) -> _BodyTooLarge:
        return _BodyTooLarge(
            413, f"the request body is larger than {self.max_bytes} bytes", code="body_too_large"
        )


class _BodyTooLarge(ApiError):
    """A body over the limit, found while it was read."""


class ApiKeyGuard:
    """ASGI middleware: every ``/v1/`` request needs ``Authorization: Bearer <key>`` (401
    otherwise); the page and its assets load without it."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/v1/"):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not bearer_matches(header.decode("latin-1"), self.key):
                error = ApiError(401, "missing or wrong API key: send Authorization: Bearer "
                                 "<key>", code="invalid_api_key",
                                 headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
                await _send_error(send, error)
                return
        await self.app(scope, receive, send)


async def _send_error(send: Any, error: ApiError) -> None:
    import json

    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]  # fmt: skip
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def bearer_matches(header: str | None, key: str) -> bool:
    """True when ``Authorization`` is ``Bearer <key>``, compared in constant time.

    Example:
        >>> bearer_matches("Bearer s3cret", "s3cret"), bearer_matches("Bearer nope", "s3cret")
        (True, False)
    """
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), key.encode())
