"""Calling a tool for the agent: arguments from the Action Input, errors as observations.

:func:`call_tool` never raises for anything the tool does: a refusal (``ToolException``),
a bug (any exception), bad arguments and a tool that does not answer in time all come back
as an observation the model can read, flagged as an error. The call runs on a daemon thread
so that a hanging tool cannot hold the run past its wall-clock budget.

Example:
    >>> from localchain.agents.tools import Calculator
    >>> call_tool(Calculator(), "17 * 23")
    ToolOutcome(observation='391', error=False)
    >>> call_tool(Calculator(), "1/0").error
    True
"""

from __future__ import annotations

import contextvars
import json
import threading
from typing import Any, NamedTuple

from langchain_core.callbacks import Callbacks
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from localchain.agents.grammar import single_text_argument
from localchain.errors import ToolCallError

__all__ = ["ToolOutcome", "call_tool", "tool_arguments"]


class ToolOutcome(NamedTuple):
    """What a tool call gave the agent.

    Example:
        >>> from localchain.agents.tools import Calculator
        >>> call_tool(Calculator(), "15% of 840")
        ToolOutcome(observation='126', error=False)
        >>> call_tool(Calculator(), "2 **").error
        True
    """

    observation: str
    """The text the model reads next (the tool's output or what went wrong)."""
    error: bool
    """True when the tool failed, refused, timed out or got unusable arguments."""


def tool_arguments(tool: BaseTool, tool_input: str | dict[str, Any]) -> dict[str, Any]:
    """The tool's arguments from an Action Input; raises ToolCallError if they do not fit.

    Example:
        >>> from localchain.agents.tools import WebSearch
        >>> tool_arguments(WebSearch(), "capital of France")
        {'query': 'capital of France'}
    """
    schema = tool.args
    if not schema:
        return {}
    single = single_text_argument(tool)
    if single is not None:
        if isinstance(tool_input, dict):
            if set(tool_input) == {single}:
                return dict(tool_input)
            tool_input = json.dumps(tool_input, ensure_ascii=False)
        return {single: tool_input}
    if isinstance(tool_input, str):
        try:
            tool_input = json.loads(tool_input)
        except json.JSONDecodeError:
            tool_input = None  # type: ignore[assignment]
    if not isinstance(tool_input, dict):
        wanted = ", ".join(f'"{name}"' for name in schema)
        raise ToolCallError(
            tool.name,
            tool_input,
            f"the Action Input must be a JSON object with the arguments {wanted}",
        )
    return tool_input


def call_tool(
    tool: BaseTool,
    tool_input: str | dict[str, Any],
    *,
    timeout: float | None = None,
    callbacks: Callbacks = None,
    call_id: str = "react-step",
) -> ToolOutcome:
    """Run ``tool`` on an Action Input and return its observation; never raises for the
    tool's own failures (only KeyboardInterrupt and the like pass through).

    Example:
        >>> from langchain_core.tools import tool
        >>> @tool
        ... def broken(text: str) -> str:
        ...     '''Always fails.'''
        ...     raise RuntimeError("disk on fire")
        >>> print(call_tool(broken, "x").observation)
        The tool broken failed: RuntimeError: disk on fire. Try another Action Input, another tool, or give the Final Answer.
    """
    try:
        args = tool_arguments(tool, tool_input)
    except ToolCallError as err:
        return ToolOutcome(f"{err}.", True)
    call = {"type": "tool_call", "name": tool.name, "args": args, "id": call_id}
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["message"] = tool.invoke(call, config={"callbacks": callbacks})
        except Exception as err:  # noqa: BLE001 - every tool failure becomes an observation
            outcome["error"] = err

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(work,), name=f"tool-{tool.name}", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive():  # left to finish on its own; its result is never read
        return ToolOutcome(
            f"The tool {tool.name} did not answer within {timeout:g} s. Try something else "
            "or give the Final Answer.",
            True,
        )
    if "error" in outcome:
        err = outcome["error"]
        reason = f"{type(err).__name__}: {err}".strip()
        return ToolOutcome(
            f"The tool {tool.name} failed: {reason}. Try another Action Input, another tool, "
            "or give the Final Answer.",
            True,
        )
    message = outcome["message"]
    if isinstance(message, ToolMessage):
        content = message.content
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return ToolOutcome(text, message.status == "error")
    return ToolOutcome(str(message), False)
