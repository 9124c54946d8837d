"""One llama.cpp context, its lock, and token-level generation.

A ``llama_cpp.Llama`` is not thread-safe: two calls at once crash the process. Every
localchain model that uses a GGUF goes through a :class:`LlamaCppEngine`, which holds the
context and a lock, so concurrent callers (threads, ``batch``, asyncio) queue.

Engines are shared: loading the same file with the same context settings twice returns
the same engine (and the same KV cache), through :func:`get_engine`.

The KV cache keeps the tokens of the last call; llama-cpp-python re-evaluates only the part
of a new prompt after the longest common prefix, so a chat turn costs the new tokens, not
the whole history. :attr:`GenerationStats.cached_tokens` reports how many were reused.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp import Llama, LlamaGrammar, StoppingCriteriaList
from llama_cpp.llama_grammar import JSON_GBNF

from localchain.errors import ConfigError, ContextOverflowError, ModelLoadError
from localchain.gguf import GGUFInfo, read_gguf_info
from localchain.grammars import json_schema_grammar
from localchain.models.batching import BatchScheduler
from localchain.sampling import DEFAULT_SAMPLING, SamplingParams

__all__ = [
    "ContextOptions",
    "GenerationStats",
    "LlamaCppEngine",
    "SamplingParams",
    "get_engine",
    "unload_engines",
]
# SamplingParams lives in localchain.sampling; it is imported here for existing callers.


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def available_memory_bytes() -> int | None:
    """Memory the system can still give a process (``MemAvailable``), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_memory(info: GGUFInfo, n_ctx: int) -> None:
    """Refuse a context the machine cannot hold, before llama.cpp tries to allocate it
    (``n_ctx=999999999`` otherwise allocates gigabytes for many seconds, then fails)."""
    kv = info.kv_cache_bytes(n_ctx)
    free = available_memory_bytes()
    if kv is None or free is None or kv + info.size_bytes <= free:
        return
    trained = (
        f"; the model was trained with {info.context_length} tokens"
        if (info.context_length)
        else ""
    )
    raise ConfigError(
        f"n_ctx={n_ctx} needs about {kv / 2**30:,.1f} GiB for the KV cache (plus "
        f"{info.size_bytes / 2**30:,.1f} GiB of weights), more than the "
        f"{free / 2**30:,.1f} GiB of memory available{trained}. Lower n_ctx "
        "(LOCALCHAIN_N_CTX)."
    )


@dataclass(frozen=True)
class _Failed:
    """An error raised while generating on the worker thread, for the reader to raise."""

    error: BaseException


@dataclass(frozen=True)
class ContextOptions:
    """The settings that shape a llama.cpp context; one engine per file and options.

    Example:
        >>> ContextOptions(n_ctx=2048) == ContextOptions(n_ctx=2048, seed=42)
        True
    """

    n_ctx: int = 4096
    """Context window in tokens."""
    n_threads: int = 1
    """CPU threads for prompt evaluation and decoding."""
    n_batch: int = 512
    """Prompt tokens per llama.cpp batch (at most ``n_ctx``)."""
    seed: int = DEFAULT_SAMPLING.seed
    """The context's random seed (each call also seeds its own sampling)."""
    embedding: bool = False
    """Load for embeddings (mean pooling) instead of generation."""
    verbose: bool = False
    """Let llama.cpp log to stderr."""
    n_parallel: int = 1
    """Generations decoded together (batched decoding, each with ``n_ctx`` tokens of its
    own); 1 generates one call at a time under the lock."""


@dataclass
class GenerationStats:
    """Token counts and timings of one generation.

    A llama.cpp chat reply carries them as ``response_metadata["timings"]``.

    Example:
        >>> stats = GenerationStats(prompt_tokens=120, cached_tokens=100, completion_tokens=8,
        ...                         prompt_eval_s=0.05, generation_s=0.2)
        >>> stats.total_s
        0.25
        >>> stats.as_metadata()["tokens_per_s"]
        40.0
    """

    prompt_tokens: int
    """Tokens in the prompt."""
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache instead of evaluated again."""
    completion_tokens: int = 0
    """Tokens sampled (including the end-of-turn token)."""
    finish_reason: str = "stop"
    """``stop`` (end of turn or a stop string) or ``length`` (max_tokens or context full)."""
    prompt_eval_s: float = 0.0
    """Seconds until the first token: prompt evaluation plus the first sample."""
    generation_s: float = 0.0
    """Seconds from the first token to the end."""
    queued_s: float = 0.0
    """Seconds spent waiting for the model lock."""

    @property
    def total_s(self) -> float:
        """Seconds from start of evaluation to the end (excluding queueing)."""
        return self.prompt_eval_s + self.generation_s

    def as_metadata(self) -> dict[str, Any]:
        """The stats as a JSON-ready dict for response metadata."""
        tps = self.completion_tokens / self.generation_s if self.generation_s > 0 else None
        return {
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "prompt_eval_s": round(self.prompt_eval_s, 4),
            "generation_s": round(self.generation_s, 4),
            "total_s": round(self.total_s, 4),
            "queued_s": round(self.queued_s, 4),
            "tokens_per_s": round(tps, 2) if tps else None,
        }


class LlamaCppEngine:
    """A loaded GGUF model with one context and the lock that guards it.

    Example:
        >>> from localchain.models.embedded import embedded_model_path
        >>> engine = get_engine(embedded_model_path(), n_ctx=2048)
        >>> len(engine.tokenize("Hello world", add_bos=False)) > 0
        True
    """

    def __init__(self, path: str | Path, **options: Any) -> None:
        self.path = Path(path).expanduser().resolve()
        self.options = ContextOptions(**options)
        """The settings the context was loaded with (the engine cache's key)."""
        n_ctx, n_threads = self.options.n_ctx, self.options.n_threads
        self.embedding = embedding = self.options.embedding
        self.n_parallel = n_parallel = self.options.n_parallel
        if n_parallel < 1:
            raise ConfigError(f"n_parallel must be at least 1, got {n_parallel}")
        if embedding and n_parallel > 1:
            raise ConfigError("an embedding engine decodes no answers: n_parallel must be 1")
        self.info: GGUFInfo = read_gguf_info(self.path)
        trained = self.info.context_length
        _check_memory(self.info, n_ctx * n_parallel)
        if trained and n_ctx > trained:
            warnings.warn(
                f"n_ctx={n_ctx} is larger than the {trained} tokens {self.path.name} was "
                "trained with; answers past that length degrade",
                stacklevel=2,
            )
        extra: dict[str, Any] = {"n_batch": min(self.options.n_batch, n_ctx)}
        if embedding:
            # Mean pooling chosen explicitly (a chat model's GGUF declares none), and one
            # batch holds a whole text: llama-cpp-python cuts texts to n_batch.
            extra = {
                "embedding": True,
                "pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                "n_batch": n_ctx,
                "n_ubatch": n_ctx,
            }
        if n_parallel > 1:
            # The batch scheduler has a context of its own; this one only tokenizes.
            extra["n_batch"] = min(self.options.n_batch, 256)
        try:
            self.llama = Llama(
                model_path=str(self.path),
                n_ctx=n_ctx if n_parallel == 1 else 256,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=self.options.seed,
                verbose=self.options.verbose,
                **extra,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelLoadError(str(self.path), f"llama.cpp refused it: {err}") from err
        self.scheduler: BatchScheduler | None = None
        if n_parallel > 1:
            self.scheduler = BatchScheduler(
                self.llama, n_parallel=n_parallel, n_ctx=n_ctx, n_batch=self.options.n_batch,
                n_threads=n_threads,
            )  # fmt: skip
            self.n_ctx = self.scheduler.n_ctx
        else:
            self.n_ctx = self.llama.n_ctx()
        self.lock = threading.Lock()
        model = self.llama._model
        self.add_bos = bool(model.add_bos_token())
        bos, eos = self.llama.token_bos(), self.llama.token_eos()
        self.bos_token = model.token_get_text(bos) if bos != -1 else ""
        self.eos_token = model.token_get_text(eos) if eos != -1 else ""
        self._grammars: dict[str, LlamaGrammar] = {}

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        """Tokens of ``text``; special tokens such as ``<|im_start|>`` are recognised."""
        # Undecodable input bytes reach Python as lone surrogates (stdin, argv); they have
        # no UTF-8 form, so they become U+FFFD instead of an encoding error.
        data = _LONE_SURROGATE.sub("\ufffd", text)
        return self.llama.tokenize(data.encode("utf-8"), add_bos=add_bos, special=True)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled, normalized embeddings of ``texts`` (an engine loaded with
        ``embedding=True``); texts longer than the context are cut to it."""
        if not self.embedding:
            raise ConfigError("this engine was not loaded for embeddings (embedding=True)")
        with self.lock:
            # One by one: llama-cpp-python's batched embed mixes sequences whose total
            # passes n_batch into one decode, which the window size here does not allow.
            return [
                [float(x) for x in self.llama.embed(text, normalize=True, truncate=True)]
                for text in texts
            ]

    @property
    def n_embd(self) -> int:
        """Size of the model's hidden state (the embedding dimension)."""
        return int(self.llama.n_embd())

    def grammar(self, gbnf: str) -> LlamaGrammar:
        """Compile and check a GBNF grammar (cached); a bad grammar raises ConfigError."""
        cached = self._grammars.get(gbnf)
        if cached is not None:
            return cached
        # llama.cpp returns NULL for a grammar it cannot parse; a NULL sampler would crash
        # generation later, so try it here first.
        sampler = llama_cpp.llama_sampler_init_grammar(
            self.llama._model.vocab, gbnf.encode("utf-8"), b"root"
        )
        if not sampler:
            raise ConfigError(
                "the GBNF grammar does not parse (llama.cpp rejected it; it needs a `root` "
                "rule). Check it with llama.cpp's grammar docs."
            )
        llama_cpp.llama_sampler_free(sampler)
        compiled = LlamaGrammar.from_string(gbnf, verbose=False)
        self._grammars[gbnf] = compiled
        return compiled

    def stream(
        self,
        tokens: list[int],
        params: SamplingParams,
        *,
        stop: list[str] | None = None,
        grammar: LlamaGrammar | None = None,
    ) -> Iterator[str | GenerationStats]:
        """Generate from prompt tokens: yields text pieces, then one GenerationStats.

        Generation starts at the first ``next()`` and runs on a worker thread that holds the
        lock only while it generates: a caller that stops reading does not hold the model
        (the answer, at most ``max_tokens``, waits in a buffer), and closing the iterator
        stops generation within a token. Raises ContextOverflowError (before touching
        llama.cpp) when the prompt leaves no room for an answer.
        """
        self._check_fits(tokens, params)
        pieces: queue.SimpleQueue[Any] = queue.SimpleQueue()
        cancel = threading.Event()
        waited = time.perf_counter()
        if self.scheduler is not None:
            self.scheduler.submit(
                tokens, params, stop=stop, grammar=_grammar_source(grammar), emit=pieces.put,
                cancel=cancel, on_done=lambda r: pieces.put(r.stats if r.error is None
                                                             else _Failed(r.error)),
            )  # fmt: skip
        else:

            def produce() -> None:
                try:
                    pieces.put(self._run(tokens, params, stop, grammar, pieces.put, cancel, waited))
                except BaseException as err:  # handed to the reader, who raises it
                    pieces.put(_Failed(err))

            worker = threading.Thread(target=produce, name="localchain-generate", daemon=True)
            worker.start()
        try:
            while True:
                item = pieces.get()
                if isinstance(item, _Failed):
                    raise item.error
                yield item
                if isinstance(item, GenerationStats):
                    return
        finally:
            cancel.set()

    def complete(
        self,
        tokens: list[int],
        params: SamplingParams,
        *,
        stop: list[str] | None = None,
        grammar: LlamaGrammar | None = None,
    ) -> tuple[str, GenerationStats]:
        """Generate the whole answer at once (no per-token Python work while sampling)."""
        self._check_fits(tokens, params)
        parts: list[str] = []
        if self.scheduler is not None:
            request = self.scheduler.submit(
                tokens,
                params,
                stop=stop,
                grammar=_grammar_source(grammar),
                emit=parts.append,
                cancel=threading.Event(),
            )
            request.done.wait()
            if request.error is not None:
                raise request.error
            return "".join(parts), request.stats
        stats = self._run(
            tokens, params, stop, grammar, parts.append, None, time.perf_counter(), stream=False
        )
        return "".join(parts), stats

    def _check_fits(self, tokens: list[int], params: SamplingParams) -> None:
        if len(tokens) >= self.n_ctx:
            raise ContextOverflowError(
                prompt_tokens=len(tokens), n_ctx=self.n_ctx, max_tokens=params.max_tokens
            )

    def _run(
        self,
        tokens: list[int],
        params: SamplingParams,
        stop: list[str] | None,
        grammar: LlamaGrammar | None,
        emit: Callable[[str], None],
        cancel: threading.Event | None,
        waited: float,
        *,
        stream: bool = True,
    ) -> GenerationStats:
        """One generation under the lock; text goes to ``emit``, the stats are returned."""
        with self.lock:
            started = time.perf_counter()
            stats = GenerationStats(
                prompt_tokens=len(tokens),
                cached_tokens=self._cached_prefix(tokens),
                queued_s=started - waited,
            )
            sampled = 0
            first_at = 0.0

            def count(_ids: Any, _logits: Any) -> bool:
                nonlocal sampled, first_at
                if sampled == 0:
                    first_at = time.perf_counter()
                sampled += 1
                return cancel is not None and cancel.is_set()

            result = self.llama.create_completion(
                tokens,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
                repeat_penalty=params.repeat_penalty,
                seed=params.seed,
                stop=stop or [],
                grammar=grammar,
                stopping_criteria=StoppingCriteriaList([count]),
                stream=stream,
            )
            if stream:
                try:
                    for chunk in result:
                        choice = chunk["choices"][0]
                        if choice["text"]:
                            emit(choice["text"])
                        if choice.get("finish_reason"):
                            stats.finish_reason = choice["finish_reason"]
                finally:
                    result.close()
            else:
                choice = result["choices"][0]
                stats.finish_reason = choice.get("finish_reason") or "stop"
                if choice["text"]:
                    emit(choice["text"])
            ended = time.perf_counter()
            first_at = first_at or ended
            # llama-cpp-python calls the criteria once per sampled token and once more
            # after its loop ends.
            stats.completion_tokens = max(sampled - 1, 0)
            stats.prompt_eval_s = first_at - started
            stats.generation_s = ended - first_at
            return stats

    def _cached_prefix(self, tokens: list[int]) -> int:
        n = 0
        for cached, new in zip(self.llama._input_ids[: self.llama.n_tokens], tokens):
            if cached != new:
                break
            n += 1
        return n

    def reset(self) -> None:
        """Forget the KV cache, so the next prompt is evaluated from scratch."""
        if self.scheduler is not None:
            self.scheduler.reset()
        with self.lock:
            self.llama.reset()

    def close(self) -> None:
        """Free the model and its context."""
        if self.scheduler is not None:
            self.scheduler.close()
        with self.lock:
            self.llama.close()


def _grammar_source(grammar: LlamaGrammar | None) -> tuple[str, str] | None:
    """The GBNF text and root rule of a compiled grammar, for the batch scheduler."""
    if grammar is None:
        return None
    return grammar._grammar, getattr(grammar, "_root", "root")


def grammar_text(
    *,
    grammar: str | None = None,
    json_schema: dict[str, Any] | type | None = None,
    response_format: dict[str, Any] | None = None,
) -> str | None:
    """The GBNF text for a call's constraint options, or None when unconstrained.

    ``grammar`` is GBNF text; ``json_schema`` a JSON schema dict or a pydantic model class;
    ``response_format`` the OpenAI form (``{"type": "json_object"}`` or
    ``{"type": "json_schema", "json_schema": {"schema": {...}}}``).
    """
    chosen = [x for x in (grammar, json_schema, response_format) if x is not None]
    if len(chosen) > 1:
        raise ConfigError("give only one of grammar, json_schema and response_format")
    if grammar is not None:
        return grammar
    if response_format is not None:
        kind = response_format.get("type")
        if kind == "json_object" and "schema" not in response_format:
            return JSON_GBNF
        if kind == "json_object":
            json_schema = response_format["schema"]
        elif kind == "json_schema":
            inner = response_format.get("json_schema", {})
            json_schema = inner.get("schema", inner)
        elif kind == "text":
            return None
        else:
            raise ConfigError(f"unsupported response_format type {kind!r}")
    if json_schema is None:
        return None
    if isinstance(json_schema, type) and hasattr(json_schema, "model_json_schema"):
        json_schema = json_schema.model_json_schema()
    try:
        return json_schema_grammar(json_schema)
    except Exception as err:
        raise ConfigError(f"cannot turn the JSON schema into a grammar: {err}") from err


_ENGINES: dict[tuple[str, ContextOptions], LlamaCppEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(path: str | Path, **options: Any) -> LlamaCppEngine:
    """The shared engine for this file and context settings (:class:`ContextOptions`:
    ``n_ctx``, ``n_threads``, ``n_batch``, ``seed``, ``embedding``, ``verbose``,
    ``n_parallel``), loaded on first use.

    Every setting that shapes the context is part of the key: the same file with another
    ``n_ctx``, thread count, batch size, seed or embedding mode is another engine.

    Example:
        >>> from localchain.models import embedded_model_path
        >>> engine = get_engine(embedded_model_path(), n_ctx=512)
        >>> engine is get_engine(embedded_model_path(), n_ctx=512)     # one model, one lock
        True
    """
    resolved = Path(path).expanduser().resolve()
    key = (str(resolved), ContextOptions(**options))
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = LlamaCppEngine(resolved, **options)
            _ENGINES[key] = engine
        return engine


def unload_engines() -> None:
    """Free every loaded model (the next use loads it again).

    Models built before hold the freed engine: build them again after this.

    Example:
        >>> from localchain.models import embedded_model_path
        >>> engine = get_engine(embedded_model_path(), n_ctx=512)
        >>> unload_engines()
        >>> get_engine(embedded_model_path(), n_ctx=512) is engine
        False
    """
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.close()
