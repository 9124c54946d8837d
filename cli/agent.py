"""`localchain agent`: answer one question with the ReAct agent and its tools."""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from localchain.cli.options import (
    JsonOpt,
    ModelOptions,
    QuestionArg,
    print_json,
    read_question,
    with_model_options,
)

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["AGENT_TOOLS", "Examples", "ToolChoice", "agent", "examples_for", "tools_from_names"]

AGENT_TOOLS = ("calculator", "web_search")
"""Tool names the command knows."""


def tools_from_names(names: str) -> list[BaseTool]:
    """The tools for a comma-separated list of names (``calculator,web_search``).

    Example:
        >>> [tool.name for tool in tools_from_names("calculator")]
        ['calculator']
    """
    from localchain.agents.tools import Calculator, WebSearch

    makers = {"calculator": Calculator, "web_search": WebSearch}
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in makers]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown tool(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(AGENT_TOOLS)}",
            param_hint="--tools",
        )
    return [makers[name]() for name in dict.fromkeys(chosen)]


def examples_for(tools: list[BaseTool]) -> str:
    """The built-in worked examples for the chosen tools, in tool order.

    Example:
        >>> examples_for(tools_from_names("calculator")).startswith("Question: What is 48 * 7")
        True
    """
    from localchain.agents import CALCULATOR_EXAMPLES, SEARCH_EXAMPLES

    by_name = {"calculator": CALCULATOR_EXAMPLES, "web_search": SEARCH_EXAMPLES}
    return "\n".join(by_name[tool.name] for tool in tools if tool.name in by_name)


class Examples(str, Enum):
    """Values of ``--examples`` (see ``ReActAgent.examples``; ``none``: the book's prompt)."""

    selected = "selected"
    fixed = "fixed"
    none = "none"


class ToolChoice(str, Enum):
    """Values of ``--tool-choice`` (see ``ReActAgent.tool_choice``)."""

    auto = "auto"
    required = "required"


@with_model_options
def agent(
    question: QuestionArg,
    tools: Annotated[
        str, typer.Option("--tools", help="Comma-separated tools: calculator, web_search.")
    ] = "calculator,web_search",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print every step to stderr as it happens.")
    ] = False,
    max_iterations: Annotated[
        int, typer.Option("--max-iterations", min=1, help="Most steps before stopping.")
    ] = 8,
    max_seconds: Annotated[
        float, typer.Option("--max-seconds", min=1, help="Wall-clock budget in seconds.")
    ] = 120.0,
    examples: Annotated[
        Examples | None,
        typer.Option(
            "--examples",
            help="Worked examples in the prompt: 'selected' (the most similar to the question; "
            "default), 'fixed' (the same for every question) or 'none' (the book's prompt).",
        ),
    ] = None,
    tool_choice: Annotated[
        ToolChoice | None,
        typer.Option(
            "--tool-choice",
            help="'required' (default): the first step must call a tool instead of answering "
            "from memory; 'auto': the model may answer at once.",
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=1,
            max=16,
            help="Self-consistency: calculator inputs sampled per step, the majority result "
            "acted on (default 3; 1: greedy only).",
        ),
    ] = None,
    quote_result: Annotated[
        bool | None,
        typer.Option(
            "--quote-result/--no-quote-result",
            help="The final answer must quote the tool's result (default on).",
        ),
    ] = None,
    model_options: ModelOptions = ModelOptions(),
    json_output: JsonOpt = False,
) -> None:
    """Answer a question with the ReAct agent (calculator and web search by default)."""
    question = read_question(question)
    from localchain.agents import AgentResult, ReActAgent, ReActPrompt
    from localchain.models.registry import load_chat_model

    chosen = tools_from_names(tools)
    # Options left unset keep ReActAgent's defaults: one place decides them.
    options: dict[str, object] = {}
    if examples is not None:
        options["examples"] = None if examples is Examples.none else examples.value
    if tool_choice is not None:
        options["tool_choice"] = tool_choice.value
    if samples is not None:
        options["samples"] = samples
    if quote_result is not None:
        options["quote_result"] = quote_result
    react = ReActAgent(
        llm=load_chat_model(settings=model_options.settings()),
        tools=chosen,
        max_iterations=max_iterations,
        max_seconds=max_seconds,
        verbose=verbose,
        prompt=ReActPrompt(),
        **options,
    )
    result = AgentResult.from_output(react.invoke({"input": question.strip()}))
    if json_output:
        print_json(result.cli_dict())
        return
    sys.stdout.write(result.output + "\n")
    sys.stdout.flush()
