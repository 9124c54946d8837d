"""What an agent run produces: its steps, its answer, and why it stopped.

:class:`ReActStep` is one executed tool call (the thought before it, the action, the
observation after it); :class:`AgentResult` is a whole run. Both are pydantic models, so a
run turns into JSON with ``model_dump(mode="json")``. ``ReActAgent.invoke`` returns the
fields of an :class:`AgentResult` as a dict, the shape LangChain's ``AgentExecutor`` returns
(``input``, ``output``, ``intermediate_steps``) plus what a caller needs to trust it
(``stopped_reason``, ``parse_failures``, ...).

Example:
    >>> step = ReActStep(thought="I need to multiply.", tool="calculator",
    ...                  tool_input="17 * 23", observation="391")
    >>> result = AgentResult(input="What is 17 * 23?", output="391",
    ...                      intermediate_steps=[step], stopped_reason="final_answer")
    >>> result.cli_dict()["intermediate_steps"]
    [{'tool': 'calculator', 'tool_input': '17 * 23', 'observation': '391'}]
    >>> action, observation = step.as_langchain()
    >>> action.tool, observation
    ('calculator', '391')
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.agents import AgentAction
from pydantic import BaseModel, Field

__all__ = ["BUDGET_REASONS", "AgentResult", "ReActStep", "StoppedReason"]

StoppedReason = Literal[
    "final_answer",
    "repeated_action",
    "stalled",
    "parse_failures",
    "max_iterations",
    "max_seconds",
    "context_full",
]
"""Why a run ended.

- ``final_answer``: the model gave its Final Answer.
- ``repeated_action``: the model asked for an action it had already taken with the same
  input; the executor skipped it and had the model answer from the observations so far.
- ``stalled``: the loop made no progress (the same step with only the numbers changed, or
  one tool error after another); the executor had the model answer.
- ``parse_failures``: a backend without grammar support kept replying outside the format;
  after the retries the executor had the model answer.
- ``max_iterations`` / ``max_seconds``: a budget ran out; the output is ``stopped: budget
  (...)`` and the steps so far are kept.
- ``context_full``: the prompt no longer fit the model's context window.
"""

BUDGET_REASONS: frozenset[str] = frozenset({"max_iterations", "max_seconds", "context_full"})
"""Reasons that end a run without an answer from the model."""


def budget_output(reason: StoppedReason, *, max_iterations: int, max_seconds: float | None) -> str:
    """The output of a run a budget ended.

    Example:
        >>> budget_output("max_iterations", max_iterations=8, max_seconds=None)
        'stopped: budget (max_iterations=8 reached before a final answer)'
    """
    if reason == "max_iterations":
        return f"stopped: budget (max_iterations={max_iterations} reached before a final answer)"
    if reason == "max_seconds":
        return f"stopped: budget (max_seconds={max_seconds:g} passed before a final answer)"
    return "stopped: budget (the prompt no longer fits the model's context window)"


class ReActStep(BaseModel):
    """One executed tool call: the thought, the action and its observation.

    Example:
        >>> ReActStep(tool="calculator", tool_input="1/0", observation="division by zero",
        ...           error=True).error
        True
    """

    thought: str = ""
    """The model's Thought line before the action."""
    tool: str
    """Name of the tool called."""
    tool_input: str | dict[str, Any]
    """The Action Input: text for single-argument tools, the arguments for the others."""
    observation: str
    """What the tool returned (or the error message), as the model saw it (before fencing)."""
    error: bool = False
    """True when the tool failed or refused; the observation then says why."""
    seconds: float = 0.0
    """Time spent in the tool."""

    def as_langchain(self) -> tuple[AgentAction, str]:
        """The step as LangChain's ``(AgentAction, observation)`` pair.

        Example:
            >>> ReActStep(tool="calculator", tool_input="2+2", observation="4").as_langchain()[1]
            '4'
        """
        log = f"Thought: {self.thought}\nAction: {self.tool}\nAction Input: {self.tool_input}"
        return AgentAction(tool=self.tool, tool_input=self.tool_input, log=log), self.observation


class AgentResult(BaseModel):
    """A finished run of the agent.

    Example:
        >>> AgentResult(input="q", output="stopped: budget (max_iterations=1)",
        ...             stopped_reason="max_iterations").stopped_by_budget
        True
    """

    input: str
    """The question."""
    output: str
    """The final answer, or ``stopped: budget (...)`` when a budget ended the run."""
    intermediate_steps: list[ReActStep] = Field(default_factory=list)
    """Every tool call, in order."""
    stopped_reason: StoppedReason
    """Why the run ended (see :data:`StoppedReason`)."""
    parse_failures: int = 0
    """Replies that did not follow the format and needed a retry (always 0 under a grammar)."""
    repaired: int = 0
    """Replies that were off-format but could be repaired without a retry (tool name case,
    quotes around the input, ...)."""
    iterations: int = 0
    """Steps the model was asked for, including the final one."""
    elapsed_s: float = 0.0
    """Wall-clock seconds for the whole run."""
    notices: list[str] = Field(default_factory=list)
    """What the executor did on its own: skipped a repeated action, forced the final step."""
    grammar: bool = False
    """True when the steps were decoded under a grammar (llama.cpp)."""

    @property
    def stopped_by_budget(self) -> bool:
        """True when a budget (iterations, seconds, context) ended the run."""
        return self.stopped_reason in BUDGET_REASONS

    def to_output(self) -> dict[str, Any]:
        """The run as the dict ``ReActAgent.invoke`` returns (steps stay ReActStep objects)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    @classmethod
    def from_output(cls, output: dict[str, Any]) -> AgentResult:
        """Rebuild a result from ``invoke``'s dict (or its JSON form).

        Example:
            >>> out = AgentResult(input="q", output="a", stopped_reason="final_answer").to_output()
            >>> AgentResult.from_output(out).output
            'a'
        """
        return cls.model_validate({k: v for k, v in output.items() if k in cls.model_fields})

    def cli_dict(self) -> dict[str, Any]:
        """The JSON object ``localchain agent --json`` prints."""
        return {
            "input": self.input,
            "output": self.output,
            "intermediate_steps": [
                {"tool": s.tool, "tool_input": s.tool_input, "observation": s.observation}
                for s in self.intermediate_steps
            ],
            "stopped_reason": self.stopped_reason,
            "parse_failures": self.parse_failures,
            "iterations": self.iterations,
            "elapsed_s": round(self.elapsed_s, 3),
        }
