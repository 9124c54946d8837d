"""Test doubles for the agent: replies in the ReAct format and small tools (the scripted chat
model is the shared one, ``fakes.ScriptedChat``)."""

from __future__ import annotations

import time

from langchain_core.tools import tool


def action(tool_name: str, tool_input: str, thought: str = "I need a tool.") -> str:
    """A reply in the exact ReAct format (continuing after 'Thought:')."""
    return f" {thought}\nAction: {tool_name}\nAction Input: {tool_input}"


def final(answer: str) -> str:
    return f" I now know the final answer\nFinal Answer: {answer}"


@tool
def slow_echo(text: str) -> str:
    """Echoes the text after half a second."""
    time.sleep(0.5)
    return text


@tool
def broken(text: str) -> str:
    """Looks things up (always fails)."""
    raise RuntimeError("the index is corrupt")


@tool
def convert(amount: float, rate: float) -> str:
    """Converts an amount of money with an exchange rate."""
    return f"{amount * rate:g}"
