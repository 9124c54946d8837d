"""Any LangChain retriever as an agent tool: numbered passages with their sources.

Agentic RAG: the agent decides when to look something up, and reads passages it can cite
by number. Works with every ``BaseRetriever`` - localchain's BM25, dense and hybrid
retrievers, or a vector store's ``as_retriever()``.

Each passage is one numbered entry with its whitespace collapsed (so document text cannot
start a line of its own), cut to ``max_passage_chars``; the whole observation is cut to
``max_output_chars``. Documents are data: text in the agent's protocol words ("Final Answer:
...") is removed to the end of the passage, before its source
(:func:`~localchain.agents.prompt.neutralise_protocol`).

Example:
    >>> from localchain.retrievers import BM25Retriever
    >>> from localchain.agents.tools import RetrieverTool
    >>> retriever = BM25Retriever.from_texts(
    ...     ["The MacBook Pro 14 costs 1999 USD.", "The iPad Air costs 599 USD."],
    ...     metadatas=[{"source": "prices/macbook.txt"}, {"source": "prices/ipad.txt"}], k=1)
    >>> tool = RetrieverTool(retriever=retriever, name="price_list",
    ...                      description="Looks up product prices.")
    >>> print(tool.invoke("MacBook Pro price"))
    [1] The MacBook Pro 14 costs 1999 USD. (source: prices/macbook.txt)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from localchain.agents.grammar import InputView, search_input_grammar
from localchain.agents.prompt import neutralise_protocol

__all__ = ["RetrieverInput", "RetrieverTool", "format_passages", "retriever_tool"]

_WHITESPACE = re.compile(r"\s+")


class RetrieverInput(BaseModel):
    """Arguments of a retriever tool.

    Example:
        >>> from localchain.retrievers import BM25Retriever
        >>> pets = BM25Retriever.from_texts(["Cats purr.", "Dogs bark at strangers."], k=1)
        >>> tool = retriever_tool(pets, name="pets", description="Facts about pets")
        >>> tool.args_schema is RetrieverInput
        True
        >>> tool.invoke({"query": "why do dogs bark"})
        '[1] Dogs bark at strangers.'
    """

    query: str = Field(description="What to look up, in a few words")
    """The search query."""


def _source(document: Document) -> str:
    meta = document.metadata
    source = _clean(meta.get("source") or meta.get("url") or meta.get("link") or "")
    title = _clean(meta.get("title") or "")
    label = f"{title}, {source}" if title and source and title not in source else source or title
    page = meta.get("page")
    if page is not None and label:
        label += f", page {page}"
    return label


def _clean(text: object) -> str:
    """One line of text without protocol words (a title or a path is data too)."""
    return neutralise_protocol(_WHITESPACE.sub(" ", str(text)).strip())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_passages(
    documents: Sequence[Document], *, max_passage_chars: int = 400, max_output_chars: int = 2000
) -> str:
    """Documents as numbered passages ``[n] text (source: ...)``, within the length limits;
    protocol text is removed from passages and sources.

    Example:
        >>> print(format_passages([Document("Paris is the capital\\nof France.",
        ...                                 metadata={"source": "atlas.txt", "page": 3})]))
        [1] Paris is the capital of France. (source: atlas.txt, page 3)
    """
    lines: list[str] = []
    used = 0
    for number, document in enumerate(documents, start=1):
        text = _cut(_clean(document.page_content), max_passage_chars)
        source = _source(document)
        entry = f"[{number}] {text}" + (f" (source: {_cut(source, 200)})" if source else "")
        if lines and used + len(entry) + 1 > max_output_chars:
            lines.append(f"({len(documents) - number + 1} more passages left out to save space)")
            break
        lines.append(entry)
        used += len(entry) + 1
    return _cut("\n".join(lines), max_output_chars)


class RetrieverTool(BaseTool):
    """A ``BaseRetriever`` as a LangChain tool; failures become the observation text.

    An empty result is a normal answer ("No passages found ..."); a retriever that raises
    gives a ``ToolException`` which, with ``handle_tool_error=True``, is returned as text.

    Example:
        >>> from localchain.retrievers import BM25Retriever
        >>> tool = RetrieverTool(retriever=BM25Retriever.from_texts(["Cats purr."]))
        >>> tool.invoke("dogs")
        "No passages found for 'dogs'. Try other words."
    """

    name: str = "search_documents"
    description: str = (
        "Searches the local documents. Input: a short search query. Output: numbered "
        "passages, each with its source."
    )
    args_schema: type[BaseModel] = RetrieverInput
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = True
    """True: failures become the observation text; False: ToolException is raised."""

    retriever: BaseRetriever
    """Where the passages come from."""
    max_passages: int = Field(default=4, ge=1, le=50)
    """Most passages shown (the retriever may return more)."""
    max_passage_chars: int = Field(default=400, ge=20)
    """Each passage is cut to this many characters."""
    max_output_chars: int = Field(default=2000, ge=100)
    """The whole observation is cut to this many characters."""

    def input_grammar(self, view: InputView) -> str | None:
        """A query of words in view when ``view.ground_queries``
        (:func:`~localchain.agents.grammar.search_input_grammar`), else free text."""
        return search_input_grammar(view)

    def _render(self, query: str, documents: Sequence[Document]) -> str:
        if not documents:
            return f"No passages found for {query!r}. Try other words."
        return format_passages(
            documents[: self.max_passages],
            max_passage_chars=self.max_passage_chars,
            max_output_chars=self.max_output_chars,
        )

    @staticmethod
    def _clean(query: str) -> str:
        query = _WHITESPACE.sub(" ", query).strip()
        if not query:
            raise ToolException("The search query is empty. Write a few words to look up.")
        return query

    def _run(self, query: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        query = self._clean(query)
        callbacks = run_manager.get_child() if run_manager else None
        try:
            documents = self.retriever.invoke(query, config={"callbacks": callbacks})
        except Exception as err:  # any retriever failure is the model's to read about
            raise ToolException(f"The document search failed: {err}") from err
        return self._render(query, documents)

    async def _arun(
        self, query: str, run_manager: AsyncCallbackManagerForToolRun | None = None
    ) -> str:
        query = self._clean(query)
        callbacks = run_manager.get_child() if run_manager else None
        try:
            documents = await self.retriever.ainvoke(query, config={"callbacks": callbacks})
        except Exception as err:  # any retriever failure is the model's to read about
            raise ToolException(f"The document search failed: {err}") from err
        return self._render(query, documents)


def retriever_tool(
    retriever: BaseRetriever, name: str, description: str, **options: Any
) -> RetrieverTool:
    """Wrap ``retriever`` as a tool (LangChain's ``create_retriever_tool``, localchain style).

    Example:
        >>> from localchain.retrievers import BM25Retriever
        >>> tool = retriever_tool(BM25Retriever.from_texts(["Cats purr."]), "pets",
        ...                       "Facts about pets.", max_passages=2)
        >>> tool.name, tool.max_passages
        ('pets', 2)
    """
    return RetrieverTool(retriever=retriever, name=name, description=description, **options)
