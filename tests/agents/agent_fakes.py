"""Test doubles for the agent: a scripted chat model and small tools."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from pydantic import Field


class ScriptedChat(BaseChatModel):
    """Replies with the scripted texts in order (the last one forever); records each prompt."""

    replies: list[str]
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    stops: list[list[str] | None] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        self.stops.append(stop)
        text = self.replies[min(len(self.calls), len(self.replies)) - 1]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    def prompt_text(self, call: int = -1) -> str:
        """All message texts of one call, joined."""
        return "\n".join(message.text for message in self.calls[call])


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
