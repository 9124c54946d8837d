"""LangChain's standard tool suites (langchain-tests, unit and integration) run against
localchain's calculator, web search and retriever tools.

No test here touches the network: the web search gets an injected client that answers
with recorded ddgs results, or searches a local retriever with ``offline=True``, and a
guard fails any request that reaches ddgs' HTTP client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ddgs.http_client
import pytest
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from localchain.agents.tools import (
    Calculator,
    DuckDuckGoSearchWrapper,
    RetrieverTool,
    WebSearch,
)
from localchain.retrievers.bm25 import BM25Retriever

RECORDED = Path(__file__).resolve().parents[1] / "agents" / "tools" / "data"
RESULTS = json.loads((RECORDED / "ddgs_text_results.json").read_text())["results"]
PASSAGES = [
    "GGUF is a binary file format for models run by llama.cpp.",
    "Interstellar is a 2014 film directed by Christopher Nolan.",
    "The Moon orbits Earth about once every 27 days.",
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(ddgs.http_client.HttpClient, "request", refuse)


class RecordedClient:
    """Stands in for ``ddgs.DDGS``: every text search answers with the recorded results."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def text(self, query: str, **options: Any) -> list[dict[str, str]]:
        return RESULTS[: options.get("max_results") or len(RESULTS)]


class CalculatorSetup:
    """The calculator as it is built by default."""

    @property
    def tool_constructor(self) -> type[Calculator]:
        return Calculator

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"expression": "15% of 840"}


class WebSearchSetup:
    """The web search with its ddgs client replaced by the recorded one."""

    @property
    def tool_constructor(self) -> type[WebSearch]:
        return WebSearch

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"api_wrapper": DuckDuckGoSearchWrapper(client_factory=RecordedClient)}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "GGUF file format"}


class OfflineWebSearchSetup(WebSearchSetup):
    """The web search turned off: it answers from a local BM25 index."""

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"offline": True, "fallback": BM25Retriever.from_texts(PASSAGES)}


class RetrieverToolSetup:
    """A retriever tool over a small BM25 index."""

    @property
    def tool_constructor(self) -> type[RetrieverTool]:
        return RetrieverTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"retriever": BM25Retriever.from_texts(PASSAGES, k=2)}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "GGUF file format"}


class TestCalculatorUnit(CalculatorSetup, ToolsUnitTests):
    pass


class TestCalculatorIntegration(CalculatorSetup, ToolsIntegrationTests):
    pass


class TestWebSearchUnit(WebSearchSetup, ToolsUnitTests):
    pass


class TestWebSearchIntegration(WebSearchSetup, ToolsIntegrationTests):
    pass


class TestOfflineWebSearchUnit(OfflineWebSearchSetup, ToolsUnitTests):
    pass


class TestOfflineWebSearchIntegration(OfflineWebSearchSetup, ToolsIntegrationTests):
    pass


class TestRetrieverToolUnit(RetrieverToolSetup, ToolsUnitTests):
    pass


class TestRetrieverToolIntegration(RetrieverToolSetup, ToolsIntegrationTests):
    pass
