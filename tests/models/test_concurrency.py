"""One model, many callers: threads and asyncio queue on the model lock instead of crashing."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from localchain.models import LlamaCppChat

QUESTIONS = [f"What is {n} + {n}? Answer with a number." for n in range(1, 9)]


def _valid(reply: object) -> bool:
    content = getattr(reply, "content", "")
    usage = getattr(reply, "usage_metadata", None) or {}
    return isinstance(content, str) and content.strip() != "" and usage.get("output_tokens", 0) > 0


def test_eight_threads_one_model(chat: LlamaCppChat) -> None:
    expected = [chat.invoke(q).content for q in QUESTIONS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(chat.invoke, QUESTIONS))
    assert all(_valid(r) for r in replies)
    # Serialised on one context at temperature 0: the same answers as one by one.
    assert [r.content for r in replies] == expected
    queued = [r.response_metadata["timings"]["queued_s"] for r in replies]
    assert max(queued) > 0


def test_eight_threads_streaming(chat: LlamaCppChat) -> None:
    def stream(question: str) -> str:
        return "".join(str(chunk.content) for chunk in chat.stream(question))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(stream, QUESTIONS))
    assert all(answer.strip() for answer in answers)


async def test_asyncio_gather_invoke_and_stream(chat: LlamaCppChat) -> None:
    replies = await asyncio.gather(*(chat.ainvoke(q) for q in QUESTIONS))
    assert all(_valid(r) for r in replies)

    async def stream(question: str) -> str:
        return "".join([str(chunk.content) async for chunk in chat.astream(question)])

    # More concurrent streams than the default executor has threads: must not deadlock.
    answers = await asyncio.wait_for(
        asyncio.gather(*(stream(q) for q in QUESTIONS * 2)), timeout=600
    )
    assert [a for a in answers[:8]] == [r.content for r in replies]


def test_batch_with_concurrency(chat: LlamaCppChat) -> None:
    replies = chat.batch(QUESTIONS, config={"max_concurrency": 8})
    assert len(replies) == 8 and all(_valid(r) for r in replies)


async def test_abandoned_stream_releases_the_lock(chat: LlamaCppChat) -> None:
    async for _chunk in chat.astream("Write a long story about a dragon."):
        break
    # If the lock were still held this would hang; the timeout turns that into a failure.
    reply = await asyncio.wait_for(chat.ainvoke(QUESTIONS[0]), timeout=120)
    assert _valid(reply)
    for _chunk in chat.stream("Write a long story about a dragon."):
        break
    assert _valid(chat.invoke(QUESTIONS[1]))


def test_a_held_stream_does_not_block_other_callers(chat: LlamaCppChat) -> None:
    """A stream whose reader stops after the first piece used to hold the model until it was
    read to the end (forever, if never): now its answer waits in a buffer."""
    import threading

    expected = chat.invoke("Count from one to ten.").content
    held = chat.stream("Count from one to ten.")
    first = next(held)
    done: list[str] = []
    other = threading.Thread(target=lambda: done.append(chat.invoke("What is 2 + 2?").content))
    other.start()
    other.join(timeout=120)  # a bound on a hang, not a speed check
    assert not other.is_alive() and done and done[0].strip()
    # The held stream still gives its whole answer, the same as an unheld one.
    rest = "".join(chunk.content for chunk in held)
    assert first.content + rest == expected


def test_closing_a_stream_stops_generation_within_a_token(chat: LlamaCppChat) -> None:
    engine = chat.engine
    tokens = chat._tokens(chat._convert_input("Write a long story about a dragon.").to_messages())
    from localchain.sampling import SamplingParams

    stream = engine.stream(tokens, SamplingParams(max_tokens=200))
    next(stream)
    stream.close()
    # The lock is free again once the worker has seen the cancel (at its next token).
    assert engine.lock.acquire(timeout=60)
    try:
        # What the context evaluated: the prompt and a few tokens, not the 200 asked for.
        assert engine.llama.n_tokens <= len(tokens) + 4
    finally:
        engine.lock.release()
    text, stats = engine.complete(tokens, SamplingParams(max_tokens=4))
    assert stats.completion_tokens <= 4 and text
