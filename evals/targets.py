"""Run an evaluation target and read its answer and contexts, whatever shape they come in.

A target is a LangChain ``Runnable`` (invoked with the question text), a plain function of
the question, or an async function. Its output may be:

* the dict of localchain's RAG chain (:func:`localchain.chains.rag_chain`): ``answer`` and
  ``sources`` (``[{"number", "id", "text", "metadata"}, ...]``), see :func:`from_rag_output`;
* any dict with an answer (``answer`` / ``response`` / ``output`` / ``result``) and contexts
  (``contexts`` / ``retrieved_contexts`` / ``sources`` / ``source_documents`` /
  ``documents`` / ``context``) as texts, Documents or dicts;
* an ``(answer, contexts)`` pair, a message, a pydantic model, or a bare answer text.

Example:
    >>> out = normalize_output({"answer": "Paris [1]", "sources": [
    ...     {"number": 1, "id": "c7", "text": "Paris is in France.", "metadata": {"source": "fr.md"}}]})
    >>> out.answer, out.contexts, out.context_ids, out.context_sources
    ('Paris [1]', ['Paris is in France.'], ['c7'], ['fr.md'])
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field

__all__ = [
    "Target",
    "TargetOutput",
    "arun_target",
    "from_rag_output",
    "normalize_output",
    "target_name",
]

Target = Runnable[Any, Any] | Callable[[str], Any]

_ANSWER_KEYS = ("answer", "response", "output", "result", "text")
_CONTEXT_KEYS = ("contexts", "retrieved_contexts", "sources", "source_documents", "documents",
                 "context")


class TargetOutput(BaseModel):
    """What a target returned for one question, normalized.

    Example:
        >>> TargetOutput(answer="yes").contexts
        []
    """

    answer: str | None = None
    contexts: list[str] = Field(default_factory=list)
    context_ids: list[str] = Field(default_factory=list)
    """Chunk ids of the contexts, best first ("" where a context has none)."""
    context_sources: list[str] = Field(default_factory=list)
    """Source names (``metadata["source"]``) of the contexts ("" where unknown)."""


def _content(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, BaseMessage):
        content = value.content
        return content if isinstance(content, str) else str(content)
    return value if isinstance(value, str) else str(value)


def _context(item: Any) -> tuple[str, str, str]:
    """(text, id, source) of one retrieved context."""
    if isinstance(item, str):
        return item, "", ""
    if isinstance(item, Mapping):
        text = item.get("text", item.get("page_content", item.get("content", "")))
        meta = item.get("metadata") or {}
        ident = item.get("id") or meta.get("id") or meta.get("chunk_id") or ""
        return str(text), str(ident), str(meta.get("source", item.get("source", "")) or "")
    text = getattr(item, "page_content", None)
    if text is not None:
        meta = getattr(item, "metadata", None) or {}
        ident = getattr(item, "id", None) or meta.get("id") or meta.get("chunk_id") or ""
        return str(text), str(ident), str(meta.get("source", "") or "")
    return str(item), "", ""


def _contexts(items: Any) -> tuple[list[str], list[str], list[str]]:
    if items is None:
        return [], [], []
    if isinstance(items, str | Mapping) or not isinstance(items, Sequence):
        items = [items]
    triples = [_context(item) for item in items]
    return [t[0] for t in triples], [t[1] for t in triples], [t[2] for t in triples]


def from_rag_output(result: Mapping[str, Any]) -> TargetOutput:
    """The answer and contexts of a localchain RAG chain result (``answer`` + ``sources``).

    Example:
        >>> from_rag_output({"answer": "I don't know", "sources": []}).contexts
        []
    """
    texts, ids, sources = _contexts(result.get("sources"))
    return TargetOutput(answer=_content(result.get("answer")), contexts=texts, context_ids=ids,
                        context_sources=sources)


def normalize_output(value: Any) -> TargetOutput:
    """A target's output as a :class:`TargetOutput` (see the module notes for the shapes).

    Example:
        >>> normalize_output(("42", ["The answer is 42."])).contexts
        ['The answer is 42.']
    """
    if isinstance(value, TargetOutput):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, Mapping):
        if "sources" in value and "answer" in value:
            return from_rag_output(value)
        answer = next((value[k] for k in _ANSWER_KEYS if k in value), None)
        contexts = next((value[k] for k in _CONTEXT_KEYS if k in value), None)
        texts, ids, sources = _contexts(contexts)
        return TargetOutput(answer=_content(answer), contexts=texts, context_ids=ids,
                            context_sources=sources)
    if isinstance(value, tuple) and len(value) == 2:
        texts, ids, sources = _contexts(value[1])
        return TargetOutput(answer=_content(value[0]), contexts=texts, context_ids=ids,
                            context_sources=sources)
    return TargetOutput(answer=_content(value))


async def arun_target(target: Target, question: str) -> TargetOutput:
    """Ask ``target`` the question and normalize what it returns.

    Runnables go through ``ainvoke``; plain functions run on a worker thread (they may
    block on a model), async functions are awaited.

    Example:
        >>> asyncio.run(arun_target(lambda q: q.upper(), "hi")).answer
        'HI'
    """
    if isinstance(target, Runnable):
        value = await target.ainvoke(question)
    elif inspect.iscoroutinefunction(target):
        value = await target(question)
    elif callable(target):
        value = await asyncio.to_thread(target, question)
        if inspect.isawaitable(value):
            value = await value
    else:
        raise TypeError(
            f"a target is a Runnable or a function of the question, not {type(target).__name__}"
        )
    return normalize_output(value)


def target_name(target: Target | None) -> str | None:
    """A readable name for a target, for run metadata.

    Example:
        >>> target_name(len)
        'len'
    """
    if target is None:
        return None
    if isinstance(target, Runnable):
        return target.get_name()
    return getattr(target, "__qualname__", None) or type(target).__name__
