"""The web search tool: DuckDuckGo (and the other engines of ``ddgs``), with an offline fallback.

Searches call the ``ddgs`` package directly (``DDGS(timeout=...).text(query, ...)``); no
langchain-community code is involved. Around it, this module adds what an agent on a laptop
needs: a timeout that holds even if the library hangs, bounded retries with exponential
backoff on rate limits, results numbered as title / snippet / link and cut to a length a
small context can take, and plain words when the network is down. With a ``fallback``
retriever (any LangChain ``BaseRetriever``, so any localchain retriever), an offline search
answers from the local index and says so.

Example:
    >>> from localchain.agents.tools import WebSearch
    >>> search = WebSearch()
    >>> print(search.invoke("capital of Australia"))  # offline:  # doctest: +SKIP
    The web search is unavailable: no network connection (the DNS lookup failed).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from langchain_core.callbacks import CallbackManagerForToolRun, Callbacks
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from localchain.agents.grammar import InputView, search_input_grammar
from localchain.agents.prompt import neutralise_protocol

__all__ = [
    "DuckDuckGoSearchWrapper",
    "FailureKind",
    "WebSearch",
    "WebSearchInput",
    "classify_failure",
]

FailureKind = Literal["dns", "connection", "timeout", "rate_limit", "no_results", "error"]
"""Why a search returned nothing: see :func:`classify_failure`."""

# ddgs 9 wraps every transport error in a DDGSException whose text starts with the primp
# error's name ("DNSError: ... error resolving DNS ..."), so the text is what tells them apart.
_PATTERNS: tuple[tuple[FailureKind, tuple[str, ...]], ...] = (
    ("rate_limit", ("ratelimit", "rate limit", "429", "too many requests")),
    ("dns", ("dnserror", "resolving dns", "dns error", "name or service not known",
             "nodename nor servname", "getaddrinfo", "name resolution")),
    ("timeout", ("timed out", "timeout")),
    ("connection", ("connecterror", "connection", "network is unreachable", "no route to host")),
    ("no_results", ("no results found",)),
)
_WHITESPACE = re.compile(r"\s+")


def classify_failure(error: BaseException) -> FailureKind:
    """Name the kind of a search failure from its type, or else from its message.

    Example:
        >>> from ddgs.exceptions import DDGSException, RatelimitException
        >>> classify_failure(RatelimitException("202 Ratelimit"))
        'rate_limit'
        >>> classify_failure(DDGSException("DNSError: error resolving DNS"))
        'dns'
    """
    if isinstance(error, RatelimitException):
        return "rate_limit"
    if isinstance(error, socket.gaierror):
        return "dns"
    text = f"{type(error).__name__}: {error}".lower()
    for kind, needles in _PATTERNS:
        if any(needle in text for needle in needles):
            return kind
    if isinstance(error, (TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(error, OSError):
        return "connection"
    return "error"


class DuckDuckGoSearchWrapper(BaseModel):
    """How :class:`WebSearch` queries ``ddgs``: the search options and the client to use.

    A localchain settings object (it no longer derives from langchain-community's
    ``DuckDuckGoSearchAPIWrapper``). ``text()`` opens ``client_factory(timeout)`` (default
    ``ddgs.DDGS(timeout=timeout)``) and runs one text search; the factory is also the seam
    tests use to stand in for the network.

    Example:
        >>> wrapper = DuckDuckGoSearchWrapper(region="de-de", timeout=3)
        >>> search = WebSearch(api_wrapper=wrapper)
        >>> class Recorded:
        ...     def text(self, query, **options):
        ...         return [{"title": "T", "href": "https://example.org", "body": "B"}]
        >>> DuckDuckGoSearchWrapper(client_factory=lambda timeout: Recorded()).text("x", 1)
        [{'title': 'T', 'href': 'https://example.org', 'body': 'B'}]
    """

    # A misspelt option must fail at construction, not be ignored by every search.
    model_config = ConfigDict(extra="forbid")

    region: str | None = "us-en"
    """ddgs region code, e.g. "us-en", "uk-en", "de-de"; None means "us-en"."""
    safesearch: str = "moderate"
    """ddgs safesearch: "on", "moderate" or "off"."""
    time: str | None = None
    """Restrict results to the last day / week / month / year ("d", "w", "m", "y")."""
    backend: str = "auto"
    """ddgs backend(s), comma-separated ("duckduckgo", "bing", ...); "auto" asks several."""
    timeout: float = 5.0
    """Seconds ddgs waits for the search engines. WebSearch sets it from its own timeout."""
    client_factory: Callable[[float], Any] | None = None
    """Makes the client from the timeout; it needs a ``text(query, **options)`` method
    returning ddgs' result dicts. None means ``ddgs.DDGS(timeout=timeout)``."""

    def text(self, query: str, max_results: int) -> list[dict[str, str]]:
        """One ddgs text search: result dicts with ``title``, ``href`` and ``body``.

        Raises what the client raises (ddgs: ``DDGSException`` and its subclasses).
        """
        results = self._client().text(
            query,
            region=self.region or "us-en",
            safesearch=self.safesearch,
            timelimit=self.time,
            max_results=max_results,
            backend=self.backend,
        )
        return list(results or [])

    def _client(self) -> Any:
        if self.client_factory is not None:
            return self.client_factory(self.timeout)
        from ddgs import DDGS  # imported on first search: it loads every engine module

        return DDGS(timeout=self.timeout)  # type: ignore[arg-type]  # primp takes floats


class WebSearchInput(BaseModel):
    """Arguments of the web search tool.

    Example:
        >>> WebSearch().args_schema is WebSearchInput
        True
        >>> WebSearch().args["query"]["description"]          # what the model is told
        'What to search for, in a few words'
    """

    query: str = Field(description="What to search for, in a few words")
    """The search query."""


class WebSearch(BaseTool):
    """DuckDuckGo web search as a LangChain tool that never hangs and degrades gracefully.

    When the web cannot be reached (no network, DNS, timeout, rate limit after the
    retries, an engine error) and there is no ``fallback``, the tool raises a
    ``ToolException`` that says so; ``handle_tool_error=True`` turns it into the
    observation text, so ``invoke`` does not raise and a tool call gets a ``ToolMessage``
    with ``status="error"``. With a fallback, its results are a normal answer that starts by
    saying the web was unavailable. "Nothing found" is a normal answer too.

    Example:
        >>> from localchain.agents.tools import WebSearch
        >>> search = WebSearch(max_results=3, timeout=4)
        >>> text = search.invoke("llama.cpp GGUF format")  # doctest: +SKIP
        >>> print(text.splitlines()[0])  # doctest: +SKIP
        1. GGUF - Hugging Face

        Offline, with a local index to fall back on (any BaseRetriever):

        >>> search = WebSearch(fallback=retriever)  # doctest: +SKIP
        >>> print(search.invoke("refund policy"))  # doctest: +SKIP
        The web search is unavailable: no network connection (the DNS lookup failed). Resu...
        1. Refund policy
           The refund window is 30 days from delivery.
           docs/policies/refunds.md
    """

    name: str = "web_search"
    description: str = (
        "A web search engine. Use it as a search engine for general queries. "
        "Input: a short search query. Output: numbered results, each a title, a snippet "
        "and a link."
    )
    args_schema: type[BaseModel] = WebSearchInput
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = True
    """True: failures become the observation text; False: ToolException is raised."""

    api_wrapper: DuckDuckGoSearchWrapper = Field(default_factory=DuckDuckGoSearchWrapper)
    """How to query ddgs: region, safesearch, time, backend, client factory."""
    fallback: BaseRetriever | None = None
    """Searched instead when the web is unreachable; its documents are the results."""
    offline: bool = False
    """Never touch the network: always search the fallback (which is then required)."""
    max_results: int = Field(default=5, ge=1, le=20)
    """How many results to show."""
    timeout: float = Field(default=5.0, gt=0)
    """Seconds one search attempt may take; the call is abandoned shortly after."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts in all when rate-limited (1 means no retry). Other failures are not retried."""
    backoff: float = Field(default=1.0, ge=0)
    """Seconds to wait before the first retry; each later wait doubles."""
    max_backoff: float = Field(default=8.0, ge=0)
    """Longest single wait between retries."""
    max_snippet_chars: int = Field(default=300, ge=20)
    """Each snippet (and title) is cut to this many characters."""
    max_output_chars: int = Field(default=2000, ge=200)
    """The whole observation is cut to this many characters."""
    sleep: Callable[[float], None] = Field(default=time.sleep, exclude=True)
    """Waits between retries; tests pass a recorder instead of sleeping."""

    @model_validator(mode="after")
    def _offline_needs_fallback(self) -> WebSearch:
        if self.offline and self.fallback is None:
            raise ValueError("offline=True needs a fallback retriever to search instead")
        return self

    def input_grammar(self, view: InputView) -> str | None:
        """A query of words in view when ``view.ground_queries``
        (:func:`~localchain.agents.grammar.search_input_grammar`), else free text."""
        return search_input_grammar(view)

    def _run(self, query: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        query = _WHITESPACE.sub(" ", query).strip()
        if not query:
            raise ToolException("The search query is empty. Write a few words to search for.")
        callbacks = run_manager.get_child() if run_manager else None
        if self.offline:
            return self._search_fallback(query, "The web search is turned off.", callbacks)
        try:
            results = self._search_web(query)
        except _SearchFailed as failure:
            if failure.kind == "no_results":
                return failure.message
            if self.fallback is None:
                raise ToolException(failure.message) from failure.__cause__
            return self._search_fallback(query, failure.message, callbacks)
        if not results:
            return _failure_message("no_results", query, detail="")
        entries = [(r["title"], r["body"], r["href"]) for r in results]
        return self._render(entries[: self.max_results], header="")

    def _search_web(self, query: str) -> list[dict[str, str]]:
        """One search with bounded retries on rate limits; raises _SearchFailed."""
        attempt = 1
        while True:
            try:
                return self._search_once(query)
            except (DDGSException, OSError) as err:
                kind = classify_failure(err)
                if kind != "rate_limit" or attempt >= self.max_attempts:
                    detail = {"timeout": f"{self.timeout:g} seconds", "rate_limit": str(attempt)}
                    message = _failure_message(kind, query, detail=detail.get(kind, str(err)))
                    raise _SearchFailed(kind, message) from err
            self.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
            attempt += 1

    def _search_once(self, query: str) -> list[dict[str, str]]:
        """Run one ddgs search on a daemon thread and wait at most the deadline.

        ddgs has its own timeouts, but they bound each HTTP request, not the whole search;
        a daemon thread lets the agent move on even if the library never returns.
        """
        wrapper = self.api_wrapper.model_copy(update={"timeout": self.timeout})
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["results"] = wrapper.text(query, self.max_results)
            except BaseException as err:  # handed to the waiting thread, which re-raises
                outcome["error"] = err

        worker = threading.Thread(target=work, name="web_search", daemon=True)
        worker.start()
        worker.join(self.timeout + min(self.timeout, 1.0))
        if worker.is_alive():  # left to finish on its own; its result is never read
            raise TimeoutException(f"no answer within {self.timeout:g} s (timed out)")
        if "error" in outcome:
            raise outcome["error"]
        return list(outcome["results"])

    def _search_fallback(self, query: str, reason: str, callbacks: Callbacks) -> str:
        """Answer from the fallback retriever, saying why the web was not used."""
        assert self.fallback is not None  # both callers check
        try:
            documents = self.fallback.invoke(query, config={"callbacks": callbacks})
        except Exception as err:
            raise ToolException(f"{reason} The local index failed too: {err}") from err
        if not documents:
            raise ToolException(f"{reason} The local index has no results for this query either.")
        entries = [_document_entry(doc, n) for n, doc in enumerate(documents, start=1)]
        header = f"{reason} Results from the local index instead:"
        return self._render(entries[: self.max_results], header=header)

    def _render(self, entries: Sequence[tuple[str, str, str]], *, header: str) -> str:
        """Number the results, cut each snippet and the whole text to their limits.

        Whitespace is collapsed so that page text stays on its own lines, and text in the
        agent's protocol words ("Thought: I now know the final answer", "Final Answer: ...")
        is removed to the end of its title or snippet
        (:func:`~localchain.agents.prompt.neutralise_protocol`): a page is data, and cannot
        hand an agent the answer to give.
        """
        lines = [header] if header else []
        used = len(header)
        for shown, (title, snippet, link) in enumerate(entries):
            parts = [f"{shown + 1}. {_flat(title, self.max_snippet_chars) or '(no title)'}"]
            parts += [f"   {_flat(text, self.max_snippet_chars)}" for text in (snippet, link)]
            block = "\n".join(part for part in parts if part.strip())
            if shown and used + len(block) + 1 > self.max_output_chars:
                lines.append(f"({len(entries) - shown} more results left out to save space)")
                break
            lines.append(block)
            used += len(block) + 1
        return _cut("\n".join(lines), self.max_output_chars)


class _SearchFailed(Exception):
    """Internal: a classified search failure with the text for the observation."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _failure_message(kind: FailureKind, query: str, *, detail: str) -> str:
    """What the model reads when the web search did not give results."""
    if kind == "no_results":
        return f"No web results for {query!r}. Try fewer or different words."
    reason = {
        "dns": "no network connection (the DNS lookup failed)",
        "connection": "cannot connect to the search engine (no network connection)",
        "timeout": f"the search engine did not answer within {detail}",
        "rate_limit": f"the search engine is limiting requests (tried {detail} times)",
    }.get(kind, f"the search engine returned an error ({_flat(detail, 200)})")
    return f"The web search is unavailable: {reason}."


def _document_entry(document: Document, number: int) -> tuple[str, str, str]:
    """Title, snippet and link of a retrieved document, from common metadata keys."""
    meta = document.metadata
    link = str(meta.get("source") or meta.get("url") or meta.get("link") or "")
    title = str(meta.get("title") or link.rsplit("/", 1)[-1] or f"Document {number}")
    return title, document.page_content, link


def _flat(text: str, limit: int) -> str:
    """Collapse whitespace to single spaces, remove protocol text, cut to `limit` characters."""
    return _cut(neutralise_protocol(_WHITESPACE.sub(" ", str(text)).strip()), limit)


def _cut(text: str, limit: int) -> str:
    """Cut text to `limit` characters, ending with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
