"""Calling tools for the agent: arguments from the Action Input, every failure an observation."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import StructuredTool, Tool, ToolException, tool

from localchain.agents.tool_call import call_tool, tool_arguments
from localchain.agents.tools import Calculator, WebSearch
from localchain.errors import ToolCallError


@tool
def convert(amount: float, rate: float) -> str:
    """Converts an amount with a rate."""
    return f"{amount * rate:g}"


@tool
def now() -> str:
    """Returns a fixed time."""
    return "12:00"


def test_arguments_from_the_action_input() -> None:
    assert tool_arguments(Calculator(), "2+2") == {"expression": "2+2"}
    assert tool_arguments(Calculator(), {"expression": "2+2"}) == {"expression": "2+2"}
    assert tool_arguments(WebSearch(), {"q": "x"}) == {"query": '{"q": "x"}'}
    assert tool_arguments(convert, '{"amount": 2, "rate": 3}') == {"amount": 2, "rate": 3}
    assert tool_arguments(now, "anything") == {}
    with pytest.raises(ToolCallError, match='arguments "amount", "rate"'):
        tool_arguments(convert, "2 at 3")


def test_results_and_refusals() -> None:
    assert call_tool(convert, {"amount": 2000, "rate": 0.85}) == ("1700", False)
    assert call_tool(now, "") == ("12:00", False)
    outcome = call_tool(Calculator(), "__import__('os')")
    assert outcome.error and "names starting with '_'" in outcome.observation
    bad_args = call_tool(convert, "two thousand")
    assert bad_args.error and "JSON object" in bad_args.observation


def test_unhandled_tool_exceptions_and_bad_arguments_never_raise() -> None:
    def explode(text: str) -> str:
        raise ToolException("quota exceeded")

    strict = StructuredTool.from_function(explode, name="strict", description="d",
                                          handle_tool_error=False)  # fmt: skip
    outcome = call_tool(strict, "x")
    assert outcome.error and "ToolException: quota exceeded" in outcome.observation
    typed = call_tool(convert, {"amount": "lots", "rate": 1})
    assert typed.error and "convert failed" in typed.observation


def test_legacy_single_input_tool() -> None:
    shout = Tool(name="shout", description="Upper-cases text.", func=lambda text: text.upper())
    assert call_tool(shout, "hi") == ("HI", False)


def test_non_text_output_is_serialised() -> None:
    @tool
    def listing(text: str) -> Any:
        """Returns a list."""
        return [{"a": 1}]

    outcome = call_tool(listing, "x")
    assert not outcome.error and '"a": 1' in outcome.observation
