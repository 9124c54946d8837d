"""Conversational RAG: follow-up questions rewritten with the chat history, answered from sources.

A follow-up such as "When did it premiere?" cannot be searched as it is; the conversation
says what "it" is. :func:`conversational_rag_chain` rewrites each message into a standalone
search query with the memory's history (:func:`~localchain.chains.rag_query.query_rewriter`),
answers it with :func:`~localchain.chains.rag.rag_chain`, and stores the exchange in a
:mod:`localchain.memory` memory. :class:`RagChatbot` does the same inside a
:class:`~localchain.chains.Chatbot`, so sessions, stores and the REPL work unchanged
(``localchain chat --rag DIR``).

Example:
    >>> from localchain.chains import conversational_rag_chain
    >>> from localchain.memory import WindowMemory
    >>> chat = conversational_rag_chain(retriever, llm, memory=WindowMemory(k=2))  # doctest: +SKIP
    >>> chat.invoke("Who directed Interstellar?")["answer"]               # doctest: +SKIP
    >>> chat.invoke("When did it premiere?")["query"]                     # doctest: +SKIP
    'Interstellar premiere date'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator
from langchain_core.runnables.utils import AddableDict

from localchain.chains.chat import Chatbot, Turn
from localchain.chains.rag import rag_chain, rag_input
from localchain.memory import BufferMemory, Memory

__all__ = ["RagChatbot", "conversational_rag_chain", "format_sources_footer"]


def conversational_rag_chain(
    retriever: Runnable[str, list[Document]],
    llm: BaseLanguageModel | None = None,
    memory: Memory | None = None,
    **rag_options: Any,
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """A RAG chain that remembers the conversation and rewrites follow-ups before searching.

    Each call reads the memory's history (unless the input dict brings its own
    ``chat_history``), runs :func:`.rag_chain` with ``rewrite=True``, and stores the question
    and the answer in ``memory`` once the answer is complete (a stream closed early stores
    nothing). ``rag_options`` go to :func:`.rag_chain`.

    Example:
        >>> from localchain.memory import BufferMemory
        >>> memory = BufferMemory()
        >>> chat = conversational_rag_chain(retriever, llm, memory)         # doctest: +SKIP
        >>> _ = chat.invoke("Who directed Interstellar?")                   # doctest: +SKIP
        >>> chat.invoke("When did it premiere?")["citations"]               # doctest: +SKIP
        [1]
    """
    if llm is None:
        from localchain.models.registry import load_chat_model

        llm = load_chat_model()
    memory = memory if memory is not None else BufferMemory()
    rag_options.setdefault("rewrite", True)
    inner = rag_chain(retriever, llm, name="conversational_rag", **rag_options)

    def prepare(value: Any) -> dict[str, Any]:
        data = rag_input(value, "conversational_rag")
        if not data["chat_history"]:
            data["chat_history"] = memory.chat_history
        return data

    def transform(inputs: Iterator[Any], config: RunnableConfig) -> Iterator[AddableDict]:
        data = prepare(_last(inputs))
        result = AddableDict()
        for chunk in inner.stream(data, config):
            result = result + chunk
            yield chunk
        memory.save_turn(data["question"], str(result.get("answer", "")).strip())

    async def atransform(
        inputs: AsyncIterator[Any], config: RunnableConfig
    ) -> AsyncIterator[AddableDict]:
        value = None
        async for value in inputs:
            pass
        data = prepare(value)
        result = AddableDict()
        async for chunk in inner.astream(data, config):
            result = result + chunk
            yield chunk
        memory.save_turn(data["question"], str(result.get("answer", "")).strip())

    return RunnableGenerator(transform, atransform, name="conversational_rag")


def _last(inputs: Iterator[Any]) -> Any:
    value = None
    for value in inputs:
        pass
    return value


def format_sources_footer(result: dict[str, Any], *, width: int = 100) -> str:
    """The lines a terminal shows under a RAG answer: its sources and what it cites.

    Example:
        >>> print(format_sources_footer({"citations": [1], "supported": True, "sources": [
        ...     {"number": 1, "text": "Nolan directed it.", "metadata": {"source": "/kb/a.txt"}}]}))
        sources (cited: [1]):
          [1] /kb/a.txt - Nolan directed it.
    """
    sources = result.get("sources") or []
    if not sources:
        return "no sources: nothing relevant was found"
    cited = result.get("citations") or []
    head = f"sources (cited: {' '.join(f'[{n}]' for n in cited)})" if cited else "sources"
    if not result.get("supported", bool(cited)):
        reason = result.get("unsupported_reason") or "no citation"
        head += f" - unsupported: {reason}"
    lines = [head + ":"]
    for source in sources:
        where = source.get("metadata", {}).get("source") or source.get("id") or "?"
        text = " ".join(str(source.get("text", "")).split())
        line = f"  [{source['number']}] {where} - {text}"
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return "\n".join(lines)


class RagChatbot(Chatbot):
    """A :class:`~localchain.chains.Chatbot` that answers from a retriever, with citations.

    Every message is rewritten into a standalone search query using what the memory
    shows of the conversation, answered by :func:`.rag_chain`, and stored in the session
    like any chat turn. :attr:`last_result` holds the last answer's sources and citations;
    :meth:`turn_footer` formats them for a terminal.

    Args:
        retriever: What to search.
        llm: The chat model (``None``: the configured model).
        memory: The conversation memory (default ``WindowMemory(k=2)``, as for Chatbot).
        rag_options: Options for :func:`.rag_chain` (``verify``, ``prompt``, ...).
        chatbot_options: ``system_prompt``, ``session_id``, ``store``, ``on_notice``.

    Example:
        >>> from localchain.retrievers.store import open_retriever
        >>> bot = RagChatbot(open_retriever("films.store", mode="bm25"))      # doctest: +SKIP
        >>> bot.chat("Who directed Interstellar?")                          # doctest: +SKIP
        'Interstellar was directed by Christopher Nolan. [1]'
        >>> bot.last_result["sources"][0]["metadata"]["source"]               # doctest: +SKIP
        '/home/me/films/interstellar.txt'
    """

    def __init__(
        self,
        retriever: Runnable[str, list[Document]],
        llm: BaseChatModel | None = None,
        memory: Memory | None = None,
        *,
        rag_options: dict[str, Any] | None = None,
        **chatbot_options: Any,
    ) -> None:
        super().__init__(llm, memory, **chatbot_options)
        options = {"rewrite": True, **(rag_options or {})}
        self.rag = rag_chain(retriever, self.llm, name="rag_chat", **options)
        self.last_result: dict[str, Any] | None = None

    def stream(self, text: str) -> Iterator[str]:
        """Answer ``text`` from the sources piece by piece; stored once complete.

        Closing the iterator early cancels the turn: nothing is stored.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty; type something to say")
        prompt = self.prompt_for(text)
        chunks = self.rag.stream({"question": text, "chat_history": self.memory.chat_history})
        result = AddableDict()
        try:
            for chunk in chunks:
                result = result + chunk
                if piece := chunk.get("answer"):
                    yield piece
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        answer = str(result.get("answer", "")).strip()
        notices: list[str] = []
        for notice in self.memory.save_turn(text, answer):
            self._notify(notice, notices)
        self.last_result = dict(result)
        self.last_turn = Turn(text, answer, prompt, notices)

    def turn_footer(self) -> str:
        """The last answer's sources and citations, for a terminal ("" before any turn)."""
        return format_sources_footer(self.last_result) if self.last_result else ""
