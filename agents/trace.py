"""The verbose trace of an agent run, printed with rich as the events arrive.

``ReActAgent(verbose=True)`` prints every Thought, Action, Observation, notice and the
final answer to stderr (stdout stays free for the program's own output, e.g. ``--json``).

Example:
    >>> from io import StringIO
    >>> from rich.console import Console
    >>> out = StringIO()
    >>> printer = TracePrinter(Console(file=out, width=80, color_system=None))
    >>> printer({"thought": "I need to multiply."})
    >>> print(out.getvalue().strip())
    Thought: I need to multiply.
"""

from __future__ import annotations

from typing import Any

from langchain_core.agents import AgentAction
from rich.console import Console
from rich.markup import escape

__all__ = ["TracePrinter"]

_OBSERVATION_SHOWN = 600


class TracePrinter:
    """Prints agent stream events (the dicts ``ReActAgent.stream`` yields).

    Example:
        >>> printer = TracePrinter()             # prints to stderr
        >>> printer({"notice": "repeated action: asking for the final answer"})  # doctest: +SKIP
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)

    def __call__(self, event: dict[str, Any]) -> None:
        print_ = self.console.print
        if "thought" in event:
            print_(f"[bold]Thought:[/bold] [italic]{escape(event['thought'])}[/italic]")
        elif "action" in event:
            action: AgentAction = event["action"]
            print_(f"[bold cyan]Action:[/bold cyan] {escape(action.tool)}")
            print_(f"[bold cyan]Action Input:[/bold cyan] {escape(str(action.tool_input))}")
        elif "observation" in event:
            text = str(event["observation"])
            if len(text) > _OBSERVATION_SHOWN:
                text = text[:_OBSERVATION_SHOWN] + " …"
            style = "red" if event.get("error") else "green"
            print_(f"[bold {style}]Observation:[/bold {style}] {escape(text)}")
        elif "parse_failure" in event:
            print_(
                f"[yellow]Could not parse the reply ({escape(event['parse_failure'])}); "
                "asking again.[/yellow]"
            )
        elif "notice" in event:
            print_(f"[yellow]{escape(event['notice'])}[/yellow]")
        elif "output" in event:
            reason = event.get("stopped_reason", "")
            style = "bold green" if reason == "final_answer" else "bold yellow"
            print_(f"[{style}]Final Answer:[/{style}] {escape(str(event['output']))}")
            if reason != "final_answer":
                print_(f"[dim](stopped: {escape(reason)})[/dim]")
