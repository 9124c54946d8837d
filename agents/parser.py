"""Read a ReAct step from free text, repairing what small models get slightly wrong.

Used on backends without grammar support (OpenAI-compatible servers, Cohere). The parser
accepts the book's format and the usual near misses, and records each repair it made:

- ``**Action:**`` with Markdown emphasis, any case, a missing ``Thought:``;
- a tool name in another case, in quotes or brackets, with a word around it
  ("the calculator tool"), or one or two letters off (``calculater``);
- ``Action: calculator(17 * 23)`` with the input in parentheses and no Action Input line;
- an Action Input in quotes, backticks or a code fence; JSON arguments in single quotes;
- a reply that invents its own ``Observation:`` (everything from there on is ignored);
- an Action *and* a Final Answer (the one written first wins).

What cannot be repaired raises :class:`~localchain.errors.StepParseError`, whose ``reason``
is written for the model to read in the retry prompt.

Example:
    >>> step = parse_step(" I should multiply.\\n**Action:** Calculator\\nAction Input: `17*23`",
    ...                   ["calculator", "web_search"])
    >>> step.kind, step.tool, step.tool_input, step.repairs
    ('action', 'calculator', '17*23', ['tool name', 'input quotes'])
    >>> parse_step("Thought: I now know the final answer\\nFinal Answer: 391", ["calculator"]).answer
    '391'
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from localchain.errors import StepParseError

__all__ = ["ParsedStep", "match_tool_name", "parse_step", "strip_wrapping"]

_LABEL = r"^[ \t>*_#-]*{name}[ \t*_]*[:：][ \t*_]*"
_FINAL = re.compile(_LABEL.format(name=r"final[ \t]*answer"), re.IGNORECASE | re.MULTILINE)
_ACTION = re.compile(_LABEL.format(name=r"action"), re.IGNORECASE | re.MULTILINE)
_INPUT = re.compile(_LABEL.format(name=r"action[ \t]*input"), re.IGNORECASE | re.MULTILINE)
_OBSERVATION = re.compile(_LABEL.format(name="observation"), re.IGNORECASE | re.MULTILINE)
_THOUGHT = re.compile(_LABEL.format(name="thought"), re.IGNORECASE | re.MULTILINE)
_CALL = re.compile(r"^([\w .-]+?)\s*\((.*)\)\s*$", re.DOTALL)
_FENCE = re.compile(r"^```[\w-]*\n?(.*?)\n?```$", re.DOTALL)
_QUOTES = ('""', "''", "``", "“”", "‘’")


class ParsedStep(BaseModel):
    """One step read from the model's reply.

    Example:
        >>> ParsedStep(kind="final", answer="42").answer
        '42'
    """

    kind: Literal["action", "final"]
    """An action to run, or the final answer."""
    thought: str = ""
    """The Thought text (may be empty)."""
    tool: str | None = None
    """The tool's name as registered (after repair)."""
    tool_input: str | dict[str, Any] = ""
    """The Action Input: text, or arguments for tools with several."""
    answer: str = ""
    """The Final Answer text."""
    repairs: list[str] = Field(default_factory=list)
    """What had to be fixed to read the step (empty for a reply in the exact format)."""


def strip_wrapping(text: str) -> tuple[str, bool]:
    """Remove one code fence or pair of quotes/backticks around ``text``.

    Example:
        >>> strip_wrapping('"capital of France"')
        ('capital of France', True)
    """
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        return fenced.group(1).strip(), True
    for pair in _QUOTES:
        if len(text) >= 2 and text[0] == pair[0] and text[-1] == pair[1]:
            return text[1:-1].strip(), True
    return text, False


def match_tool_name(written: str, tool_names: Sequence[str]) -> tuple[str | None, bool]:
    """The registered tool name the model meant, and whether it needed repair.

    Example:
        >>> match_tool_name("[Calculator]", ["calculator", "web_search"])
        ('calculator', True)
        >>> match_tool_name("use the web_search tool", ["calculator", "web_search"])
        ('web_search', True)
        >>> match_tool_name("weather", ["calculator"])
        (None, False)
    """
    if written in tool_names:
        return written, False
    cleaned = written.strip().strip("[](){}<>\"'`*.:,").strip()
    lowered = {name.lower(): name for name in tool_names}
    if cleaned.lower() in lowered:
        return lowered[cleaned.lower()], True
    # A registered name written as a word inside a phrase ("the calculator tool").
    for name in sorted(tool_names, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", cleaned.lower()):
            return name, True
    close = difflib.get_close_matches(cleaned.lower(), list(lowered), n=1, cutoff=0.8)
    if close:
        return lowered[close[0]], True
    return None, False


def parse_step(
    text: str, tool_names: Sequence[str], *, json_tools: Sequence[str] = ()
) -> ParsedStep:
    """Read one step from a reply that continues after ``Thought:``.

    ``json_tools`` names the tools whose input is a JSON object of arguments.

    Raises:
        StepParseError: the reply has no usable action or final answer.

    Example:
        >>> step = parse_step(" I need to add.\\nAction: Calculator\\nAction Input: 2 + 2",
        ...                   ["calculator"])
        >>> step.kind, step.tool, step.tool_input, step.repairs
        ('action', 'calculator', '2 + 2', ['tool name'])
        >>> parse_step(" I know it.\\nFinal Answer: 4", ["calculator"]).answer
        '4'
    """
    repairs: list[str] = []
    observation = _OBSERVATION.search(text)
    if observation:
        text = text[: observation.start()]
        repairs.append("invented observation")
    final = _FINAL.search(text)
    action = _ACTION.search(text)
    if final and action:
        repairs.append("both action and final answer")
        if final.start() < action.start():
            action = None
        else:
            final = None
    if final:
        answer = text[final.end() :].strip()
        if not answer:
            raise StepParseError(text, "the Final Answer is empty; write the answer after it")
        return ParsedStep(
            kind="final", thought=_thought(text[: final.start()]), answer=answer, repairs=repairs
        )
    if not action:
        reason = "there is no 'Action:' line and no 'Final Answer:' line"
        raise StepParseError(text, reason)
    line_end = text.find("\n", action.end())
    written = text[action.end() : line_end if line_end >= 0 else len(text)].strip()
    rest = text[line_end + 1 :] if line_end >= 0 else ""
    tool_input: str | None = None
    call = _CALL.match(written)
    tool: str | None = None
    repaired = False
    if call:  # "calculator(17 * 23)": the name outside, the input inside the parentheses
        tool, _ = match_tool_name(call.group(1), tool_names)
        if tool is not None:
            tool_input = call.group(2)
            repaired = True
            repairs.append("input in parentheses")
    if tool is None:
        tool, repaired = match_tool_name(written, tool_names)
    if tool is None:
        names = ", ".join(tool_names)
        raise StepParseError(
            text, f"{written!r} is not a tool; the Action must be one of [{names}]"
        )
    if repaired and "input in parentheses" not in repairs:
        repairs.append("tool name")
    if tool_input is None:
        source = rest
        given = _INPUT.search(rest)
        if given is None:  # written before the Action line
            source, given = text, _INPUT.search(text)
        if given is None:
            raise StepParseError(text, "the 'Action Input:' line is missing")
        tool_input = source[given.end() :]
        tool_input = tool_input if tool in json_tools else tool_input.split("\n", 1)[0]
    value, unwrapped = strip_wrapping(tool_input)
    if unwrapped:
        repairs.append("input quotes")
    parsed: str | dict[str, Any] = value
    if tool in json_tools:
        parsed = _json_arguments(text, value, repairs)
    return ParsedStep(
        kind="action",
        thought=_thought(text[: action.start()]),
        tool=tool,
        tool_input=parsed,
        repairs=repairs,
    )


def _thought(text: str) -> str:
    """The thought text before the first label, without a ``Thought:`` label of its own."""
    labelled = _THOUGHT.search(text)
    if labelled:
        text = text[labelled.end() :]
    return " ".join(text.split())


def _json_arguments(raw: str, value: str, repairs: list[str]) -> dict[str, Any]:
    """Arguments as a JSON object; single quotes are repaired, nothing is evaluated."""
    for candidate, repair in ((value, None), (value.replace("'", '"'), "json quotes")):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            if repair:
                repairs.append(repair)
            return data
    raise StepParseError(raw, "the Action Input must be a JSON object of the tool's arguments")
