"""The ReAct agent: a LangChain Runnable whose loop always ends, and whose steps always parse.

:class:`ReActAgent` runs the book's Thought / Action / Action Input / Observation loop over
a list of LangChain tools:

- **Every step parses.** On llama.cpp each slot of a step is decoded under a grammar built
  from the tool list (see :mod:`localchain.agents.grammar`); on other backends the reply is
  parsed with repair and retried a bounded number of times, and failures are counted.
- **The executor guarantees termination.** A repeated action or a stalled loop makes it
  skip the action and ask for the final answer with the observations in view;
  ``max_iterations`` and ``max_seconds`` end the run with ``stopped: budget (...)``.
- **Tools cannot crash it.** Errors, refusals and timeouts become observations; tool output
  is fenced and cut before it enters the prompt.
- **Tool output is data.** Text in the protocol's own words ("Final Answer: ...") is removed
  from an observation before the model sees it, so a web page cannot hand it an answer.

Example:
    >>> from localchain.agents import ReActAgent
    >>> from localchain.agents.tools import Calculator
    >>> agent = ReActAgent(tools=[Calculator()], max_iterations=4)   # doctest: +SKIP
    >>> result = agent.invoke({"input": "What is 17 * 23?"})          # doctest: +SKIP
    >>> result["output"], result["stopped_reason"]                    # doctest: +SKIP
    ('391', 'repeated_action')
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from langchain_core.agents import AgentAction
from langchain_core.callbacks import CallbackManagerForChainRun
from langchain_core.example_selectors import BaseExampleSelector
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.runnables.utils import AddableDict
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from localchain.agents.decoding import OutOfTime, StepContext, StepDecoder, StepLimits, make_decoder
from localchain.agents.examples import BM25ExampleSelector, examples_for_tools, format_examples
from localchain.agents.guards import FORCE_NOTICES, GuardSettings, LoopGuard
from localchain.agents.prompt import (
    CALCULATOR_EXAMPLES,
    SEARCH_EXAMPLES,
    ReActPrompt,
    fence_observation,
    format_step,
    neutralise_protocol,
    plain_history,
)
from localchain.agents.result import (
    BUDGET_REASONS,
    AgentResult,
    ReActStep,
    StoppedReason,
    budget_output,
)
from localchain.agents.tool_call import call_tool
from localchain.agents.trace import TracePrinter
from localchain.errors import ChainInputError, ConfigError, ContextOverflowError
from localchain.memory import Memory

__all__ = ["ReActAgent"]


class ReActAgent(RunnableSerializable[dict[str, Any] | str, dict[str, Any]]):
    """A ReAct agent over LangChain tools, reliable on a small local model.

    ``invoke({"input": question})`` (or just the question) returns a dict with ``input``,
    ``output``, ``intermediate_steps`` (a list of :class:`~localchain.agents.ReActStep`),
    ``stopped_reason``, ``parse_failures``, ``repaired``, ``iterations``, ``elapsed_s``,
    ``notices`` and ``grammar``. A ``chat_history`` key (messages or text) in the input is
    shown to the model as the previous conversation. ``stream`` yields one dict per event:
    ``{"thought"}``, ``{"action"}`` (a LangChain ``AgentAction``), ``{"observation",
    "step", "error"}``, ``{"notice"}``, ``{"parse_failure", ...}``, and last the result.

    Keyword Args:
        llm: The chat model (None: the configured one, the embedded model by default).
        tools: The tools; names must be unique.
        prompt: A :class:`ReActPrompt`, a template string or a LangChain prompt template.
        max_iterations: Most steps the model is asked for.
        max_seconds: Wall-clock budget for the run (None: no limit).
        verbose: Print the trace with rich (to stderr).
        memory: A localchain memory: its conversation goes into the prompt and each run is
            saved to it as one exchange (question, final answer).
        grammar: None decodes under grammars when the model supports them (llama.cpp);
            False forces the parse-and-repair path; True requires grammars.

    Example:
        >>> from localchain.agents.tools import Calculator, WebSearch
        >>> from localchain.memory import WindowMemory
        >>> agent = ReActAgent(tools=[Calculator(), WebSearch()], memory=WindowMemory(k=3),
        ...                    max_seconds=60, verbose=True)              # doctest: +SKIP
        >>> for event in agent.stream({"input": "What is 15% of 840?"}):  # doctest: +SKIP
        ...     print(event)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: BaseChatModel | None = None
    """The chat model; None loads the configured one (the embedded model by default)."""
    tools: list[BaseTool] = Field(default_factory=list)
    """The tools the model may call."""
    prompt: ReActPrompt = Field(default_factory=ReActPrompt)
    """The ReAct prompt (the book's by default)."""
    max_iterations: int = Field(8, ge=1)
    """Most steps the model is asked for before the run stops on budget."""
    max_seconds: float | None = Field(120.0, gt=0)
    """Wall-clock budget in seconds (None: none)."""
    verbose: bool = False
    """Print every event with rich, to stderr."""
    memory: Memory | None = None
    """Conversation memory shared across runs (see localchain.memory)."""
    grammar: bool | None = None
    """None: grammars when supported; False: parse with repair; True: require grammars."""
    tool_choice: Literal["auto", "required"] = "required"
    """``"required"`` (the default): the first step must call a tool (on llama.cpp the
    grammar leaves out ``Final Answer:`` until a tool has run; elsewhere a direct answer is
    sent back as a format error): a small model otherwise answers from memory, wrongly.
    ``"auto"``: the model may answer at once (for agents whose questions often need no
    tool)."""
    examples: Literal["selected", "fixed"] | BaseExampleSelector | None = "selected"
    """Worked examples in the prompt's ``{examples}`` slot: ``"selected"`` (the default)
    the ``example_count`` examples of the built-in bank most similar to the question (BM25,
    only examples for the agent's tools; :mod:`localchain.agents.examples`); ``"fixed"``
    the shipped :data:`CALCULATOR_EXAMPLES` / :data:`SEARCH_EXAMPLES` for the tools; a
    LangChain example selector of your own; None for none - with the default prompt, the
    book's exact ReAct prompt. Text set in ``prompt.examples`` always wins."""
    example_count: int = Field(3, ge=1, le=20)
    """How many examples ``"selected"`` puts in the prompt."""
    samples: int = Field(3, ge=1, le=16)
    """Self-consistency (llama.cpp): for a pure tool (the calculator), sample this many
    Action Inputs - the greedy one and ``samples - 1`` at ``sample_temperature`` - run the
    tool on each and act on the result most of them agree on (the greedy one wins ties).
    1: greedy only. The default, 3, is part of the configuration that measured best on the
    agent benchmark's dev split (docs/benchmarks.md, section 5)."""
    sample_temperature: float = Field(0.8, gt=0, le=2)
    """Temperature of the extra samples of ``samples``."""
    quote_result: bool = True
    """On llama.cpp: after a tool returned one value (a number, with units or not), the
    Final Answer is decoded under a grammar that must quote it - or state that it is not
    the answer. False: only ``ground_numbers`` limits the answer's numbers."""
    ground_numbers: bool = True
    """On llama.cpp: calculator expressions may only use numbers in view (question,
    conversation, observations), and a Final Answer after tool results only numbers the
    tools returned."""
    ground_queries: bool = True
    """On llama.cpp: the query of a search tool (WebSearch, RetrieverTool) is made of words
    in view only. A small model otherwise searches for an example from the prompt."""
    input_grammars: dict[str, Any] = Field(default_factory=dict)
    """Per tool name: a GBNF for its Action Input, a function of the texts in view
    returning one, or None for free text (overrides the defaults)."""
    guards: GuardSettings = Field(default_factory=GuardSettings)
    """Repeated-action and stall detection, parse retries."""
    limits: StepLimits = Field(default_factory=StepLimits)
    """Tokens per slot of a step."""
    tool_timeout: float | None = Field(30.0, gt=0)
    """Seconds one tool call may take (also capped by what is left of max_seconds)."""

    _decoder: StepDecoder = PrivateAttr()
    _by_name: dict[str, BaseTool] = PrivateAttr()
    _selector: BaseExampleSelector | None = PrivateAttr(default=None)

    @field_validator("prompt", mode="before")
    @classmethod
    def _coerce_prompt(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ReActPrompt(template=value)
        if isinstance(value, BasePromptTemplate):
            template = getattr(value, "template", None)
            if not isinstance(template, str):  # pydantic reports ValueError, not TypeError
                raise ValueError(  # noqa: TRY004
                    "only a single-text prompt template can be a ReAct prompt"
                )
            return ReActPrompt(template=template)
        return value

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, tools: list[BaseTool]) -> list[BaseTool]:
        if not tools:
            raise ValueError("a ReAct agent needs at least one tool")
        names = [tool.name for tool in tools]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"tool names must be unique; repeated: {duplicates}")
        for name in names:
            if not name.strip() or any(ch in name for ch in "\n\r[]"):
                raise ValueError(f"tool name {name!r} cannot be written in a ReAct step")
        return tools

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        # Built after validation, so configuration errors reach the caller as themselves
        # rather than wrapped in a pydantic ValidationError.
        self._build()

    def _build(self) -> None:
        if self.llm is None:
            from localchain.models.registry import load_chat_model

            self.llm = load_chat_model()
        unknown = sorted(set(self.input_grammars) - {tool.name for tool in self.tools})
        if unknown:
            raise ConfigError(f"input_grammars names tools the agent does not have: {unknown}")
        self._by_name = {tool.name: tool for tool in self.tools}
        if isinstance(self.examples, BaseExampleSelector):
            self._selector = self.examples
        elif self.examples == "selected":
            bank = examples_for_tools(self._by_name)
            self._selector = BM25ExampleSelector(examples=bank, k=self.example_count)
        self._decoder = make_decoder(
            self.llm,
            grammar=self.grammar,
            prompt=self.prompt,
            tools=self.tools,
            limits=self.limits,
            input_grammars=self.input_grammars,
            ground_numbers=self.ground_numbers,
            ground_queries=self.ground_queries,
            max_parse_retries=self.guards.max_parse_retries,
            samples=self.samples,
            sample_temperature=self.sample_temperature,
            quote_result=self.quote_result,
        )

    def examples_for(self, question: str) -> str:
        """The worked examples this agent shows for ``question`` (see :attr:`examples`).

        Example:
            >>> agent.examples_for("How many minutes are in 3 hours?")  # doctest: +SKIP
            'Question: How many seconds are in 2.5 minutes?...'
        """
        if self.prompt.examples.strip() or self.examples is None:
            return ""
        if self.examples == "fixed":
            by_name = {"calculator": CALCULATOR_EXAMPLES, "web_search": SEARCH_EXAMPLES}
            return "\n".join(by_name[name] for name in self._by_name if name in by_name)
        assert self._selector is not None
        return format_examples(self._selector.select_examples({"input": question}))

    @property
    def uses_grammar(self) -> bool:
        """True when steps are decoded under grammars (llama.cpp)."""
        return self._decoder.uses_grammar

    # -- Runnable ------------------------------------------------------------------------

    def invoke(
        self, input: dict[str, Any] | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the agent to the end; returns the result dict (see the class docstring)."""
        return self._call_with_config(self._invoke, input, config, run_type="chain", **kwargs)

    def stream(
        self, input: dict[str, Any] | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield each event as it happens; the last one is the result dict."""
        yield from self._transform_stream_with_config(
            iter([input]), self._transform, config, run_type="chain"
        )

    async def ainvoke(
        self, input: dict[str, Any] | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """:meth:`invoke` on a thread of its own (waiting for the model lock must not
        occupy the event loop's shared executor)."""
        from localchain.models.aio import iterate_in_thread

        async for result in iterate_in_thread(lambda: iter([self.invoke(input, config, **kwargs)])):
            return result
        raise AssertionError("the agent's thread ended without a result")

    async def astream(
        self, input: dict[str, Any] | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`stream` on a thread of its own."""
        from localchain.models.aio import iterate_in_thread

        async for event in iterate_in_thread(lambda: self.stream(input, config, **kwargs)):
            yield event

    def run(self, question: str, config: RunnableConfig | None = None) -> AgentResult:
        """Run the agent on a question and return the typed result.

        Example:
            >>> agent.run("What is 2 ** 10?").output   # doctest: +SKIP
            '1024'
        """
        return AgentResult.from_output(self.invoke({"input": question}, config))

    def _invoke(
        self,
        input: dict[str, Any] | str,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for event in self._events(input, run_manager):
            result = event
        return dict(result)

    def _transform(
        self,
        inputs: Iterator[dict[str, Any] | str],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Iterator[dict[str, Any]]:
        for input in inputs:
            yield from self._events(input, run_manager)

    # -- the loop ------------------------------------------------------------------------

    def _events(
        self, input: dict[str, Any] | str, run_manager: CallbackManagerForChainRun | None
    ) -> Iterator[AddableDict]:
        printer = TracePrinter() if self.verbose else None
        for event in self._loop(input, run_manager):
            chunk = AddableDict(event)
            if printer is not None:
                printer(chunk)
            yield chunk

    def _loop(
        self, input: dict[str, Any] | str, run_manager: CallbackManagerForChainRun | None
    ) -> Iterator[dict[str, Any]]:
        question, history, remembered = self._read_input(input)
        started = time.monotonic()
        ctx = StepContext(
            question=question,
            history=history,
            scratchpad="",
            texts_in_view=[question, plain_history(history)],
            deadline=started + self.max_seconds if self.max_seconds else None,
            callbacks=run_manager.get_child() if run_manager else None,
            examples=self.examples_for(question),
        )
        guard = LoopGuard(self.guards)
        steps: list[ReActStep] = []
        iterations = 0
        output = ""
        stopped: StoppedReason | None = None
        while stopped is None:
            if iterations >= self.max_iterations:
                stopped = "max_iterations"
                break
            iterations += 1
            force: StoppedReason | None = None
            ctx.allow_final = self.tool_choice == "auto" or bool(steps)
            try:
                parsed = yield from self._decoder.decode(ctx)
            except OutOfTime:
                stopped = "max_seconds"
                break
            except ContextOverflowError:
                if remembered and self._make_room(ctx):
                    iterations -= 1
                    yield {"notice": ctx.notices[-1]}
                    continue
                stopped = "context_full"
                break
            if parsed is None:
                force = "parse_failures"
            elif parsed.kind == "final":
                output, stopped = parsed.answer, "final_answer"
                break
            else:
                assert parsed.tool is not None
                force = guard.check(parsed.thought, parsed.tool, parsed.tool_input)
                if force is None:
                    step = yield from self._act(
                        parsed.thought, parsed.tool, parsed.tool_input, ctx, len(steps) + 1
                    )
                    steps.append(step)
                    guard.record(
                        step.thought, step.tool, step.tool_input, step.observation, step.error
                    )
                    if guard.errors_exhausted:
                        force = "stalled"
            if force is not None:
                notice = FORCE_NOTICES[force]
                ctx.notices.append(notice)
                yield {"notice": notice}
                try:
                    output = yield from self._decoder.final(ctx)
                    stopped = force
                except OutOfTime:
                    stopped = "max_seconds"
                except ContextOverflowError:
                    stopped = "context_full"
        if stopped in BUDGET_REASONS:
            output = budget_output(
                stopped, max_iterations=self.max_iterations, max_seconds=self.max_seconds
            )
        if remembered and self.memory is not None:
            for notice in self.memory.save_turn(question, output):
                ctx.notices.append(notice)
        result = AgentResult(
            input=question,
            output=output,
            intermediate_steps=steps,
            stopped_reason=stopped,
            parse_failures=ctx.parse_failures,
            repaired=ctx.repaired,
            iterations=iterations,
            elapsed_s=time.monotonic() - started,
            notices=ctx.notices,
            grammar=self._decoder.uses_grammar,
        )
        yield result.to_output()

    def _act(
        self,
        thought: str,
        tool_name: str,
        tool_input: str | dict[str, Any],
        ctx: StepContext,
        number: int,
    ) -> Iterator[dict[str, Any]]:
        """Run one tool call; extends the scratchpad and what the model has in view."""
        log = f"Thought: {thought}\nAction: {tool_name}\nAction Input: {tool_input}"
        yield {"action": AgentAction(tool=tool_name, tool_input=tool_input, log=log)}
        timeout = self.tool_timeout
        if ctx.deadline is not None:
            left = max(ctx.deadline - time.monotonic(), 0.1)
            timeout = left if timeout is None else min(timeout, left)
        began = time.monotonic()
        outcome = call_tool(
            self._by_name[tool_name],
            tool_input,
            timeout=timeout,
            callbacks=ctx.callbacks,
            call_id=f"react-{number}",
        )
        step = ReActStep(
            thought=thought,
            tool=tool_name,
            tool_input=tool_input,
            observation=outcome.observation,
            error=outcome.error,
            seconds=time.monotonic() - began,
        )
        # The step keeps what the tool returned; the model sees it without protocol text, and
        # only what it sees may ground a query or an answer's numbers.
        shown = neutralise_protocol(outcome.observation)
        fenced = fence_observation(shown, self.prompt.max_observation_chars)
        ctx.scratchpad += format_step(thought, tool_name, tool_input, fenced)
        ctx.texts_in_view.append(shown)
        if not outcome.error:
            ctx.results.append(shown)
        yield {"observation": outcome.observation, "error": outcome.error, "step": step}
        return step

    def _read_input(
        self, input: dict[str, Any] | str
    ) -> tuple[str, list[BaseMessage] | str | None, bool]:
        """The question, the conversation to show, and whether it came from the memory."""
        if isinstance(input, str):
            input = {"input": input}
        if not isinstance(input, dict) or "input" not in input:
            raise ChainInputError(
                "ReActAgent",
                "invoke it with {'input': question} or the question itself",
                missing=["input"],
            )
        question = str(input["input"]).strip()
        if not question:
            raise ChainInputError("ReActAgent", "the question is empty", missing=["input"])
        if input.get("chat_history") is not None:
            return question, input["chat_history"], False
        if self.memory is not None:
            return question, self.memory.messages, True
        return question, None, False

    def _make_room(self, ctx: StepContext) -> bool:
        """Let the memory drop or fold the oldest exchange; False when it has nothing left."""
        assert self.memory is not None
        notice = self.memory.shrink()
        if notice is None:
            return False
        ctx.history = self.memory.messages
        ctx.notices.append(notice)
        return True
