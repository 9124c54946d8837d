"""GBNF grammars for ReAct steps, built from the agent's tool list.

On llama.cpp the executor writes the fixed words of the protocol itself and has the model
fill in the slots, each decoded under the grammar that makes it valid:

- the **action choice** after the Thought: ``Action: <one of the tool names>`` or
  ``Final Answer:`` (:func:`action_grammar`) - an unknown tool cannot be sampled;
- the **Action Input**, by the tool's argument schema (:func:`input_grammar`): a JSON object
  for tools with several arguments (from the schema, through llama-cpp-python's
  ``json_schema_to_gbnf``); an arithmetic expression for the calculator
  (:func:`expression_grammar`); one line of text for other single-text tools.

The free-text slots (the Thought, a text input, the Final Answer) end at the newline: any
single line is a valid value there, so a grammar would only add sampling cost (llama.cpp
checks every vocabulary entry against the grammar at each token, about 0.3 s a token on a
2-core machine with a 49k vocabulary).

Calculator expressions may be *grounded*: their numbers must appear in the question, the
conversation or an observation, or be a small constant (:data:`COMMON_NUMBERS`). Small
models otherwise copy numbers wrongly (0.85 becomes 1.85) or invent them. Search queries
may be grounded the same way (:func:`query_grammar`): words from what is in view only, so
a small model cannot search for an example from the prompt instead of the question.

Example:
    >>> print(action_grammar(["calculator", "web_search"]))
    root ::= "Action: " tool | "Final Answer:"
    tool ::= "calculator" | "web_search"
    >>> "\\"840\\"" in expression_grammar(["What is 15% of 840?"])
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from localchain.errors import ConfigError

# gbnf_literal, numbers_in and InputView are the core's (chat models ground tool-call arguments with
# them too); they stay in __all__ here, where they were first published.
from localchain.grammars import (
    InputView,
    cap_strings,
    gbnf_literal,
    json_schema_grammar,
    numbers_in,
    rename_rule,
)

__all__ = [
    "CALCULATOR_FUNCTIONS",
    "COMMON_NUMBERS",
    "DescribesInput",
    "InputGrammar",
    "InputView",
    "action_grammar",
    "answer_grammar",
    "expression_grammar",
    "gbnf_literal",
    "input_grammar",
    "json_arguments_grammar",
    "numbers_in",
    "offered",
    "query_grammar",
    "result_value",
    "search_input_grammar",
    "single_text_argument",
    "words_in",
]

InputGrammar = str | Callable[[Sequence[str]], str | None] | None
"""How a tool's Action Input is decoded: GBNF text (with a ``root`` rule, after the space
that follows ``Action Input:``), a function of the texts in view returning GBNF, or None
for one line of free text."""


@runtime_checkable
class DescribesInput(Protocol):
    """A tool that says how its Action Input is decoded under a grammar.

    A tool implements ``input_grammar(view)``: GBNF text with a ``root`` rule, matched
    after the space that follows ``Action Input:`` and ending with the newline, or None for
    one line of free text. It may also implement ``offered(view) -> bool``: whether the
    agent may choose the tool at this step at all (default: always). Tools without the
    method get free text (one string argument) or JSON from their argument schema.

    Example:
        >>> from langchain_core.tools import BaseTool
        >>> class Shout(BaseTool):
        ...     name: str = "shout"
        ...     description: str = "Repeat one word of the question loudly."
        ...     def _run(self, word: str) -> str:
        ...         return word.upper() + "!"
        ...     def input_grammar(self, view: InputView) -> str | None:
        ...         return query_grammar(view.texts, max_words=1)
        >>> grammar = input_grammar(Shout(), InputView(["Say hello"]))
        >>> '"hello"' in grammar and isinstance(Shout(), DescribesInput)
        True
    """

    def input_grammar(self, view: InputView) -> str | None:
        """GBNF for the Action Input at this step, or None for free text."""
        ...


COMMON_NUMBERS: tuple[str, ...] = (
    *(str(n) for n in range(11)),
    "12",
    "24",
    "60",
    "100",
    "365",
    "1000",
)
"""Numbers a grounded expression may always use (powers, percent, time units)."""

CALCULATOR_FUNCTIONS: tuple[str, ...] = (
    "sqrt",
    "log10",
    "log",
    "ln",
    "exp",
    "sin",
    "cos",
    "tan",
    "abs",
    "round",
    "min",
    "max",
    "factorial",
)
"""Function names the expression grammar allows (the calculator's whitelist)."""

_MAX_NUMBERS = 300
_MAX_STRING = 100
_WORD = re.compile(r"[^\W_]+(?:['.,-][^\W_]+)*")
_MAX_WORDS = 300
_MAX_QUERY_WORDS = 12


def action_grammar(tool_names: Sequence[str], *, allow_final: bool = True) -> str:
    """The choice after a Thought: ``Action: <tool>`` or ``Final Answer:``.

    Example:
        >>> print(action_grammar(["calculator"], allow_final=False))
        root ::= "Action: " tool
        tool ::= "calculator"
    """
    if not tool_names:
        raise ConfigError("an action grammar needs at least one tool name")
    tools = " | ".join(gbnf_literal(name) for name in tool_names)
    final = ' | "Final Answer:"' if allow_final else ""
    return f'root ::= "Action: " tool{final}\ntool ::= {tools}'


def expression_grammar(
    texts: Sequence[str] | None = None, *, units: Sequence[str] | None = None
) -> str:
    """An arithmetic expression the calculator accepts, ending at the newline.

    With ``texts``, numbers are grounded: only those written in the texts and
    :data:`COMMON_NUMBERS`. Without, any number. An expression is a call (``sqrt(144)``) or
    has at least one operator - a bare number is never worth a calculator call.

    With ``units`` (unit names), a number may carry units (``84 km/h * 3.5 h``) and the
    expression may end in a conversion (``7 hours to seconds``; then a single quantity is
    enough).

    Example:
        >>> grammar = expression_grammar(["Convert 5 miles; 1 mile is 1.609 km."])
        >>> '"1.609"' in grammar and '"7"' in grammar and '"42"' not in grammar
        True
    """
    if texts is None:
        number = 'number ::= [0-9]+ ("." [0-9]+)?'
    else:
        found = [n for n in numbers_in(texts) if len(n) <= 24][:_MAX_NUMBERS]
        choices = dict.fromkeys([*found, *COMMON_NUMBERS])
        number = "number ::= " + " | ".join(gbnf_literal(n) for n in choices)
    functions = " | ".join(gbnf_literal(name) for name in CALCULATOR_FUNCTIONS)
    if units:
        names = " | ".join(gbnf_literal(name) for name in dict.fromkeys(units))
        head = [
            'root ::= " " (expr conv? | "-"? number " " units conv) "\\n"',
            'conv ::= " " ("to" | "in") " " units',
            'units ::= unit (ws ("/" | "*") ws unit)* ("^" [23])?',
            f"unit ::= {names}",
            "expr ::= binary | call",
            "binary ::= term (ws op ws term)+",
            'term ::= "-"? atom "%"? (" " units)?',
        ]
    else:
        head = [
            'root ::= " " expr "\\n"',
            "expr ::= binary | call",
            "binary ::= term (ws op ws term)+",
            'term ::= "-"? atom "%"?',
        ]
    return "\n".join(
        [
            *head,
            'atom ::= number | "(" ws (binary | term) ws ")" | call | "pi"',
            'call ::= fn "(" ws arg (ws "," ws arg)* ws ")"',
            "arg ::= binary | term",
            'op ::= "+" | "-" | "*" | "/" | "**" | "//" | "^" | "%" | "of"',
            f"fn ::= {functions}",
            number,
            'ws ::= " "?',
        ]
    )


def words_in(texts: Iterable[str]) -> list[str]:
    """Every word written in ``texts`` (letters and digits, with inner ``'``, ``.``, ``,``
    or ``-``), as written, first seen first.

    Example:
        >>> words_in(["How tall is the Eiffel Tower?", "It's 1,083 ft tall."])
        ['How', 'tall', 'is', 'the', 'Eiffel', 'Tower', "It's", '1,083', 'ft']
    """
    seen: dict[str, None] = {}
    for text in texts:
        for match in _WORD.finditer(text):
            seen.setdefault(match.group(0), None)
    return list(seen)


def query_grammar(texts: Sequence[str], *, max_words: int = _MAX_QUERY_WORDS) -> str | None:
    """A search query of 1 to ``max_words`` (12) words, each written in ``texts``; None when
    they have none.

    Used for the Action Input of search tools: asked for a query, a small model otherwise
    copies an example from the prompt ("15% of 840") or writes an equation, and the search
    finds nothing. Words are quoted whole, in any order; the first 300 distinct words in
    view are offered.

    Example:
        >>> grammar = query_grammar(["How tall is the Eiffel Tower?"])
        >>> '"Eiffel"' in grammar and '"840"' not in grammar
        True
        >>> query_grammar(["?!"]) is None
        True
    """
    if max_words < 1:
        raise ConfigError(f"max_words must be at least 1, got {max_words}")
    found = [w for w in words_in(texts) if len(w) <= 40][:_MAX_WORDS]
    if not found:
        return None
    return "\n".join(
        [
            f'root ::= " " word (" " word){{0,{max_words - 1}}} "\\n"',
            "word ::= " + " | ".join(gbnf_literal(w) for w in found),
        ]
    )


def answer_grammar(observations: Sequence[str], *, require: str | None = None) -> str:
    """A one-line answer whose numbers all come from ``observations``.

    With ``require`` (the last tool result, e.g. ``"178377"``), the answer must quote it:
    words, then the result, then words and numbers from the observations - or say
    outright that it is not the answer (``The result 178377 is not the answer: ...``).
    A small model otherwise answers "1 + 2 = 3" after the calculator said 178377.

    Used for a Final Answer after tools returned results. The result is in an observation,
    and a small model asked for the answer otherwise restates the question and does the
    arithmetic itself ("17 * 23 = 409"). Words are free; numbers must be quoted whole from
    what the tools said - "9", "0" and "1" cannot be strung together into "901".

    Example:
        >>> grammar = answer_grammar(["6912"])
        >>> '"6912"' in grammar and '"901"' not in grammar and '"1"' not in grammar
        True
        >>> print(answer_grammar(["25200 s"], require="25200").splitlines()[0])
        root ::= " " (first run? req tail? | req tail? | "The result " req " is not the answer:" tail)
    """
    found = [n for n in numbers_in(observations) if len(n) <= 24][:_MAX_NUMBERS]
    if require is not None:
        numbers = list(dict.fromkeys([require, *found]))
        return "\n".join(
            [
                'root ::= " " (first run? req tail? | req tail? '
                '| "The result " req " is not the answer:" tail)',
                "first ::= [^\\n0-9 ]",
                "run ::= [^\\n0-9]+",
                "tail ::= run (number run?)*",
                f"req ::= {gbnf_literal(require)}",
                "number ::= " + " | ".join(gbnf_literal(n) for n in numbers),
            ]
        )
    lines = [
        'root ::= " " (number | first run? number?) (run number)* run?',
        "first ::= [^\\n0-9 ]",
        "run ::= [^\\n0-9]+",
    ]
    if found:
        lines.append("number ::= " + " | ".join(gbnf_literal(n) for n in found))
    else:  # nothing to quote: an answer in words only
        lines[0] = 'root ::= " " first run?'
    return "\n".join(lines)


_VALUE = re.compile(r"\s*(-?\d[\d,]*(?:\.\d+)?)(?:\s+[^\s\d]{1,12})?\s*")


def result_value(observation: str) -> str | None:
    """The number of an observation that is one value (``"25200 s"`` -> ``"25200"``,
    ``"126"``), or None for any other text (a passage, an error).

    Example:
        >>> result_value("1699.15 EUR"), result_value("Canberra is the capital.")
        ('1699.15', None)
    """
    match = _VALUE.fullmatch(observation)
    return match.group(1) if match else None


def single_text_argument(tool: BaseTool) -> str | None:
    """The name of a tool's only argument when it takes one string, else None.

    Example:
        >>> from localchain.agents.tools import Calculator
        >>> single_text_argument(Calculator())
        'expression'
    """
    args = tool.args
    if len(args) != 1:
        return None
    name, schema = next(iter(args.items()))
    kind = schema.get("type")
    if kind in (None, "string") or (isinstance(kind, list) and "string" in kind):
        return name
    return None


def json_arguments_grammar(tool: BaseTool) -> str:
    """The tool's arguments as one JSON object, from its schema (strings at most 100 chars).

    Example:
        >>> from langchain_core.tools import tool
        >>> @tool
        ... def convert(amount: float, rate: float) -> float:
        ...     '''Multiply an amount by an exchange rate.'''
        ...     return amount * rate
        >>> json_arguments_grammar(convert).startswith('root ::= " " args')
        True
    """
    schema = convert_to_openai_tool(tool)["function"].get("parameters") or {"type": "object"}
    schema = cap_strings(schema, _MAX_STRING)
    try:
        gbnf = json_schema_grammar(schema)
    except Exception as err:  # the converter raises plain exceptions for schemas it rejects
        raise ConfigError(
            f"cannot build a grammar for the arguments of tool {tool.name!r}: {err}. Pass "
            f"input_grammars={{{tool.name!r}: None}} to decode its input as free text."
        ) from err
    renamed = rename_rule(gbnf, "root", "args")
    return f'root ::= " " args "\\n"\n{renamed}'


def input_grammar(tool: BaseTool, view: InputView) -> str | None:
    """The GBNF for a tool's Action Input, or None for one line of free text.

    A tool that implements :class:`DescribesInput` decides (the calculator's grounded
    expressions, the search tools' grounded queries, a user's own tool); any other tool with
    one string argument gets free text; any other gets JSON from its argument schema.

    Example:
        >>> from localchain.agents.tools import Calculator, WebSearch
        >>> input_grammar(WebSearch(), InputView(["q"], ground_queries=False)) is None
        True
        >>> input_grammar(WebSearch(), InputView(["Eiffel Tower"])).startswith('root ::= " " word')
        True
        >>> input_grammar(Calculator(), InputView(["2 and 3"])).startswith('root ::= " " (expr')
        True
    """
    if isinstance(tool, DescribesInput):
        return tool.input_grammar(view)
    if single_text_argument(tool) is not None:
        return None
    return json_arguments_grammar(tool)


def offered(tool: BaseTool, view: InputView) -> bool:
    """Whether the agent may choose ``tool`` at this step (the tool's own ``offered(view)``;
    True for tools without one).

    Example:
        >>> from localchain.agents.tools import Calculator
        >>> offered(Calculator(), InputView(["Who wrote Hamlet?"]))   # no number to use
        False
        >>> offered(Calculator(), InputView(["Who wrote Hamlet?"], ground_numbers=False))
        True
    """
    check = getattr(tool, "offered", None)
    return bool(check(view)) if callable(check) else True


def search_input_grammar(view: InputView) -> str | None:
    """The Action Input of a search tool: a grounded query (:func:`query_grammar`) when
    ``view.ground_queries``, else free text (None).

    Example:
        >>> search_input_grammar(InputView(["Eiffel Tower"], ground_queries=False)) is None
        True
    """
    return query_grammar(view.texts) if view.ground_queries else None
