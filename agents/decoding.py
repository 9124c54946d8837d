"""How one ReAct step is obtained from the model: under grammars, or parsed with repair.

:class:`GrammarDecoder` (llama.cpp) renders the ReAct prompt through the model's chat
template and *continues the model's own turn*: the executor writes the protocol words and
the model fills in the Thought (one line), the action choice (under
:func:`~localchain.agents.grammar.action_grammar`), and the Action Input (under the tool's
input grammar) or the Final Answer (one line). Every step parses by construction, and each
call only evaluates the new tokens: the rest of the prompt is the KV cache's prefix.

:class:`RepairDecoder` (any LangChain chat model, e.g. an OpenAI-compatible server) sends
the whole prompt as one message, as LangChain's ``create_react_agent`` does, stops at
``Observation:``, parses the reply with :func:`~localchain.agents.parser.parse_step`, and on
failure retries with a correction, a bounded number of times. Failures are counted.

Both are generators: they yield ``{"thought": ...}`` as soon as the Thought is known and
return the :class:`~localchain.agents.parser.ParsedStep`.

Example:
    >>> from localchain.models import LlamaCppChat
    >>> decoder = make_decoder(LlamaCppChat(), grammar=None)  # doctest: +SKIP
    >>> decoder.uses_grammar  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import BaseTool

from localchain.agents.grammar import (
    InputGrammar,
    InputView,
    action_grammar,
    answer_grammar,
    input_grammar,
    offered,
    result_value,
    single_text_argument,
)
from localchain.agents.parser import ParsedStep, parse_step, strip_wrapping
from localchain.agents.prompt import ReActPrompt
from localchain.errors import ConfigError, StepParseError
from localchain.models.capabilities import capabilities, with_max_tokens

__all__ = [
    "GrammarDecoder",
    "OutOfTime",
    "RepairDecoder",
    "StepContext",
    "StepDecoder",
    "StepLimits",
    "make_decoder",
]

Events = Generator[dict[str, Any], None, ParsedStep | None]


@dataclass(frozen=True)
class StepLimits:
    """Tokens per slot of a step; each bounds one model call.

    Example:
        >>> StepLimits(answer_tokens=64).answer_tokens
        64
    """

    thought_tokens: int = 48
    """The Thought line."""
    input_tokens: int = 64
    """The Action Input (JSON arguments get four times as many)."""
    answer_tokens: int = 96
    """The Final Answer line."""
    reply_tokens: int = 256
    """A whole reply on backends without grammar (when the model accepts max_tokens)."""


class OutOfTime(Exception):
    """Internal: the wall-clock budget ran out between two model calls."""


@dataclass
class StepContext:
    """What the decoder needs for the next step of one run."""

    question: str
    history: Sequence[BaseMessage] | str | None
    scratchpad: str
    texts_in_view: list[str]
    deadline: float | None = None
    callbacks: Callbacks = None
    results: list[str] = field(default_factory=list)
    """What the tools returned so far (observations that are not errors)."""
    allow_final: bool = True
    """False while the agent requires a tool call before answering (``tool_choice``)."""
    examples: str | None = None
    """Worked examples chosen for this question (the prompt's ``{examples}`` slot)."""
    parse_failures: int = 0
    repaired: int = 0
    notices: list[str] = field(default_factory=list)

    def check_time(self) -> None:
        """Raise OutOfTime when the deadline has passed."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime


class StepDecoder:
    """Common parts of the two decoders."""

    uses_grammar = False

    def __init__(
        self,
        llm: BaseChatModel,
        prompt: ReActPrompt,
        tools: Sequence[BaseTool],
        limits: StepLimits,
    ) -> None:
        self.llm = llm
        self.prompt = prompt
        self.tools = list(tools)
        self.by_name = {tool.name: tool for tool in tools}
        self.limits = limits

    def decode(self, ctx: StepContext) -> Events:  # pragma: no cover - abstract
        raise NotImplementedError

    def final(self, ctx: StepContext) -> Generator[dict[str, Any], None, str]:  # pragma: no cover
        raise NotImplementedError


class GrammarDecoder(StepDecoder):
    """Steps on llama.cpp: the model continues its own turn, slot by slot, under grammars.

    :class:`~localchain.agents.ReActAgent` uses it for a llama.cpp chat model.

    Example:
        >>> from localchain.agents import ReActAgent
        >>> from localchain.agents.tools import Calculator
        >>> from localchain.models import LlamaCppChat
        >>> agent = ReActAgent(llm=LlamaCppChat(), tools=[Calculator()])  # doctest: +SKIP
        >>> result = agent.invoke("What is 15% of 840?")                  # doctest: +SKIP
        >>> result["grammar"], result["parse_failures"]                   # doctest: +SKIP
        (True, 0)
    """

    uses_grammar = True

    def __init__(
        self,
        llm: BaseChatModel,
        prompt: ReActPrompt,
        tools: Sequence[BaseTool],
        limits: StepLimits,
        *,
        input_grammars: Mapping[str, InputGrammar] | None = None,
        ground_numbers: bool = True,
        ground_queries: bool = True,
        samples: int = 1,
        sample_temperature: float = 0.8,
        quote_result: bool = False,
    ) -> None:
        super().__init__(llm, prompt, tools, limits)
        self.samples = samples
        self.sample_temperature = sample_temperature
        self.quote_result = quote_result
        # A completion model over the *same* weights, lock and KV cache: it takes the
        # rendered prompt as text, which is what lets the executor write the start of the
        # model's turn.
        self.caps = capabilities(llm)
        self.completion = self.caps.completion()
        self.input_grammars = dict(input_grammars or {})
        self.ground_numbers = ground_numbers
        self.ground_queries = ground_queries

    def prefix(self, ctx: StepContext) -> str:
        """The text the model continues: chat-templated instructions, then its own turn."""
        head, turn = self.prompt.split(
            tools=self.tools, question=ctx.question, history=ctx.history, examples=ctx.examples
        )
        rendered = self.caps.render([HumanMessage(head.rstrip("\n"))])
        return rendered + turn + ctx.scratchpad

    def _generate(
        self,
        ctx: StepContext,
        text: str,
        *,
        max_tokens: int,
        grammar: str | None = None,
        line: bool = True,
        **sampling: Any,
    ) -> str:
        ctx.check_time()
        options: dict[str, Any] = {"max_tokens": max_tokens, **sampling}
        if grammar is not None:
            options["grammar"] = grammar
        stop = ["\n"] if line else None
        return self.completion.invoke(
            text, config={"callbacks": ctx.callbacks}, stop=stop, **options
        )

    def decode(self, ctx: StepContext) -> Events:
        text = self.prefix(ctx)
        thought = " ".join(self._generate(ctx, text, max_tokens=self.limits.thought_tokens).split())
        yield {"thought": thought}
        text += (f" {thought}" if thought else "") + "\n"
        offered = self.offered_tools(ctx)
        if offered:
            choice = self._generate(
                ctx,
                text,
                max_tokens=24 + max(map(len, offered)),
                grammar=action_grammar(offered, allow_final=ctx.allow_final),
                line=False,
            ).strip()
        else:
            choice = "Final Answer:"
        if choice.startswith("Final Answer:"):
            answer = self._answer(ctx, text + "Final Answer:")
            return ParsedStep(kind="final", thought=thought, answer=answer)
        name = choice.removeprefix("Action:").strip()
        if name not in self.by_name:  # cannot happen under the grammar; never trust blindly
            ctx.parse_failures += 1
            ctx.notices.append(f"the action choice {choice!r} names no tool")
            return None
        tool = self.by_name[name]
        text += f"Action: {name}\nAction Input:"
        if name in self.input_grammars:
            override = self.input_grammars[name]
            gbnf = override(ctx.texts_in_view) if callable(override) else override
        else:
            gbnf = input_grammar(tool, self.view(ctx))
        is_json = gbnf is not None and single_text_argument(tool) is None
        raw = self._generate(
            ctx,
            text,
            grammar=gbnf,
            line=not is_json,
            max_tokens=self.limits.input_tokens * (4 if is_json else 1),
        ).strip()
        tool_input: str | dict[str, Any] = raw
        if is_json:
            try:
                tool_input = json.loads(raw)
            except json.JSONDecodeError:  # cut off at max_tokens: the tool reports it
                tool_input = raw
        else:
            tool_input, _ = strip_wrapping(raw)
            if self.samples > 1 and getattr(tool, "pure", False):
                tool_input = self._vote(ctx, text, gbnf, tool, tool_input)
        return ParsedStep(kind="action", thought=thought, tool=name, tool_input=tool_input)

    def _vote(
        self, ctx: StepContext, text: str, gbnf: str | None, tool: BaseTool, greedy: str
    ) -> str:
        """Self-consistency over the Action Input of a pure tool: sample ``samples - 1`` more
        inputs at ``sample_temperature`` under the same grammar, run the tool on each, and
        keep an input whose result the most candidates agree on (the greedy input's when it
        is among the most agreed; errors never win over a result)."""
        from localchain.agents.tool_call import call_tool

        candidates = [greedy]
        for seed in range(1, self.samples):
            raw = self._generate(
                ctx,
                text,
                grammar=gbnf,
                max_tokens=self.limits.input_tokens,
                temperature=self.sample_temperature,
                seed=seed,
            ).strip()
            candidates.append(strip_wrapping(raw)[0])
        results: list[str | None] = []
        for candidate in candidates:
            outcome = call_tool(tool, candidate, timeout=5.0)
            results.append(None if outcome.error else outcome.observation.strip())
        counts = Counter(result for result in results if result is not None)
        if not counts:
            return greedy
        most = max(counts.values())
        chosen = results[0] if counts.get(results[0] or "", 0) == most else None
        if chosen is None:
            chosen = next(r for r in results if r is not None and counts[r] == most)
        ctx.notices.append(
            f"self-consistency: {most} of {len(candidates)} inputs for {tool.name} gave "
            f"{chosen}" + ("" if chosen == results[0] else f" (greedy: {results[0]})")
        )
        return candidates[results.index(chosen)]

    def view(self, ctx: StepContext) -> InputView:
        """What the tools' input grammars may draw on at this step."""
        return InputView(
            ctx.texts_in_view,
            ground_numbers=self.ground_numbers,
            ground_queries=self.ground_queries,
        )

    def offered_tools(self, ctx: StepContext) -> list[str]:
        """The tool names the action choice allows now: every tool whose ``offered(view)``
        allows it (the calculator, with grounded numbers, only when a number is in view),
        and every tool whose input grammar the agent overrides."""
        view = self.view(ctx)
        return [
            name
            for name, tool in self.by_name.items()
            if name in self.input_grammars or offered(tool, view)
        ]

    def _answer(self, ctx: StepContext, text: str) -> str:
        # After tools gave results, the answer's numbers must be quoted from them: the small
        # model otherwise restates the question and does the arithmetic itself, wrongly.
        grounded = self.ground_numbers and bool(ctx.results)
        required = result_value(ctx.results[-1]) if self.quote_result and ctx.results else None
        grammar = answer_grammar(ctx.results, require=required) if grounded or required else None
        answer = self._generate(
            ctx, text, max_tokens=self.limits.answer_tokens, grammar=grammar
        ).strip()
        if not answer:
            # The model ended the line at once; a grammar makes it write something.
            answer = self._generate(
                ctx,
                text,
                max_tokens=self.limits.answer_tokens,
                grammar='root ::= " " [^\\n ] [^\\n]*',
            ).strip()
        return answer

    def final(self, ctx: StepContext) -> Generator[dict[str, Any], None, str]:
        text = self.prefix(ctx) + f" {self.prompt.final_thought}\nFinal Answer:"
        yield {"thought": self.prompt.final_thought}
        return self._answer(ctx, text)


class RepairDecoder(StepDecoder):
    """Steps on chat models without grammar support: parse, repair, retry.

    :class:`~localchain.agents.ReActAgent` uses it for any other chat model.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from localchain.agents import ReActAgent
        >>> from localchain.agents.tools import Calculator
        >>> chat = FakeListChatModel(responses=[
        ...     ' I need to compute it.\\naction: Calculator\\nAction Input: "15% of 840"',
        ...     " I now know the final answer\\nFinal Answer: 126"])
        >>> result = ReActAgent(llm=chat, tools=[Calculator()]).invoke("What is 15% of 840?")
        >>> result["output"], result["grammar"], result["repaired"]
        ('126', False, 1)
    """

    def __init__(
        self,
        llm: BaseChatModel,
        prompt: ReActPrompt,
        tools: Sequence[BaseTool],
        limits: StepLimits,
        *,
        max_parse_retries: int = 2,
    ) -> None:
        super().__init__(llm, prompt, tools, limits)
        self.max_parse_retries = max_parse_retries
        self.json_tools = [t.name for t in tools if single_text_argument(t) is None]
        self.model = with_max_tokens(llm, limits.reply_tokens).bind(
            stop=["\nObservation:", "Observation:"]
        )

    def _messages(self, ctx: StepContext, extra: str = "") -> list[BaseMessage]:
        text = self.prompt.render(
            tools=self.tools,
            question=ctx.question,
            scratchpad=ctx.scratchpad + extra,
            history=ctx.history,
            examples=ctx.examples,
        )
        return [HumanMessage(text)]

    def _reply(self, ctx: StepContext, messages: list[BaseMessage]) -> str:
        ctx.check_time()
        reply = self.model.invoke(messages, config={"callbacks": ctx.callbacks})
        return reply.text if isinstance(reply, BaseMessage) else str(reply)

    def decode(self, ctx: StepContext) -> Events:
        names = list(self.by_name)
        messages = self._messages(ctx)
        for attempt in range(self.max_parse_retries + 1):
            raw = self._reply(ctx, messages)
            try:
                step = parse_step(raw, names, json_tools=self.json_tools)
            except StepParseError as err:
                ctx.parse_failures += 1
                ctx.notices.append(f"parse failure {ctx.parse_failures}: {err.reason}")
                yield {"parse_failure": err.reason, "raw": raw, "attempt": attempt + 1}
                messages = [
                    *messages,
                    AIMessage(raw),
                    HumanMessage(self.prompt.reminder(err.reason, self.tools)),
                ]
                continue
            if step.kind == "final" and not ctx.allow_final:
                reason = "a tool must be called before the Final Answer"
                ctx.parse_failures += 1
                ctx.notices.append(f"parse failure {ctx.parse_failures}: {reason}")
                yield {"parse_failure": reason, "raw": raw, "attempt": attempt + 1}
                messages = [
                    *messages,
                    AIMessage(raw),
                    HumanMessage(self.prompt.reminder(reason, self.tools)),
                ]
                continue
            if step.repairs:
                ctx.repaired += 1
            yield {"thought": step.thought}
            return step
        return None

    def final(self, ctx: StepContext) -> Generator[dict[str, Any], None, str]:
        lead = f" {self.prompt.final_thought}\nFinal Answer:"
        raw = self._reply(ctx, self._messages(ctx, lead))
        yield {"thought": self.prompt.final_thought}
        try:
            step = parse_step(raw, list(self.by_name))
        except StepParseError:
            return " ".join(raw.split())  # the answer the prompt asked for, label or not
        if step.kind == "final":
            return step.answer
        return " ".join(raw[: raw.find("Action")].split()) if "Action" in raw else raw.strip()


def make_decoder(
    llm: BaseChatModel,
    *,
    grammar: bool | None,
    prompt: ReActPrompt | None = None,
    tools: Sequence[BaseTool] = (),
    limits: StepLimits | None = None,
    input_grammars: Mapping[str, InputGrammar] | None = None,
    ground_numbers: bool = True,
    ground_queries: bool = True,
    max_parse_retries: int = 2,
    samples: int = 1,
    sample_temperature: float = 0.8,
    quote_result: bool = False,
) -> StepDecoder:
    """The decoder for a model: grammars on llama.cpp (``grammar=None`` or True), repair
    elsewhere (or with ``grammar=False``)."""
    prompt = prompt or ReActPrompt()
    limits = limits or StepLimits()
    caps = capabilities(llm)
    supported = caps.grammar and caps.continues_text
    if grammar and not supported:
        raise ConfigError(
            f"grammar=True needs a llama.cpp chat model (LlamaCppChat), or a model whose "
            f"capabilities include grammars and a completion twin; {type(llm).__name__} has "
            "no grammar support. Leave grammar unset to parse with repair."
        )
    if supported and grammar is not False:
        return GrammarDecoder(
            llm,
            prompt,
            tools,
            limits,
            input_grammars=input_grammars,
            ground_numbers=ground_numbers,
            ground_queries=ground_queries,
            samples=samples,
            sample_temperature=sample_temperature,
            quote_result=quote_result,
        )
    return RepairDecoder(llm, prompt, tools, limits, max_parse_retries=max_parse_retries)
