"""Summary memories: an LLM keeps a running summary, and the summary goes into the prompt.

:class:`SummaryMemory` (the book's) rewrites the summary after every exchange from
"current summary" + "new lines of conversation": one extra model call per turn, and a
long conversation stays small. :class:`SummaryBufferMemory` keeps the recent exchanges
verbatim and folds the oldest into the summary only when they exceed a token budget.

The summarizer may be a different (smaller, faster) model than the one that chats, and
its prompt is yours to change; it must use ``{summary}`` and ``{new_lines}``.

If the summarizer fails (a server down, a timeout), the exchange is still stored and
stays verbatim in the prompt until a later turn folds it in; the turn reports this.

Example:
    >>> from localchain.memory import SummaryMemory
    >>> memory = SummaryMemory(llm=summarizer)                       # doctest: +SKIP
    >>> memory.save_turn("Hi! My name is Maarten. What is 1 + 1?", "Hi Maarten, 2.")
    ... # doctest: +SKIP
    >>> memory.load()["summary"]                                      # doctest: +SKIP
    'Maarten introduced himself and asked what 1 + 1 is; the AI said 2.'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.prompts import BasePromptTemplate, PromptTemplate

from localchain.memory.base import Memory, format_transcript
from localchain.memory.history import SessionHistory
from localchain.models.capabilities import capabilities, with_max_tokens

__all__ = ["SUMMARY_PROMPT", "SummaryBufferMemory", "SummaryMemory"]

SUMMARY_PROMPT = (
    "Summarize the conversation and update the summary with the new lines. Keep names, "
    "numbers and questions.\n\n"
    "Current summary:\n{summary}\n\n"
    "New lines of conversation:\n{new_lines}\n\n"
    "New summary:"
)
"""The book's summary prompt (``{summary}`` and ``{new_lines}``), slightly tightened."""


class SummaryMemory(Memory):
    """A running summary, rewritten by ``llm`` after every exchange.

    Args:
        llm: The summarizer (chat or completion model). ``None``: a chatbot's own model
            when bound to a :class:`~localchain.chains.Chatbot`.
        prompt: The summary prompt, with ``{summary}`` and ``{new_lines}``.
        max_summary_tokens: Most tokens a summary may take (passed to the summarizer).
        history: The session to work on (a chatbot binds its own).

    Example:
        >>> memory = SummaryMemory(prompt="Old: {summary}\\nNew: {new_lines}\\nSummary:")
        >>> memory.summary
        ''
    """

    memory_type = "summary"

    def __init__(
        self,
        llm: BaseLanguageModel | None = None,
        *,
        prompt: str | BasePromptTemplate = SUMMARY_PROMPT,
        max_summary_tokens: int = 160,
        history: SessionHistory | None = None,
    ) -> None:
        super().__init__(history)
        template = PromptTemplate.from_template(prompt) if isinstance(prompt, str) else prompt
        if set(template.input_variables) != {"summary", "new_lines"}:
            raise ValueError(
                "the summary prompt must use exactly {summary} and {new_lines}; it uses "
                f"{sorted(template.input_variables)}"
            )
        if max_summary_tokens <= 0:
            raise ValueError(f"max_summary_tokens must be positive, got {max_summary_tokens}")
        self.llm = llm
        self.prompt = template
        self.max_summary_tokens = max_summary_tokens
        self.summary_calls = 0
        """Summarizer calls made by this memory object (for cost accounting)."""

    @property
    def summary(self) -> str:
        """The current summary ("" before the first exchange)."""
        return str(self.history.state.get("summary", ""))

    @property
    def summarized(self) -> int:
        """How many stored messages the summary covers."""
        return int(self.history.state.get("summarized", 0))

    @property
    def verbatim(self) -> list[BaseMessage]:
        """Stored messages not yet folded into the summary."""
        return self.history.messages[max(self.summarized, self.start) :]

    @property
    def messages(self) -> list[BaseMessage]:
        return self._summary_message(self.summary) + self.verbatim

    def load(self) -> dict[str, Any]:
        return {**super().load(), "summary": self.summary}

    def summarize(self, summary: str, lines: list[BaseMessage]) -> str:
        """One summarizer call: the new summary from the current one and new lines."""
        if self.llm is None:
            raise ValueError(
                f"{type(self).__name__} needs an llm to summarize with: pass llm=..., or use "
                "it in a Chatbot, which lends its own"
            )
        from localchain.chains.prompt import prompt_chain

        llm = with_max_tokens(self.llm, self.max_summary_tokens)
        self.summary_calls += 1
        chain = prompt_chain(self.prompt, llm, name="summary")
        new_summary = chain.invoke(
            {"summary": summary or "(empty)", "new_lines": format_transcript(lines)}
        )
        # An empty answer must not erase what the summary held.
        return new_summary or summary

    def _to_fold(self, verbatim: list[BaseMessage]) -> int:
        """How many of the oldest verbatim messages to fold now: all of them."""
        return len(verbatim)

    def save_turn(self, human: str, ai: str) -> list[str]:
        turn = [HumanMessage(human), AIMessage(ai)]
        verbatim = self.verbatim + turn
        fold = self._to_fold(verbatim)
        if fold == 0:
            self.history.commit(turn)
            return []
        try:
            new_summary = self.summarize(self.summary, verbatim[:fold])
        except Exception as err:  # noqa: BLE001 - the exchange is kept; the user is told
            self.history.commit(turn)
            return [f"the summary was not updated ({err}); the exchange stays verbatim for now"]
        covered = len(self.history.messages) + len(turn) - len(verbatim) + fold
        self.history.commit(turn, {"summary": new_summary, "summarized": covered})
        return self._fold_notice(fold)

    def _fold_notice(self, folded: int) -> list[str]:
        return []

    def shrink(self) -> str | None:
        verbatim = self.verbatim
        if len(verbatim) < 2:
            return None
        new_summary = self.summarize(self.summary, verbatim[:2])
        covered = len(self.history.messages) - len(verbatim) + 2
        self.history.commit([], {"summary": new_summary, "summarized": covered})
        return "the context was full: the oldest exchange was folded into the summary"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(llm={type(self.llm).__name__ if self.llm else None})"


class SummaryBufferMemory(SummaryMemory):
    """Recent exchanges verbatim within ``max_tokens``; older ones folded into a summary.

    Unlike the window it forgets nothing outright, and unlike the summary it costs no
    model call until the verbatim part outgrows its budget.

    Args:
        max_tokens: Token budget for the verbatim part of the prompt.
        llm: The summarizer (``None``: a chatbot's own model).
        token_counter: Counts tokens in a text; by default the summarizer's tokenizer for
            a local GGUF, else about four characters a token.

    Example:
        >>> memory = SummaryBufferMemory(max_tokens=200)
        >>> memory.max_tokens
        200
    """

    memory_type = "summary-buffer"

    def __init__(
        self,
        max_tokens: int = 512,
        llm: BaseLanguageModel | None = None,
        *,
        prompt: str | BasePromptTemplate = SUMMARY_PROMPT,
        max_summary_tokens: int = 160,
        token_counter: Callable[[str], int] | None = None,
        history: SessionHistory | None = None,
    ) -> None:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        super().__init__(
            llm, prompt=prompt, max_summary_tokens=max_summary_tokens, history=history
        )
        self.max_tokens = max_tokens
        self.token_counter = token_counter

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by :attr:`token_counter` or the default described above."""
        if self.token_counter is not None:
            return self.token_counter(text)
        counted = capabilities(self.llm).count_tokens(text) if self.llm is not None else None
        return len(text) // 4 + 1 if counted is None else counted

    def _to_fold(self, verbatim: list[BaseMessage]) -> int:
        fold = 0
        # Whole exchanges only, oldest first, until the rest fits the budget.
        while fold < len(verbatim) and self.count_tokens(
            format_transcript(verbatim[fold:])
        ) > self.max_tokens:
            fold += 2
        return min(fold, len(verbatim))

    def _fold_notice(self, folded: int) -> list[str]:
        exchanges = (folded + 1) // 2
        plural = "exchange was" if exchanges == 1 else "exchanges were"
        return [f"{exchanges} older {plural} folded into the summary"]

    def load(self) -> dict[str, Any]:
        return {**super().load(), "max_tokens": self.max_tokens}

    def __repr__(self) -> str:
        return f"SummaryBufferMemory(max_tokens={self.max_tokens})"
