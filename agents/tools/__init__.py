"""Tools for localchain agents; each is a LangChain ``BaseTool``.

``Calculator`` evaluates arithmetic safely (a whitelist over Python's ``ast``, never
``eval``); ``WebSearch`` searches DuckDuckGo and, offline, a local retriever instead;
``RetrieverTool`` makes any LangChain retriever a tool (numbered passages with sources).
Expected failures come back as the observation text, so an agent can react to them.

Example:
    >>> from localchain.agents.tools import Calculator, WebSearch
    >>> Calculator().invoke("15% of 840")
    '126'
    >>> tools = [Calculator(), WebSearch(timeout=4)]
    >>> [tool.name for tool in tools]
    ['calculator', 'web_search']
"""

from localchain.agents.tools.calculator import (
    MAX_DIGITS,
    MAX_INPUT_CHARS,
    MAX_NESTING,
    Calculator,
    CalculatorInput,
    evaluate,
    format_number,
)
from localchain.agents.tools.retriever import (
    RetrieverInput,
    RetrieverTool,
    format_passages,
    retriever_tool,
)
from localchain.agents.tools.web_search import (
    DuckDuckGoSearchWrapper,
    FailureKind,
    WebSearch,
    WebSearchInput,
    classify_failure,
)

__all__ = [
    "MAX_DIGITS",
    "MAX_INPUT_CHARS",
    "MAX_NESTING",
    "Calculator",
    "CalculatorInput",
    "DuckDuckGoSearchWrapper",
    "FailureKind",
    "RetrieverInput",
    "RetrieverTool",
    "WebSearch",
    "WebSearchInput",
    "classify_failure",
    "evaluate",
    "format_number",
    "format_passages",
    "retriever_tool",
]
