"""Chatbots: a model, a memory and a session, one turn at a time.

:class:`Chatbot` builds each prompt from the system prompt, what the memory lets the model
see, and the new message; streams the answer; and stores the exchange in the session
(atomically, after the answer is complete: a cancelled or crashed turn leaves the session
as it was). When the prompt would not fit the model's context, the memory makes room its
own way - the window and buffer drop the oldest exchange from view, the summary memories
fold it into the summary - and the chatbot tells you through ``on_notice`` and
:attr:`Turn.notices`.

Example:
    >>> from localchain.chains import Chatbot
    >>> from localchain.memory import BufferMemory
    >>> bot = Chatbot(memory=BufferMemory())
    >>> bot.chat("Hi! My name is Maarten. What is 1 + 1?")            # doctest: +SKIP
    >>> bot.chat("What is my name?")                                  # doctest: +SKIP
    'Your name is Maarten.'
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from localchain.errors import ContextOverflowError
from localchain.memory import InMemorySessionStore, Memory, SessionStore, WindowMemory
from localchain.memory.summary import SummaryMemory
from localchain.models.capabilities import Capabilities, capabilities

__all__ = ["DEFAULT_SYSTEM_PROMPT", "Chatbot", "Turn", "new_session_id"]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."
"""The system message of a :class:`Chatbot` when neither it nor its session sets one."""


def new_session_id() -> str:
    """A fresh, sortable session id such as ``20261122-153012-9f3a``.

    Example:
        >>> len(new_session_id().split("-"))
        3
    """
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass
class Turn:
    """One finished exchange and what went into it; a chatbot keeps its last as ``last_turn``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> bot = Chatbot(FakeListChatModel(responses=["Hello Maarten!"]))
        >>> bot.chat("Hi! My name is Maarten.")
        'Hello Maarten!'
        >>> turn = bot.last_turn
        >>> turn.input, turn.output
        ('Hi! My name is Maarten.', 'Hello Maarten!')
        >>> [message.type for message in turn.prompt]
        ['system', 'human']
    """

    input: str
    """The user's message."""
    output: str
    """The model's answer."""
    prompt: list[BaseMessage]
    """Exactly the messages the model was given."""
    notices: list[str] = field(default_factory=list)
    """What the memory did that the user should know (dropped or folded exchanges)."""
    usage: dict[str, Any] | None = None
    """Token usage reported by the model, when it reports it."""


class Chatbot:
    """A conversation with a model, remembered by a memory, stored under a session id.

    Args:
        llm: The chat model (``None``: the configured model, the embedded one by default).
        memory: What the model sees of the past (default ``WindowMemory(k=2)``, as in the
            book). A summary memory without its own ``llm`` summarizes with ``llm``.
        system_prompt: The system message; a session that stored one (``/system`` in the
            REPL) keeps its own unless this is given.
        session_id: The session to continue or start (default: a new id).
        store: Where sessions live (default: in memory; use
            :class:`~localchain.memory.SQLiteSessionStore` to resume in another process).
        on_notice: Called with each notice as it happens (e.g. ``print``).
        reserve_tokens: Room kept for the answer when fitting the prompt into a local
            model's context (default: the model's ``max_tokens``, at most a quarter of it).

    Example:
        >>> from localchain.memory import SQLiteSessionStore, WindowMemory
        >>> bot = Chatbot(memory=WindowMemory(k=2), session_id="maarten",
        ...               store=SQLiteSessionStore("chats.db"))           # doctest: +SKIP
        >>> for piece in bot.stream("Hi! My name is Maarten."):           # doctest: +SKIP
        ...     print(piece, end="")
    """

    def __init__(
        self,
        llm: BaseChatModel | None = None,
        memory: Memory | None = None,
        *,
        system_prompt: str | None = None,
        session_id: str | None = None,
        store: SessionStore | None = None,
        on_notice: Callable[[str], None] | None = None,
        reserve_tokens: int | None = None,
    ) -> None:
        if llm is None:
            from localchain.models.registry import load_chat_model

            llm = load_chat_model()
        if reserve_tokens is not None and reserve_tokens < 0:
            raise ValueError(f"reserve_tokens must be >= 0, got {reserve_tokens}")
        self.llm = llm
        self.memory = memory if memory is not None else WindowMemory(k=2)
        if isinstance(self.memory, SummaryMemory) and self.memory.llm is None:
            self.memory.llm = llm
        self.store = store if store is not None else InMemorySessionStore()
        self.on_notice = on_notice
        self.reserve_tokens = reserve_tokens
        self.last_turn: Turn | None = None
        self._default_system = system_prompt
        self.session_id = ""
        self.switch(session_id or new_session_id())
        if system_prompt is not None:
            self.system_prompt = system_prompt

    # -- session -------------------------------------------------------------------------

    def switch(self, session_id: str) -> None:
        """Continue the session ``session_id`` from now on (created if new)."""
        history = self.store.history(session_id)
        self.memory.bind(history)
        self.session_id = history.session_id
        self.last_turn = None

    @property
    def system_prompt(self) -> str:
        """The system message: the session's own (set by assigning this), else the one
        given to the constructor, else :data:`DEFAULT_SYSTEM_PROMPT`."""
        stored = self.memory.history.state.get("system_prompt")
        return stored or self._default_system or DEFAULT_SYSTEM_PROMPT

    @system_prompt.setter
    def system_prompt(self, text: str) -> None:
        if not text.strip():
            raise ValueError("the system prompt must not be empty")
        self.memory.history.commit([], {"system_prompt": text.strip()})

    @property
    def history(self) -> list[BaseMessage]:
        """Every stored message of the session, including those out of the model's view."""
        return self.memory.history.messages

    def reset(self) -> None:
        """Forget the conversation (messages and memory state) of the current session."""
        self.memory.clear()
        self.last_turn = None

    # -- turns ---------------------------------------------------------------------------

    def prompt_for(self, text: str) -> list[BaseMessage]:
        """The messages the model would be given for ``text`` now.

        Example:
            >>> [m.type for m in bot.prompt_for("What is my name?")]    # doctest: +SKIP
            ['system', 'human', 'ai', 'human']
        """
        remembered = self.memory.messages
        leading = [m.text for m in remembered[:1] if isinstance(m, SystemMessage)]
        system = "\n\n".join([self.system_prompt, *leading])
        return [SystemMessage(system), *remembered[len(leading) :], HumanMessage(text)]

    def stream(self, text: str) -> Iterator[str]:
        """Answer ``text`` piece by piece; the exchange is stored once the answer is done.

        Closing the iterator early (Ctrl-C in the REPL) cancels the turn: nothing is stored.

        Raises:
            ValueError: ``text`` is empty.
            ContextOverflowError: the message does not fit even with nothing remembered.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty; type something to say")
        notices: list[str] = []
        prompt, pieces = self._start(text, notices)
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        try:
            for chunk in pieces:
                if chunk.usage_metadata:
                    usage = dict(chunk.usage_metadata)
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
        finally:
            # Cancelled: stop generating now, so the model is free for the next turn.
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        answer = "".join(parts).strip()
        for notice in self.memory.save_turn(text, answer):
            self._notify(notice, notices)
        self.last_turn = Turn(text, answer, prompt, notices, usage)

    def chat(self, text: str) -> str:
        """Answer ``text`` and store the exchange.

        Example:
            >>> bot.chat("What is 3 + 3?")                              # doctest: +SKIP
            '3 + 3 = 6.'
        """
        return "".join(self.stream(text)).strip()

    async def achat(self, text: str) -> str:
        """:meth:`chat` without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.chat, text)

    def _start(self, text: str, notices: list[str]) -> tuple[list[BaseMessage], Iterator[Any]]:
        """The prompt and the started answer stream, after making room in the context.

        A message that would not fit even with nothing remembered is refused before the
        memory is touched: making room drops or folds remembered turns for good.
        """
        caps = capabilities(self.llm)
        self._refuse_if_alone_too_long(text, caps)
        while True:
            prompt = self.prompt_for(text)
            if self._too_long(prompt) and self._make_room(notices):
                continue
            pieces = iter(self.llm.stream(prompt))
            try:
                # A local model checks the context before it generates: at the first next().
                first = next(pieces)
            except StopIteration:
                return prompt, iter(())
            except ContextOverflowError:
                # Only a model that counts tokens was checked above; for any other, room
                # made now might not help, so nothing remembered is given up for it.
                if caps.counts_tokens and self._make_room(notices):
                    continue
                raise
            return prompt, _chain_first(first, pieces)

    def _refuse_if_alone_too_long(self, text: str, caps: Capabilities) -> None:
        bare = [SystemMessage(self.system_prompt), HumanMessage(text)]
        tokens = caps.count_tokens(bare)
        n_ctx = caps.context_window
        # As the engine's own check: the prompt must leave at least one token to answer.
        if tokens is not None and n_ctx is not None and tokens >= n_ctx:
            raise ContextOverflowError(
                prompt_tokens=tokens, n_ctx=n_ctx, max_tokens=caps.answer_reserve()
            )

    def _too_long(self, prompt: list[BaseMessage]) -> bool:
        return not capabilities(self.llm).fits(prompt, reserve=self.reserve_tokens)

    def _make_room(self, notices: list[str]) -> bool:
        notice = self.memory.shrink()
        if notice is None:
            return False
        self._notify(notice, notices)
        return True

    def _notify(self, notice: str, notices: list[str]) -> None:
        notices.append(notice)
        if self.on_notice is not None:
            self.on_notice(notice)

    def __repr__(self) -> str:
        return f"Chatbot(memory={self.memory!r}, session_id={self.session_id!r})"


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
