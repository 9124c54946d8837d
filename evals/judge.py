"""The judge: a Ragas LLM that gives every metric a validated pydantic answer.

Ragas 0.4's collection metrics call ``llm.generate(prompt, response_model)`` with the
pydantic model they expect back. :class:`ConstrainedJudge` answers that call:

* on llama.cpp (:class:`~localchain.models.LlamaCppChat`) the answer is decoded under the
  JSON schema's grammar, so it always parses. The schema is first tightened
  (:func:`judge_schema`): 0/1 verdicts may only be 0 or 1, lists and strings get an upper
  bound, so a small model cannot loop until ``max_tokens`` cuts the JSON. A retry, if one is
  ever needed, halves those bounds;
* any other LangChain chat model (OpenAI-compatible, Cohere) answers through its own
  ``with_structured_output``, or - where it has none - by parsing the JSON out of its text,
  with the validation error shown to it on a bounded number of retries.

Calls go through the model's lock (the llama.cpp engine's; a per-judge lock for a model that
holds a raw ``llama_cpp.Llama``), so concurrent metrics queue instead of crashing. The
judge counts calls, attempts, failures and time (:attr:`ConstrainedJudge.usage`), and
records each call into the trace opened by :func:`judge_trace`, which the harness uses to
show the judge's reasons per sample.

Example:
    >>> from ragas.metrics.collections import Faithfulness
    >>> judge = ConstrainedJudge()                 # the embedded model, greedy
    >>> metric = Faithfulness(llm=judge)
    >>> metric.score(user_input="Where is Paris?", response="Paris is in France.",
    ...              retrieved_contexts=["Paris is the capital of France."])  # doctest: +SKIP
    MetricResult(value=1.0)
    >>> judge.usage.calls                          # doctest: +SKIP
    2
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ValidationError
from ragas.llms.base import InstructorBaseRagasLLM

from localchain.errors import ConfigError, JudgeOutputError
from localchain.evals.results import JudgeUsage
from localchain.grammars import json_schema_grammar
from localchain.models.capabilities import capabilities

__all__ = ["ConstrainedJudge", "JudgeCall", "as_judge", "judge_grammar", "judge_schema",
           "judge_trace"]

T = TypeVar("T", bound=BaseModel)

_TRACE: ContextVar[list[JudgeCall] | None] = ContextVar("localchain_judge_trace", default=None)
_BINARY_NAMES = {"verdict", "attributed", "noncommittal"}
_BINARY_TEXT = re.compile(r"0\s*/\s*1|\b1 if\b|binary", re.IGNORECASE)


class JudgeCall(BaseModel):
    """One judge call as recorded in a trace.

    Example:
        >>> JudgeCall(schema_name="Verdict", output={"verdict": 1}).ok
        True
    """

    schema_name: str
    """Name of the pydantic model Ragas asked for."""
    output: dict[str, Any] | None = None
    """The validated answer, as a dict."""
    error: str | None = None
    """Why the call failed, when it did."""
    attempts: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the call returned a valid answer."""
        return self.error is None


@contextlib.contextmanager
def judge_trace() -> Iterator[list[JudgeCall]]:
    """Collect the judge calls made inside this block (this task or thread, and the tasks
    and threads it starts).

    Example:
        >>> with judge_trace() as calls:
        ...     pass
        >>> calls
        []
    """
    calls: list[JudgeCall] = []
    token = _TRACE.set(calls)
    try:
        yield calls
    finally:
        _TRACE.reset(token)


def judge_schema(
    model: type[BaseModel], *, max_items: int = 8, max_chars: int = 240, min_items: int = 0
) -> dict[str, Any]:
    """The JSON schema of ``model``, tightened for decoding by a small model.

    Integers described as 0/1 verdicts may only be 0 or 1; arrays get ``maxItems`` and
    free-text strings ``maxLength``, so every answer fits a known number of tokens.
    ``min_items`` sets ``minItems`` on arrays (see :class:`ConstrainedJudge` for why).

    Example:
        >>> from pydantic import Field
        >>> class Verdict(BaseModel):
        ...     reason: str
        ...     verdict: int = Field(description="Binary (0/1) verdict")
        >>> props = judge_schema(Verdict, max_chars=100)["properties"]
        >>> props["verdict"]["enum"], props["reason"]["maxLength"]
        ([0, 1], 100)
    """
    if max_items < 1 or max_chars < 1 or not 0 <= min_items <= max_items:
        raise ValueError(f"need 1 <= max_items, 1 <= max_chars and 0 <= min_items <= max_items, "
                         f"got {max_items}, {max_chars}, {min_items}")
    schema = copy.deepcopy(model.model_json_schema())

    def tighten(node: Any, name: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                tighten(item, None)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "integer" and "enum" not in node and (
            name in _BINARY_NAMES or _BINARY_TEXT.search(str(node.get("description", "")))
        ):
            node["enum"] = [0, 1]
        elif kind == "array":
            node["maxItems"] = min(node.get("maxItems", max_items), max_items)
            if min_items:
                node["minItems"] = max(node.get("minItems", 0), min_items)
        elif kind == "string" and not {"enum", "const", "pattern", "format"} & node.keys():
            node["maxLength"] = min(node.get("maxLength", max_chars), max_chars)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    tighten(sub, prop)
            elif key != "enum":
                tighten(value, None)

    tighten(schema, None)
    return schema




def judge_grammar(model: type[BaseModel], **bounds: int) -> str:
    r"""The GBNF grammar a llama.cpp judge decodes ``model`` under (see :func:`judge_schema`).

    Example:
        >>> class Claims(BaseModel):
        ...     claims: list[str]
        >>> r'char ::= [^"\\\x00-\x1F\x7F]' in judge_grammar(Claims, max_items=2)
        True
    """
    return json_schema_grammar(judge_schema(model, **bounds))


def _extract_json(text: str) -> str:
    """The JSON object in a free-text answer (code fences and chatter around it removed)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text.strip()


def _model_name(chat: BaseChatModel) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(chat, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(chat).__name__


class ConstrainedJudge(InstructorBaseRagasLLM):
    """A Ragas ``InstructorBaseRagasLLM`` over a LangChain chat model, schema-constrained.

    ``chat`` defaults to the embedded model (greedy). ``max_retries`` bounds the extra
    attempts after an invalid answer; ``max_items`` / ``max_chars`` bound lists and strings in
    the grammar; ``max_tokens`` is the answer budget of a grammar-constrained call.

    ``min_items`` (default 1) makes every list in a grammar-constrained answer non-empty.
    Ragas' metrics ask for lists (statements, claims, verdicts) only about non-empty text
    (the harness reports an empty answer before any judge call), so an empty list is never
    right there; measured on the embedded 135M model, without this bound it answered
    ``{"statements": []}`` - the shortest valid JSON - for all 34 calibration answers. Set 0
    to let the grammar allow empty lists (then such answers are "not scorable: no
    statements"). Judges without a grammar are not bounded this way.

    Example:
        >>> from pydantic import BaseModel
        >>> class Verdict(BaseModel):
        ...     verdict: int
        >>> judge = ConstrainedJudge(max_tokens=32)
        >>> judge.generate("Is 2 + 2 = 4? Answer 1 for yes.", Verdict)  # doctest: +SKIP
        Verdict(verdict=1)
    """

    def __init__(
        self,
        chat: BaseChatModel | None = None,
        *,
        max_retries: int = 2,
        max_items: int = 8,
        max_chars: int = 240,
        max_tokens: int = 1024,
        min_items: int = 1,
    ) -> None:
        if chat is None:
            from localchain.models.registry import load_chat_model

            chat = load_chat_model(temperature=0)
        if not isinstance(chat, BaseChatModel):
            raise ConfigError(
                f"the judge must be a LangChain chat model (BaseChatModel), not "
                f"{type(chat).__name__}; use load_chat_model(...) or a ChatOpenAI / ChatCohere"
            )
        if max_retries < 0 or max_tokens < 1:
            raise ValueError(f"max_retries must be >= 0 and max_tokens >= 1, got "
                             f"{max_retries}, {max_tokens}")
        self.chat = chat
        self.max_retries = max_retries
        self.max_items = max_items
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.min_items = min_items
        self.model_name = _model_name(chat)
        self._grammar = capabilities(chat).grammar
        # A raw llama_cpp.Llama (langchain-community's ChatLlamaCpp) crashes when two calls
        # overlap; localchain's own model locks in its engine, remote models need no lock.
        self._lock: threading.Lock | None = (
            threading.Lock() if type(getattr(chat, "client", None)).__name__ == "Llama" else None
        )
        self._usage = JudgeUsage()
        self._usage_lock = threading.Lock()

    @property
    def usage(self) -> JudgeUsage:
        """Calls, attempts, failures and seconds so far (a copy)."""
        with self._usage_lock:
            return self._usage.model_copy()

    def reset_usage(self) -> None:
        """Start counting from zero (the harness does this at the start of a run)."""
        with self._usage_lock:
            self._usage = JudgeUsage()

    def describe(self) -> dict[str, Any]:
        """The judge's model and settings, for run metadata."""
        return {
            "model": self.model_name,
            "backend": type(self.chat).__name__,
            "decoding": "json-schema grammar" if self._grammar else "structured output / parse",
            "max_retries": self.max_retries,
            "max_items": self.max_items,
            "max_chars": self.max_chars,
            "max_tokens": self.max_tokens,
            "min_items": self.min_items if self._grammar else 0,
            "temperature": getattr(self.chat, "temperature", None),
        }

    def generate(self, prompt: str, response_model: type[T]) -> T:  # type: ignore[override]
        """Answer ``prompt`` with a validated ``response_model`` instance (blocking)."""
        started = time.perf_counter()
        attempts, raw, error = 0, "", ""
        result: T | None = None
        feedback = ""
        try:
            for attempt in range(self.max_retries + 1):
                attempts += 1
                raw, result, error = self._attempt(prompt + feedback, response_model, attempt)
                if result is not None:
                    return result
                feedback = (
                    f"\n\nYour previous answer was not valid ({error[:300]}). Answer again with "
                    "only one JSON object that matches the schema."
                )
            raise JudgeOutputError(self.model_name, response_model.__name__, attempts, raw, error)
        except Exception as err:
            error = error or f"{type(err).__name__}: {err}"
            raise
        finally:
            self._record(response_model, result, error, attempts, time.perf_counter() - started)

    async def agenerate(self, prompt: str, response_model: type[T]) -> T:  # type: ignore[override]
        """Answer ``prompt`` with a validated ``response_model`` instance (async).

        The call runs on a worker thread, so waiting for the model lock never blocks the
        event loop; the logic is :meth:`generate`'s.
        """
        return await asyncio.to_thread(self.generate, prompt, response_model)

    def _attempt(
        self, prompt: str, model: type[T], attempt: int
    ) -> tuple[str, T | None, str]:
        lock = self._lock or contextlib.nullcontext()
        if self._grammar:
            # Each retry halves the bounds: a cut-off answer had more to say than fitted.
            shrink = 2**attempt
            max_items = max(1, self.max_items // shrink)
            grammar = judge_grammar(
                model,
                max_items=max_items,
                max_chars=max(16, self.max_chars // shrink),
                min_items=min(self.min_items, max_items),
            )
            message = self.chat.invoke(prompt, grammar=grammar, max_tokens=self.max_tokens)
            raw = str(message.content)
            return self._validate(model, raw)
        with lock:
            structured = self._structured(model)
            if structured is not None:
                try:
                    value = structured.invoke(prompt)
                except (ValidationError, ValueError) as err:
                    return "", None, f"{type(err).__name__}: {err}"
                if isinstance(value, model):
                    return value.model_dump_json(), value, ""
                return self._validate(model, json.dumps(value, default=str))
            schema = json.dumps(model.model_json_schema())
            message = self.chat.invoke(
                f"{prompt}\n\nAnswer with only one JSON object matching this JSON schema:\n{schema}"
            )
            return self._validate(model, _extract_json(str(message.content)))

    def _structured(self, model: type[BaseModel]) -> Any:
        try:
            return self.chat.with_structured_output(model)
        except NotImplementedError:
            return None

    @staticmethod
    def _validate(model: type[T], raw: str) -> tuple[str, T | None, str]:
        try:
            return raw, model.model_validate_json(raw), ""
        except ValidationError as err:
            error = str(err).replace("\n", " ")
        try:
            # A raw control character inside a string is the one slip worth repairing.
            return raw, model.model_validate(json.loads(raw, strict=False)), ""
        except (ValueError, ValidationError):
            return raw, None, error

    def _record(
        self, model: type[BaseModel], result: BaseModel | None, error: str, attempts: int,
        seconds: float,
    ) -> None:
        with self._usage_lock:
            self._usage.calls += 1
            self._usage.attempts += attempts
            self._usage.failures += result is None
            self._usage.seconds += seconds
        calls = _TRACE.get()
        if calls is not None:
            calls.append(JudgeCall(
                schema_name=model.__name__,
                output=result.model_dump() if result is not None else None,
                error=None if result is not None else (error or "no valid answer"),
                attempts=attempts,
                seconds=round(seconds, 3),
            ))


def as_judge(judge: ConstrainedJudge | BaseChatModel | None) -> ConstrainedJudge:
    """A :class:`ConstrainedJudge` from a judge, a chat model, or None (the embedded model).

    Example:
        >>> as_judge("gpt-4o")
        Traceback (most recent call last):
        ...
        localchain.errors.ConfigError: the judge must be a LangChain chat model (BaseChatModel), not str; use load_chat_model(...) or a ChatOpenAI / ChatCohere
    """
    if isinstance(judge, ConstrainedJudge):
        return judge
    if judge is not None and not isinstance(judge, BaseChatModel):
        raise ConfigError(
            f"the judge must be a LangChain chat model (BaseChatModel), not "
            f"{type(judge).__name__}; use load_chat_model(...) or a ChatOpenAI / ChatCohere"
        )
    return ConstrainedJudge(judge)
