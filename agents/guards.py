"""Loop guards: the executor, not the model, makes sure a run ends.

A small model that has just seen the calculator's answer often asks for the same action
again instead of answering (measured on the embedded 135M model, see LANDMINES.md), or
feeds each result back into the same template ("15% of 840", "126% of 840", ...).
:class:`LoopGuard` looks at each proposed action *before* it runs:

- **repeated action**: the same tool with the same input (ignoring case, spaces and
  quotes) as an earlier step;
- **stalled**: the same step as the previous one with only the numbers changed, and no
  number that was not already used or observed - the loop is going round, not forward;
- **stalled** too after ``max_consecutive_errors`` tool errors in a row.

The executor then skips the action and asks for the final answer with the observations in
view. Budgets (iterations, seconds) are the last line of defence, in the executor.

Example:
    >>> guard = LoopGuard()
    >>> guard.check("I will calculate 15% of 840.", "calculator", "15% of 840") is None
    True
    >>> guard.record("I will calculate 15% of 840.", "calculator", "15% of 840", "126", False)
    >>> guard.check("I will calculate 126% of 840.", "calculator", "126% of 840")
    'stalled'
    >>> guard.check("Again.", "calculator", "15 % of 840")
    'repeated_action'
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["FORCE_NOTICES", "GuardSettings", "GuardVerdict", "LoopGuard", "action_key"]

GuardVerdict = Literal["repeated_action", "stalled"]
"""Why a guard stopped the loop."""

FORCE_NOTICES: dict[str, str] = {
    "repeated_action": (
        "repeated action with the same input: skipped it; asking for the final answer"
    ),
    "stalled": "the loop is not making progress: asking for the final answer",
    "parse_failures": "the replies kept breaking the format: asking for the final answer",
}
"""What the executor reports when it asks for the final answer, by reason."""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACE_OR_QUOTE = re.compile(r"[\s\"'`]+")


class GuardSettings(BaseModel):
    """Which guards run, and how patient they are.

    Example:
        >>> GuardSettings(max_consecutive_errors=2).max_consecutive_errors
        2
    """

    repeated_action: bool = True
    """Stop when an action repeats an earlier one with the same input."""
    stalled_steps: bool = True
    """Stop when a step repeats the previous one with only the numbers changed."""
    max_consecutive_errors: int = Field(3, ge=1)
    """Stop after this many tool errors in a row."""
    max_parse_retries: int = Field(2, ge=0)
    """Retries for an unparseable reply (backends without grammar) before the final step."""


def action_key(tool: str, tool_input: str | dict[str, Any]) -> tuple[str, str]:
    """What makes two actions "the same": tool and input without case, spaces or quotes.

    Example:
        >>> action_key("calculator", " 17*23 ") == action_key("calculator", "'17 * 23'")
        True
    """
    if isinstance(tool_input, dict):
        text = json.dumps(tool_input, sort_keys=True, ensure_ascii=False)
    else:
        text = tool_input
    return tool, _SPACE_OR_QUOTE.sub("", text).lower()


def _shape(text: str) -> str:
    return _SPACE_OR_QUOTE.sub(" ", _NUMBER.sub("#", text)).strip().lower()


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


class LoopGuard:
    """Remembers the steps of one run and judges each proposed action.

    Example:
        >>> guard = LoopGuard(GuardSettings(max_consecutive_errors=1))
        >>> guard.record("t", "calculator", "1/0", "division by zero", True)
        >>> guard.errors_exhausted
        True
    """

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self._seen: set[tuple[str, str]] = set()
        self._previous: tuple[str, str, str] | None = None
        self._known_numbers: set[str] = set()
        self._errors_in_a_row = 0

    def check(
        self, thought: str, tool: str, tool_input: str | dict[str, Any]
    ) -> GuardVerdict | None:
        """The verdict on a proposed action, or None to run it."""
        if self.settings.repeated_action and action_key(tool, tool_input) in self._seen:
            return "repeated_action"
        text = tool_input if isinstance(tool_input, str) else json.dumps(tool_input)
        if self.settings.stalled_steps and self._previous is not None:
            same_shape = self._previous == (tool, _shape(thought), _shape(text))
            if same_shape and _numbers(text) <= self._known_numbers:
                return "stalled"
        return None

    def record(
        self,
        thought: str,
        tool: str,
        tool_input: str | dict[str, Any],
        observation: str,
        error: bool,
    ) -> None:
        """Remember an executed step."""
        text = tool_input if isinstance(tool_input, str) else json.dumps(tool_input)
        self._seen.add(action_key(tool, tool_input))
        self._previous = (tool, _shape(thought), _shape(text))
        self._known_numbers |= _numbers(text) | _numbers(observation)
        self._errors_in_a_row = self._errors_in_a_row + 1 if error else 0

    @property
    def errors_exhausted(self) -> bool:
        """True after ``max_consecutive_errors`` tool errors in a row."""
        return self._errors_in_a_row >= self.settings.max_consecutive_errors
