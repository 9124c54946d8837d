"""Batched decoding: concurrent generations on one model share llama.cpp's decode steps.

A :class:`BatchScheduler` owns a llama.cpp context with ``n_parallel`` sequences (slots),
each with its own KV cache of ``n_ctx`` tokens. Requests that arrive while others generate
join the running batch (continuous batching): every step decodes one token of each running
sequence and, in the room left in the batch, the next chunk of a new prompt, so a long new
prompt does not stall the others. Each request samples with its own settings (temperature,
top-p/top-k, repeat penalty, seed), under its own grammar, with its own stop strings, and
streams its own text.

A finished request leaves its tokens in its slot's KV cache; the next request goes to the
slot holding the longest common prefix, so a chat's follow-up turn costs its new tokens
(``GenerationStats.cached_tokens`` reports the reuse), as with one sequence.

A cancelled request (a closed stream) stops at the next step and frees its slot. A request
that fails (the KV cache has no room, a grammar that dead-ends) fails alone.

The scheduler is used by :class:`~localchain.models.engine.LlamaCppEngine` when it is loaded
with ``n_parallel > 1``; with ``n_parallel=1`` the engine generates as before, one call at
a time under its lock.
"""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

from localchain.errors import ContextOverflowError, LocalchainError
from localchain.sampling import SamplingParams

__all__ = ["BatchScheduler", "DecodeError"]

_PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size
_MIN_P = 0.05  # llama-cpp-python's default min_p


class DecodeError(LocalchainError):
    """llama.cpp could not decode a step for this request (for example: no room left in
    the KV cache); the other requests of the batch go on."""


@dataclass
class _Request:
    tokens: list[int]
    params: SamplingParams
    stop: list[str]
    grammar: tuple[str, str] | None  # (GBNF text, root rule)
    emit: Callable[[str], None]
    cancel: threading.Event
    submitted: float
    on_done: Callable[[_Request], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stats: Any = None
    error: BaseException | None = None


@dataclass
class _Slot:
    seq: int
    cached: list[int] = field(default_factory=list)
    """Tokens whose keys and values are in this sequence's cache."""
    request: _Request | None = None
    chain: Any = None
    prompt_at: int = 0
    """Next prompt token to evaluate."""
    pending: int | None = None
    """A sampled token not yet evaluated (decoded at the next step)."""
    logits_at: int | None = None
    """Row of the last batch holding this slot's logits, when it has some to sample."""
    sampled: int = 0
    text: str = ""
    """Answer text kept back: it could still be the start of a stop string."""
    decoder: Any = None
    started: float = 0.0
    first_at: float = 0.0
    reused: int = 0


class BatchScheduler:
    """Runs the requests of one llama.cpp model together, ``n_parallel`` at a time.

    Args:
        llama: The loaded ``llama_cpp.Llama`` whose weights the scheduler's own context uses.
        n_parallel: Sequences decoded together (slots).
        n_ctx: Tokens of KV cache per slot.
        n_batch: Most tokens in one decode step (running sequences first, then prompt chunks).
        n_threads: CPU threads.
    """

    def __init__(
        self, llama: Any, *, n_parallel: int, n_ctx: int, n_batch: int, n_threads: int
    ) -> None:
        if n_parallel < 1:
            raise ValueError(f"n_parallel must be >= 1, got {n_parallel}")
        self.n_parallel = n_parallel
        self.n_batch = max(n_batch, n_parallel)
        self._model = llama._model.model
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        # The loaded model's own context settings (attention kernel, cache types, ...), so
        # answers match the single-sequence path's; only the sizes change.
        params = llama_cpp.llama_context_params.from_buffer_copy(llama.context_params)
        params.n_ctx = n_ctx * n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = n_parallel
        params.kv_unified = False  # each sequence owns n_ctx cells
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise LocalchainError(
                f"llama.cpp could not create a context of {n_parallel} x {n_ctx} tokens"
            )
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx)) // n_parallel
        """Tokens each slot holds (prompt plus answer)."""
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._slots = [_Slot(seq=i) for i in range(n_parallel)]
        self.peak_running = 0
        """The most requests that ran together so far (set it to 0 to measure again)."""
        self._waiting: deque[_Request] = deque()
        self._resets: list[threading.Event] = []
        self._wake = threading.Condition()
        self._closed = False
        self._piece = ctypes.create_string_buffer(256)
        self._thread = threading.Thread(target=self._loop, name="localchain-batch", daemon=True)
        self._thread.start()

    # -- the callers' side ---------------------------------------------------------------

    def submit(
        self,
        tokens: list[int],
        params: SamplingParams,
        *,
        stop: list[str] | None,
        grammar: tuple[str, str] | None,
        emit: Callable[[str], None],
        cancel: threading.Event,
        on_done: Callable[[_Request], None] | None = None,
    ) -> _Request:
        """Queue a generation; ``emit`` gets its text pieces (on the scheduler's thread) and
        the returned request's ``done`` is set when it ends (``stats`` or ``error``), after
        ``on_done(request)`` is called."""
        if len(tokens) >= self.n_ctx:
            raise ContextOverflowError(
                prompt_tokens=len(tokens), n_ctx=self.n_ctx, max_tokens=params.max_tokens
            )
        if not tokens:
            raise ValueError("a generation needs at least one prompt token")
        request = _Request(list(tokens), params, list(stop or []), grammar, emit, cancel,
                           time.perf_counter(), on_done)  # fmt: skip
        with self._wake:
            if self._closed:
                raise LocalchainError("the model was closed")
            self._waiting.append(request)
            self._wake.notify()
        return request

    def cached_prefix(self, tokens: list[int]) -> int:
        """The longest prefix of ``tokens`` some idle slot holds in its cache."""
        return max((_common(slot.cached, tokens) for slot in self._slots), default=0)

    def reset(self) -> None:
        """Forget the cache of every idle slot (running requests keep theirs); done by the
        scheduler's thread between two steps."""
        done = threading.Event()
        with self._wake:
            self._resets.append(done)
            self._wake.notify()
        done.wait(timeout=60)

    def close(self) -> None:
        """Stop the scheduler (waiting and running requests fail) and free the context."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)

    # -- the scheduler's thread ------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while (
                    not self._closed
                    and not self._waiting
                    and not self._resets
                    and not self._running()
                ):
                    self._wake.wait()
                if self._closed:
                    break
                self._forget_idle()
                self._admit()
            self._drop_cancelled()
            if self._running():
                self._step()
        error = LocalchainError("the model was closed")
        for slot in self._slots:
            if slot.request is not None:
                self._finish(slot, error=error)
        while self._waiting:
            request = self._waiting.popleft()
            request.error = error
            _done(request)

    def _forget_idle(self) -> None:
        for slot in self._slots:
            if slot.request is None and self._resets:
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
                slot.cached = []
        while self._resets:
            self._resets.pop().set()

    def _running(self) -> bool:
        return any(slot.request is not None for slot in self._slots)

    def _admit(self) -> None:
        """Give waiting requests the free slots, each the one sharing its longest prefix."""
        while self._waiting:
            free = [slot for slot in self._slots if slot.request is None]
            if not free:
                return
            request = self._waiting.popleft()
            if request.cancel.is_set():
                request.error = _Cancelled()
                _done(request)
                continue
            slot = max(free, key=lambda s: (_common(s.cached, request.tokens), -s.seq))
            self._start(slot, request)
            running = sum(s.request is not None for s in self._slots)
            self.peak_running = max(self.peak_running, running)

    def _start(self, slot: _Slot, request: _Request) -> None:
        # Reuse the cached prefix; at least the last prompt token is evaluated again, for
        # the logits of the first answer token.
        keep = min(_common(slot.cached, request.tokens), len(request.tokens) - 1)
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, keep, -1)
        slot.cached = request.tokens[:keep]
        slot.request = request
        slot.prompt_at = keep
        slot.reused = keep
        slot.pending = None
        slot.logits_at = None
        slot.sampled = 0
        slot.text = ""
        slot.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        slot.started = time.perf_counter()
        slot.first_at = 0.0
        try:
            slot.chain = self._sampler(request.params, request.grammar)
        except BaseException as err:  # noqa: BLE001 - this request fails, not the loop
            self._finish(slot, error=err)

    def _sampler(self, params: SamplingParams, grammar: tuple[str, str] | None) -> Any:
        """The sampler chain of one request, in llama-cpp-python's order."""
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        # Called as llama-cpp-python's own sampler calls it, so both paths penalise alike.
        n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        add(chain, llama_cpp.llama_sampler_init_penalties(
            n_vocab, _PENALTY_LAST_N, params.repeat_penalty, 0.0, 0.0))  # fmt: skip
        if grammar is not None:
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._vocab, grammar[0].encode("utf-8"), grammar[1].encode("utf-8")
            )
            if not sampler:
                llama_cpp.llama_sampler_free(chain)
                raise ValueError("the grammar does not parse")
            add(chain, sampler)
        if params.temperature == 0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
            add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
            add(chain, llama_cpp.llama_sampler_init_min_p(_MIN_P, 1))
            add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
            add(chain, llama_cpp.llama_sampler_init_dist(params.seed & 0xFFFFFFFF))
        return chain

    def _drop_cancelled(self) -> None:
        for slot in self._slots:
            if slot.request is not None and slot.request.cancel.is_set():
                self._finish(slot, reason="stop", emit_rest=False)

    def _step(self) -> None:
        """One llama_decode: a token of every running answer, then prompt chunks."""
        batch = self._batch
        rows: list[tuple[_Slot, int]] = []
        n = 0
        for slot in self._slots:
            if slot.request is not None and slot.pending is not None:
                self._put(n, slot.pending, len(slot.cached), slot.seq, True)
                slot.cached.append(slot.pending)
                slot.pending = None
                rows.append((slot, n))
                n += 1
        for slot in self._slots:
            request = slot.request
            if request is None or slot.prompt_at >= len(request.tokens) or n >= self.n_batch:
                continue
            chunk = request.tokens[slot.prompt_at : slot.prompt_at + self.n_batch - n]
            for offset, token in enumerate(chunk):
                last = slot.prompt_at + offset == len(request.tokens) - 1
                self._put(n, token, len(slot.cached), slot.seq, last)
                slot.cached.append(token)
                if last:
                    rows.append((slot, n))
                n += 1
            slot.prompt_at += len(chunk)
        if n == 0:
            return
        batch.n_tokens = n
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            self._fail_batch(status, [slot for slot, _ in rows] or self._prefilling())
            return
        for slot, row in rows:
            if slot.request is not None:
                self._sample(slot, row)

    def _prefilling(self) -> list[_Slot]:
        return [s for s in self._slots if s.request is not None and s.pending is None]

    def _put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    def _fail_batch(self, status: int, slots: list[_Slot]) -> None:
        reason = (
            "no room left in the KV cache" if status == 1 else f"llama_decode returned {status}"
        )
        for slot in slots:
            # The step's tokens may be half in the cache: forget this sequence's cache.
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
            slot.cached = []
            self._finish(slot, error=DecodeError(f"decoding failed: {reason}"))

    def _sample(self, slot: _Slot, row: int) -> None:
        request = slot.request
        assert request is not None
        try:
            token = llama_cpp.llama_sampler_sample(slot.chain, self._ctx, row)
        except BaseException as err:  # noqa: BLE001 - this request fails, not the loop
            self._finish(slot, error=err)
            return
        if slot.sampled == 0:
            slot.first_at = time.perf_counter()
        slot.sampled += 1
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, reason="stop")
            return
        size = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece, 256, 0, False)
        piece = slot.decoder.decode(self._piece.raw[: max(size, 0)])
        if self._emit(slot, piece):
            return
        if slot.sampled >= request.params.max_tokens or len(slot.cached) + 1 >= self.n_ctx:
            self._finish(slot, reason="length")
            return
        slot.pending = token

    def _emit(self, slot: _Slot, piece: str) -> bool:
        """Hand on the text that can no longer turn into a stop string; True when a stop
        string ended the answer."""
        request = slot.request
        assert request is not None
        text = slot.text + piece
        hits = [i for i in (text.find(s) for s in request.stop if s) if i >= 0]
        if hits:
            cut = min(hits)
            if cut:
                request.emit(text[:cut])
            slot.text = ""
            self._finish(slot, reason="stop", emit_rest=False)
            return True
        held = max((_overlap(text, s) for s in request.stop if s), default=0)
        ready = text[: len(text) - held] if held else text
        if ready:
            request.emit(ready)
        slot.text = text[len(ready) :]
        return False

    def _finish(
        self,
        slot: _Slot,
        *,
        reason: str = "stop",
        error: BaseException | None = None,
        emit_rest: bool = True,
    ) -> None:
        from localchain.models.engine import GenerationStats

        request = slot.request
        if request is None:
            return
        if error is None and emit_rest:
            rest = slot.text + (slot.decoder.decode(b"", final=True) if slot.decoder else "")
            if rest:
                request.emit(rest)
        ended = time.perf_counter()
        first = slot.first_at or ended
        if error is None:
            request.stats = GenerationStats(
                prompt_tokens=len(request.tokens),
                cached_tokens=slot.reused,
                completion_tokens=slot.sampled,
                finish_reason=reason,
                prompt_eval_s=first - slot.started,
                generation_s=ended - first,
                queued_s=slot.started - request.submitted,
            )
        request.error = error
        if slot.chain is not None:
            llama_cpp.llama_sampler_free(slot.chain)
        slot.chain = None
        slot.request = None
        slot.pending = None
        slot.text = ""
        _done(request)


def _done(request: _Request) -> None:
    if request.on_done is not None:
        request.on_done(request)
    request.done.set()


class _Cancelled(Exception):
    """The caller stopped listening before the request started."""


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that is a start of ``stop``."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
