"""Tool calling on a local model: the tools' prompt, the grammar of a call, and its parser.

:meth:`LlamaCppChat.bind_tools <localchain.models.LlamaCppChat.bind_tools>` uses this module.
A reply is decoded under a grammar that allows a plain answer (unless a tool is required)
or tool calls whose ``name`` is a bound tool and whose ``arguments`` follow that tool's
JSON schema, so every call the model makes parses and validates.

Calls are written the way the model's chat template expects:

- **hermes** (Qwen 2.5, Hermes, SmolLM3 and other templates that show ``<tool_call>``):
  ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``, several in a row;
- **llama-3.1** (Llama 3.1+ templates): one ``{"name": ..., "parameters": {...}}``.

A template that knows tools renders the tools, the calls and the ``role: tool`` results
itself. Any other template (the embedded SmolLM2's) gets the fallback: the tools are
stated in the system message (:data:`TOOL_PROMPT`), a call is shown in the hermes format
in the assistant's turn, and tool results come back in the user's turn as
``<tool_response>...</tool_response>``. Nothing in the conversation is dropped.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> tools = tool_specs([{"type": "function", "function": {"name": "add",
    ...     "description": "Add two numbers.", "parameters": {"type": "object",
    ...     "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    ...     "required": ["a", "b"]}}}])
    >>> stream = ToolCallStream(HERMES, names=["add"])
    >>> chunks = stream.feed('<tool_call>\\n{"name": "add", "arguments": {"a": 2, "b": 3}}')
    >>> chunks += stream.feed("\\n</tool_call>") + stream.finish()
    >>> message = sum(chunks[1:], chunks[0])
    >>> [(call["name"], call["args"]) for call in message.tool_calls]
    [('add', {'a': 2, 'b': 3})]
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.utils.function_calling import convert_to_openai_tool

from localchain.errors import ToolBindingError
from localchain.grammars import (
    InputView,
    cap_strings,
    gbnf_literal,
    json_schema_grammar,
    numbers_in,
    rename_rule,
)

__all__ = [
    "HERMES",
    "LLAMA_31",
    "MAX_PARALLEL_CALLS",
    "STRING_LIMIT",
    "TOOL_PROMPT",
    "ToolCallFormat",
    "ToolCallStream",
    "ToolChoice",
    "calls_grammar",
    "conversation_dicts",
    "conversation_view",
    "described_arguments",
    "ground_numbers",
    "message_text",
    "normalise_tool_choice",
    "single_string_argument",
    "tool_offered",
    "tool_format_of",
    "tool_specs",
]

MAX_PARALLEL_CALLS = 8
"""The most tool calls one reply may hold (the grammar's bound)."""

STRING_LIMIT = 200
"""The default longest string argument (characters) when a schema sets no ``maxLength``:
a small model otherwise writes on inside a string until ``max_tokens``."""

TOOL_PROMPT = """You can call tools. Each tool, as a JSON schema:
<tools>
{tools}
</tools>
To call a tool, reply with only:
<tool_call>
{{"name": "<tool name>", "arguments": <the arguments as a JSON object>}}
</tool_call>
A tool's result comes back as <tool_response>...</tool_response>. When you have what you \
need, answer the user in plain text."""
"""The fallback's system text for a chat template that does not know tools; ``{tools}``
becomes one JSON line per tool (OpenAI's ``{"type": "function", "function": ...}`` form).
Override it with ``LlamaCppChat(tool_prompt=...)``."""


@dataclass(frozen=True)
class ToolCallFormat:
    """How a tool call is written in the model's reply.

    Example:
        >>> HERMES.write("add", {"a": 1})
        '<tool_call>\\n{"name": "add", "arguments": {"a": 1}}\\n</tool_call>'
        >>> LLAMA_31.write("add", {"a": 1})
        '{"name": "add", "parameters": {"a": 1}}'
    """

    name: str
    open: str
    """Text before a call's JSON."""
    close: str
    """Text after a call's JSON."""
    arguments_key: str
    """The JSON key of the arguments (``arguments`` or ``parameters``)."""
    parallel: bool
    """Whether one reply may hold several calls (joined by a newline)."""

    def write(self, name: str, arguments: dict[str, Any]) -> str:
        """One call as the model writes it."""
        body = json.dumps({"name": name, self.arguments_key: arguments}, ensure_ascii=False)
        return f"{self.open}{body}{self.close}"

    @property
    def marker(self) -> str:
        """How a reply that holds calls begins."""
        return self.open.strip() or '{"name"'


HERMES = ToolCallFormat("hermes", "<tool_call>\n", "\n</tool_call>", "arguments", parallel=True)
"""``<tool_call>`` blocks: Qwen 2.5, Hermes, and the fallback for other templates."""

LLAMA_31 = ToolCallFormat("llama-3.1", "", "", "parameters", parallel=False)
"""Llama 3.1's JSON tool call: one ``{"name": ..., "parameters": ...}`` per reply."""


def tool_format_of(template: str) -> ToolCallFormat | None:
    """The call format a chat template renders tools in, or None when it does not know
    tools (the fallback prompt is used then).

    Example:
        >>> tool_format_of("{% for t in tools %}...{% endfor %}<tool_call>") is HERMES
        True
        >>> tool_format_of("{{ '<|im_start|>' + m['content'] }}") is None
        True
    """
    if "tools" not in template:
        return None
    if "<tool_call>" in template:
        return HERMES
    if "<|start_header_id|>" in template and '"parameters"' in template:
        return LLAMA_31
    return None


@dataclass(frozen=True)
class ToolChoice:
    """A normalised ``tool_choice``: ``auto``, ``none``, ``required`` or one tool's name.

    Example:
        >>> normalise_tool_choice("any", ["add"])
        ToolChoice(mode='required', name=None)
    """

    mode: str
    name: str | None = None


def tool_specs(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tools (BaseTools, pydantic models, functions, OpenAI tool dicts) as OpenAI tool dicts.

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> tool_specs([add])[0]["function"]["parameters"]["required"]
        ['a', 'b']
    """
    specs = []
    for tool in tools:
        spec = convert_to_openai_tool(tool)
        if spec.get("type") != "function" or "function" not in spec:
            raise ToolBindingError(
                f"only function tools can be bound to a llama.cpp model, not {spec!r}"
            )
        spec["function"].setdefault("parameters", {"type": "object", "properties": {}})
        specs.append(spec)
    unique: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name = spec["function"]["name"]
        if name in unique and unique[name] != spec:
            # A call names its tool, so one name can only mean one tool; LangChain's own
            # suites bind a pydantic model and its JSON schema together, so this warns.
            warnings.warn(
                f"two different bound tools share the name {name!r}; the first is used",
                stacklevel=3,
            )
        unique.setdefault(name, spec)
    return list(unique.values())


def normalise_tool_choice(choice: Any, names: Sequence[str]) -> ToolChoice:
    """Read every ``tool_choice`` form LangChain and OpenAI use.

    ``None`` / ``"auto"``: answer or call; ``"none"``: answer; ``"any"`` / ``"required"`` /
    ``True``: call some tool; a name or ``{"type": "function", "function": {"name": ...}}``:
    call that tool. A name that is not bound is a :class:`ToolBindingError` listing the
    bound ones.

    Example:
        >>> normalise_tool_choice({"type": "function", "function": {"name": "add"}}, ["add"])
        ToolChoice(mode='tool', name='add')
        >>> normalise_tool_choice("search", ["add"])
        Traceback (most recent call last):
        ...
        localchain.errors.ToolBindingError: tool_choice 'search' is not a bound tool; bound: ['add']
    """
    if choice is None or choice == "auto":
        return ToolChoice("auto")
    if choice == "none" or choice is False:
        return ToolChoice("none")
    if choice in ("any", "required") or choice is True:
        return ToolChoice("required")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not isinstance(name, str):
            raise ToolBindingError(f"tool_choice {choice!r} names no function")
        choice = name
    if not isinstance(choice, str):
        raise ToolBindingError(f"tool_choice must be a string or a dict, not {choice!r}")
    if choice not in names:
        raise ToolBindingError(
            f"tool_choice {choice!r} is not a bound tool; bound: {list(names)}", tool=choice
        )
    return ToolChoice("tool", choice)


_RULE_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*::=", re.MULTILINE)


_SCHEMA_INTEGER = 'integer ::= ("-"? integral-part) space'
_SCHEMA_NUMBER = re.compile(r"^number ::= .*$", re.MULTILINE)
_PLAIN_INTEGER = re.compile(r"\d{1,18}")
_PLAIN_NUMBER = re.compile(r"\d{1,18}(?:\.\d{1,12})?")


def ground_numbers(gbnf: str, view: InputView) -> str:
    """A schema grammar whose integers and numbers are quoted from ``view``.

    Applies to the converter's plain ``integer`` and ``number`` rules (a bounded number,
    with ``minimum``/``maximum``, keeps its own rule); when the view holds no number of the
    kind, the rule is left free.

    Example:
        >>> gbnf = json_schema_grammar({"type": "object", "properties": {
        ...     "a": {"type": "integer"}}, "required": ["a"]})
        >>> grounded = ground_numbers(gbnf, InputView(["Add 2 and 3, then 0.5."]))
        >>> 'integer ::= "-"? ("2" | "3") space' in grounded
        True
    """
    if not view.ground_numbers:
        return gbnf
    found = numbers_in(view.texts)
    integers = [n for n in found if _PLAIN_INTEGER.fullmatch(n)]
    numbers = [n for n in found if _PLAIN_NUMBER.fullmatch(n)]
    if integers and _SCHEMA_INTEGER in gbnf:
        choices = " | ".join(gbnf_literal(n) for n in integers)
        gbnf = gbnf.replace(_SCHEMA_INTEGER, f'integer ::= "-"? ({choices}) space')
    if numbers:
        choices = " | ".join(gbnf_literal(n) for n in numbers)
        gbnf = _SCHEMA_NUMBER.sub(f'number ::= "-"? ({choices}) space', gbnf)
    return gbnf


def _arguments_grammar(
    spec: dict[str, Any],
    prefix: str,
    given: str | None = None,
    view: InputView | None = None,
    string_limit: int | None = None,
) -> str:
    """The GBNF of one tool's arguments (``given``, or from its schema with numbers
    grounded in ``view`` and strings cut at ``string_limit``), every rule renamed
    ``<prefix>-...``."""
    function = spec["function"]
    parameters = function["parameters"]
    if string_limit is not None:
        parameters = cap_strings(parameters, string_limit)
    try:
        gbnf = given or json_schema_grammar(parameters)
        if given is None and view is not None:
            gbnf = ground_numbers(gbnf, view)
    except KeyError as err:
        raise ToolBindingError(
            f"tool {function['name']!r}: its argument schema has a $ref that does not "
            f"resolve ({err}); inline the definition",
            tool=function["name"],
        ) from err
    except (ValueError, AssertionError, TypeError, RecursionError) as err:
        raise ToolBindingError(
            f"tool {function['name']!r}: its argument schema cannot be decoded under a "
            f"grammar: {err}. Simplify the schema (no recursive $ref, patterns without "
            "lookaround)",
            tool=function["name"],
        ) from err
    for name in sorted(set(_RULE_NAME.findall(gbnf)), key=len, reverse=True):
        gbnf = rename_rule(gbnf, name, f"{prefix}-{name}")
    return gbnf


def calls_grammar(
    specs: Sequence[dict[str, Any]],
    choice: ToolChoice,
    fmt: ToolCallFormat,
    *,
    parallel: bool = True,
    arguments: Mapping[str, str] | None = None,
    offered: Collection[str] | None = None,
    view: InputView | None = None,
    string_limit: int | None = STRING_LIMIT,
) -> str:
    """The GBNF of a reply: tool calls (of the chosen tools) or, unless a tool is required,
    a plain answer.

    ``arguments`` maps a tool's name to the GBNF of its arguments (a ``root`` rule) in place
    of the one from its schema (:func:`described_arguments`); ``offered`` limits the tools
    the model may call in ``auto`` and ``required`` mode (all of them when it leaves none);
    with ``view``, integer and number arguments are quoted from it (:func:`ground_numbers`);
    a string argument without a ``maxLength`` holds at most ``string_limit`` characters.

    Example:
        >>> specs = tool_specs([{"type": "function", "function": {"name": "ping",
        ...     "parameters": {"type": "object", "properties": {}}}}])
        >>> print(calls_grammar(specs, ToolChoice("required"), HERMES).splitlines()[0])
        root ::= calls
    """
    if choice.mode == "none":
        return "root ::= answer\n" + _ANSWER
    rules: list[str] = []
    alternatives: list[str] = []
    names = [spec["function"]["name"] for spec in specs]
    if offered is not None and not set(offered) & set(names):
        offered = None
    for number, spec in enumerate(specs):
        name = spec["function"]["name"]
        if choice.mode == "tool" and name != choice.name:
            continue
        if choice.mode != "tool" and offered is not None and name not in offered:
            continue
        prefix = f"t{number}"
        head = (
            f'{fmt.open}{{"name": {json.dumps(name, ensure_ascii=False)}, "{fmt.arguments_key}": '
        )
        rules.append(
            f"call-{number} ::= {gbnf_literal(head)} {prefix}-root {gbnf_literal('}' + fmt.close)}"
        )
        given = (arguments or {}).get(name)
        rules.append(_arguments_grammar(spec, prefix, given, view, string_limit))
        alternatives.append(f"call-{number}")
    if not alternatives:
        raise ToolBindingError("no tools are bound to call")
    many = parallel and fmt.parallel and choice.mode != "tool"
    calls = "calls ::= call" + (f' ("\\n" call){{0,{MAX_PARALLEL_CALLS - 1}}}' if many else "")
    root = "root ::= calls" if choice.mode != "auto" else "root ::= calls | answer\n" + _ANSWER
    return "\n".join([root, calls, "call ::= " + " | ".join(alternatives), *rules]) + "\n"


# A plain answer may not begin the way a call does ("<tool_call>" or '{"name"').
_ANSWER = "answer ::= [^<{] .*"
_INPUT_ROOT = re.compile(r'^root ::= " " (.+) "\\n"$')


def conversation_view(messages: Sequence[BaseMessage]) -> InputView:
    """What a tool-call argument may quote: the user's messages and the tool results.

    The system message is left out (it lists the tools, with their examples) and so are
    the model's own replies (a number it invented is not a fact).

    Example:
        >>> from langchain_core.messages import HumanMessage, SystemMessage
        >>> conversation_view([SystemMessage("15% of 840"), HumanMessage("17 * 23?")]).texts
        ('17 * 23?',)
    """
    kept = [m for m in messages if m.type in ("human", "tool") or isinstance(m, ChatMessage)]
    return InputView([message_text(m.content) for m in kept])


def single_string_argument(spec: dict[str, Any]) -> str | None:
    """The name of a tool's only argument when it is a required string, else None.

    Example:
        >>> single_string_argument({"function": {"parameters": {"type": "object",
        ...     "properties": {"query": {"type": "string"}}, "required": ["query"]}}})
        'query'
    """
    parameters = spec["function"].get("parameters") or {}
    properties = parameters.get("properties") or {}
    if len(properties) != 1:
        return None
    ((name, schema),) = properties.items()
    if schema.get("type") != "string" or name not in (parameters.get("required") or []):
        return None
    return name


def described_arguments(tool: Any, spec: dict[str, Any], view: InputView) -> str | None:
    """The GBNF of a tool's JSON arguments from the tool's own input grammar.

    A tool that describes its input (``input_grammar(view)``, as localchain's calculator,
    web search and retriever tools do) and takes one string argument gets that grammar
    inside the JSON string: the calculator's argument is an arithmetic expression whose
    numbers are quoted from the conversation, a search query is made of words in view.
    None when the tool does not describe its input this way.

    Example:
        >>> class Echo:
        ...     def input_grammar(self, view):
        ...         return 'root ::= " " word "\\\\n"\\nword ::= "hi" | "yo"'
        >>> spec = {"function": {"name": "echo", "parameters": {"type": "object",
        ...     "properties": {"text": {"type": "string"}}, "required": ["text"]}}}
        >>> print(described_arguments(Echo(), spec, InputView(["hi"])))
        root ::= "{\\"text\\": \\"" input "\\"}"
        input ::= word
        word ::= "hi" | "yo"
    """
    describe = getattr(tool, "input_grammar", None)
    argument = single_string_argument(spec)
    if not callable(describe) or argument is None:
        return None
    gbnf = describe(view)
    if not gbnf:
        return None
    lines = gbnf.strip().splitlines()
    roots = [_INPUT_ROOT.match(line) for line in lines if line.startswith("root ::=")]
    if len(roots) != 1 or roots[0] is None:
        return None  # not the documented shape: the schema's grammar is used instead
    head = gbnf_literal("{" + json.dumps(argument) + ': "')
    tail = gbnf_literal('"}')
    others = [line for line in lines if not line.startswith("root ::=")]
    return "\n".join([f"root ::= {head} input {tail}", f"input ::= {roots[0].group(1)}", *others])


def tool_offered(tool: Any, view: InputView) -> bool:
    """Whether a tool may be called at this point (its ``offered(view)``; default yes).

    Example:
        >>> tool_offered(object(), InputView(["hi"]))
        True
    """
    offered = getattr(tool, "offered", None)
    return bool(offered(view)) if callable(offered) else True


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    args = call.get("args")
    return args if isinstance(args, dict) else {}


def conversation_dicts(
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[dict[str, Any]] | None,
    native: ToolCallFormat | None,
    tool_prompt: str = TOOL_PROMPT,
) -> list[dict[str, Any]]:
    """Messages as chat-template dicts, tool calls and tool results included.

    ``native`` is the template's own call format (:func:`tool_format_of`); without one,
    the tools go into the system message (``tool_prompt``), calls into the assistant's
    text and results into user turns. A :class:`ToolMessage` must answer a call made
    earlier in ``messages``.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "c1"}
        >>> dicts = conversation_dicts([HumanMessage("2+3?"), AIMessage("", tool_calls=[call]),
        ...                             ToolMessage("5", tool_call_id="c1")],
        ...                            tools=None, native=None)
        >>> [d["role"] for d in dicts], dicts[2]["content"]
        (['user', 'assistant', 'user'], '<tool_response>\\n5\\n</tool_response>')
    """
    out: list[dict[str, Any]] = []
    calls_made: dict[str, str] = {}
    for message in messages:
        if isinstance(message, ToolMessage):
            if message.tool_call_id not in calls_made:
                raise ToolBindingError(
                    f"a ToolMessage answers tool_call_id {message.tool_call_id!r}, which no "
                    f"earlier AIMessage made; calls made: {list(calls_made)}"
                )
            text = message_text(message.content)
            if native is not None:
                out.append(
                    {
                        "role": "tool",
                        "content": text,
                        "tool_call_id": message.tool_call_id,
                        "name": message.name or calls_made[message.tool_call_id],
                    }
                )
                continue
            block = f"<tool_response>\n{text}\n</tool_response>"
            previous = out[-1] if out else None
            if previous is not None and previous.get("_tool_results"):
                previous["content"] += "\n" + block
            else:
                out.append({"role": "user", "content": block, "_tool_results": True})
            continue
        if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
            text = message_text(message.content)
            # An invalid call is answered too (create_agent sends an error ToolMessage for
            # it), so it is shown as the model wrote it, with its id.
            calls = [
                *((c.get("id"), c["name"], _arguments(c)) for c in message.tool_calls),
                *((c.get("id"), c.get("name") or "", c.get("args") or "")
                  for c in message.invalid_tool_calls),
            ]  # fmt: skip
            for call_id, name, _ in calls:
                calls_made[call_id or ""] = name
            if native is not None:
                out.append(
                    {
                        "role": "assistant",
                        "content": text,
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": arguments},
                            }
                            for call_id, name, arguments in calls
                        ],
                    }
                )
                continue
            written = "\n".join(
                HERMES.write(name, arguments)
                if isinstance(arguments, dict)
                else f"{HERMES.open}{arguments}{HERMES.close}"
                for _, name, arguments in calls
            )
            out.append({"role": "assistant", "content": f"{text}\n{written}" if text else written})
            continue
        out.append({"role": _role(message), "content": message_text(message.content)})
    for entry in out:
        entry.pop("_tool_results", None)
    if tools and native is None:
        listing = "\n".join(json.dumps(spec, ensure_ascii=False) for spec in tools)
        stated = tool_prompt.format(tools=listing)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{stated}" if out[0]["content"] else stated
        else:
            out.insert(0, {"role": "system", "content": stated})
    return out


_DECODER = json.JSONDecoder()
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _role(message: BaseMessage) -> str:
    role = message.role if isinstance(message, ChatMessage) else _ROLES.get(message.type)
    if role is None:
        raise ValueError(f"cannot put a {message.type!r} message into a chat template")
    return role


def message_text(content: str | list[Any]) -> str:
    """The text of a message's content (a string, or the text blocks of a list).

    Example:
        >>> message_text([{"type": "text", "text": "Hi"}, {"type": "image"}])
        'Hi'
    """
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block.get("text", ""))
    return "".join(parts)


@dataclass
class ToolCallStream:
    """Turns the text of a reply, piece by piece, into message chunks: text chunks for a
    plain answer (streamed as they come), one ``tool_call_chunks`` chunk per finished call.

    A call that does not parse (a reply cut at ``max_tokens``, or a backend without a
    grammar) becomes a chunk whose arguments are not JSON, which LangChain turns into an
    ``invalid_tool_calls`` entry.

    Example:
        >>> stream = ToolCallStream(HERMES, names=["add"])
        >>> [chunk.content for chunk in stream.feed("Hello") + stream.feed(" there")]
        ['Hello', ' there']
    """

    fmt: ToolCallFormat
    names: Sequence[str]
    buffer: str = ""
    mode: str | None = None
    """None until the reply shows whether it is text or calls; then ``text`` or ``calls``."""
    calls: int = 0
    ids: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    """The calls of this reply so far, by name and arguments."""

    def feed(self, piece: str) -> list[AIMessageChunk]:
        """The chunks ``piece`` completes."""
        if self.mode == "text":
            return [AIMessageChunk(content=piece)] if piece else []
        self.buffer += piece
        if self.mode is None:
            head = self.buffer.lstrip()
            marker = self.fmt.marker
            if not head:
                return []
            if not marker.startswith(head[: len(marker)]):
                self.mode = "text"
                text, self.buffer = self.buffer, ""
                return [AIMessageChunk(content=text)]
            if len(head) < len(marker):
                return []
            self.mode = "calls"
        return self._complete_calls()

    def finish(self) -> list[AIMessageChunk]:
        """The chunks left when the reply ends."""
        if self.mode is None:
            text, self.buffer = self.buffer, ""
            self.mode = "text"
            return [AIMessageChunk(content=text)] if text else []
        if self.mode == "text":
            return []
        if not self.fmt.close:  # llama-3.1: the call is the whole reply
            text, self.buffer = self.buffer.strip(), ""
            chunk = self._parse(text)
            return [chunk] if chunk is not None else []
        chunks = self._complete_calls()
        rest, self.buffer = self.buffer.strip(), ""
        if rest:
            chunks.append(self._invalid(rest, "the reply ended inside a tool call"))
        return chunks

    def _complete_calls(self) -> list[AIMessageChunk]:
        chunks = []
        while True:
            body, rest = self._next_call()
            if body is None:
                return chunks
            self.buffer = rest
            chunk = self._parse(body)
            if chunk is not None:
                chunks.append(chunk)

    def _next_call(self) -> tuple[str | None, str]:
        """The JSON of the next finished call and the text after it, or None for now.

        The JSON is read with a JSON decoder, not by looking for the closing tag, so an
        argument that contains "</tool_call>" does not end the call.
        """
        if not self.fmt.close:  # llama-3.1: the call is the whole reply, read at the end
            return None, self.buffer
        text = self.buffer.lstrip()
        opening, closing = self.fmt.open.strip(), self.fmt.close.strip()
        if not text.startswith(opening):
            return None, self.buffer
        body = text[len(opening) :].lstrip()
        try:
            _, end = _DECODER.raw_decode(body)
        except json.JSONDecodeError:
            return None, self.buffer  # not finished yet (or never: see finish())
        rest = body[end:].lstrip()
        if not rest.startswith(closing):
            return None, self.buffer
        return body[:end], rest[len(closing) :]

    def _parse(self, body: str) -> AIMessageChunk | None:
        """The chunk of one call; None for a repeat of a call already in this reply (a small
        model otherwise calls the same tool with the same arguments twice in a row)."""
        try:
            call = json.loads(body)
        except json.JSONDecodeError as err:
            return self._invalid(body, f"not JSON: {err}")
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return self._invalid(body, "a tool call is a JSON object with a name")
        arguments = call.get(self.fmt.arguments_key, call.get("arguments", {}))
        if not isinstance(arguments, dict):
            return self._invalid(body, "the arguments are not a JSON object")
        if call["name"] not in self.names:
            return self._invalid(body, f"{call['name']!r} is not a bound tool")
        written = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        if (call["name"], written) in self.seen:
            return None
        self.seen.add((call["name"], written))
        return self._chunk(call["name"], json.dumps(arguments, ensure_ascii=False))

    def _invalid(self, body: str, reason: str) -> AIMessageChunk:
        # Arguments that do not start as JSON make LangChain list the call under
        # invalid_tool_calls (it reads partial JSON leniently); the reason and the text the
        # model wrote are kept in them.
        name = None
        found = re.search(r'"name"\s*:\s*"([^"]*)"', body)
        if found:
            name = found.group(1)
        return self._chunk(name, f"invalid tool call ({reason}): {body}")

    def _chunk(self, name: str | None, args: str) -> AIMessageChunk:
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        self.ids.append(call_id)
        chunk = tool_call_chunk(name=name, args=args, id=call_id, index=self.calls)
        self.calls += 1
        return AIMessageChunk(content="", tool_call_chunks=[chunk])
