"""Run a blocking iterator on its own thread and consume it from asyncio.

LangChain's default async path runs each ``next()`` of a sync stream as a separate job on
the event loop's shared executor. With a model lock that is a deadlock waiting to happen:
every pool thread can end up blocked on the lock while the stream that holds it waits for a
free thread. A dedicated thread per stream cannot starve that way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield the items of ``make_iterator()``, which runs on a new daemon thread.

    Exceptions are re-raised in the consumer. If the consumer stops early, the producer is
    told to stop and its iterator is closed (releasing any lock it holds).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancelled = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop was closed under us: nobody is listening
            cancelled.set()

    def produce() -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = make_iterator()
            for item in iterator:
                if cancelled.is_set():
                    break
                put(item)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer to re-raise
            put(_Failure(err))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            put(_DONE)

    thread = threading.Thread(target=produce, name="localchain-generate", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
