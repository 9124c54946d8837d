"""localchain.agents: a ReAct agent that works on a small local model, and its tools.

:class:`ReActAgent` is a LangChain Runnable running the book's Thought / Action /
Action Input / Observation loop. On llama.cpp every step is decoded under grammars built
from the tool list, so it always parses; on other backends (OpenAI-compatible servers)
replies are parsed with repair and a bounded retry. The executor ends every run: repeated
actions and stalled loops lead to a final answer with the observations in view, and
``max_iterations`` / ``max_seconds`` stop it with ``stopped: budget (...)``. Tool errors
are observations; tool output is fenced and cut. The tools are in
:mod:`localchain.agents.tools` (calculator, web search, retriever-as-tool).

Modules: ``executor`` (the agent), ``prompt`` (the book's prompt as data, fencing),
``grammar`` (GBNF per slot), ``decoding`` (grammar and repair decoders, self-consistency
over a pure tool's input), ``examples`` (worked examples chosen per question), ``parser``
(parse with repair), ``guards`` (repeat and stall detection), ``tool_call`` (tools never
crash the run), ``result`` (typed results), ``trace`` (the verbose trace).

Example:
    >>> from localchain.agents import ReActAgent
    >>> from localchain.agents.tools import Calculator
    >>> agent = ReActAgent(tools=[Calculator()], max_iterations=4)     # doctest: +SKIP
    >>> agent.invoke({"input": "What is 15% of 840?"})["output"]         # doctest: +SKIP
    '126'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localchain import _lazy_exports

if TYPE_CHECKING:
    from localchain.agents.decoding import GrammarDecoder, RepairDecoder, StepLimits
    from localchain.agents.examples import EXAMPLE_BANK, BM25ExampleSelector
    from localchain.agents.executor import ReActAgent
    from localchain.agents.grammar import action_grammar, expression_grammar, input_grammar
    from localchain.agents.guards import GuardSettings, LoopGuard
    from localchain.agents.parser import ParsedStep, parse_step
    from localchain.agents.prompt import (
        BOOK_REACT_TEMPLATE,
        CALCULATOR_EXAMPLES,
        SEARCH_EXAMPLES,
        ReActPrompt,
        fence_observation,
    )
    from localchain.agents.result import AgentResult, ReActStep, StoppedReason
    from localchain.agents.tool_call import ToolOutcome, call_tool
    from localchain.agents.trace import TracePrinter

__all__ = [
    "BOOK_REACT_TEMPLATE",
    "CALCULATOR_EXAMPLES",
    "EXAMPLE_BANK",
    "SEARCH_EXAMPLES",
    "AgentResult",
    "BM25ExampleSelector",
    "GrammarDecoder",
    "GuardSettings",
    "LoopGuard",
    "ParsedStep",
    "ReActAgent",
    "ReActPrompt",
    "ReActStep",
    "RepairDecoder",
    "StepLimits",
    "StoppedReason",
    "ToolOutcome",
    "TracePrinter",
    "action_grammar",
    "call_tool",
    "expression_grammar",
    "fence_observation",
    "input_grammar",
    "parse_step",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "decoding": ("GrammarDecoder", "RepairDecoder", "StepLimits"),
        "examples": ("EXAMPLE_BANK", "BM25ExampleSelector"),
        "executor": ("ReActAgent",),
        "grammar": ("action_grammar", "expression_grammar", "input_grammar"),
        "guards": ("GuardSettings", "LoopGuard"),
        "parser": ("ParsedStep", "parse_step"),
        "prompt": (
            "BOOK_REACT_TEMPLATE",
            "CALCULATOR_EXAMPLES",
            "SEARCH_EXAMPLES",
            "ReActPrompt",
            "fence_observation",
        ),
        "result": ("AgentResult", "ReActStep", "StoppedReason"),
        "tool_call": ("ToolOutcome", "call_tool"),
        "trace": ("TracePrinter",),
    },
)
