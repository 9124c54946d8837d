"""Building blocks for GBNF grammars (llama.cpp's constrained decoding).

The agents, the chains and the judge write grammars as text; what every one of them needs
lives here once: a string literal that matches a text exactly (:func:`gbnf_literal`),
renaming a rule of a grammar that another tool wrote (:func:`rename_rule`), and the grammar
of a JSON schema whose every answer a JSON parser accepts (:func:`json_schema_grammar`).

Example:
    >>> print("root ::= " + " | ".join(gbnf_literal(name) for name in ["movies", "cooking"]))
    root ::= "movies" | "cooking"
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

__all__ = [
    "JSON_STRING_CHAR",
    "InputView",
    "cap_strings",
    "gbnf_literal",
    "json_schema_grammar",
    "numbers_in",
    "rename_rule",
]

# llama-cpp-python 0.3's JSON-schema converter lets a string hold raw control characters (a
# newline), which no JSON parser accepts; llama.cpp's own converter leaves them out.
_LOOSE_CHAR = 'char ::= [^"\\\\]'
JSON_STRING_CHAR = 'char ::= [^"\\\\\\x00-\\x1F\\x7F]'
"""The rule for one unescaped character of a JSON string: no quote, backslash or control
character (escapes such as ``\\n`` stay allowed through the rule's other branch)."""

# One token of GBNF text: a string literal, a character class, a rule name, blanks, or any
# other single character. Literals and classes come first so a name inside them is kept.
_GBNF_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|[A-Za-z][A-Za-z0-9-]*|\s+|.', re.DOTALL
)


_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly.

    Backslashes, double quotes, newlines, carriage returns and tabs are escaped; llama.cpp
    reads every other character as itself.

    Example:
        >>> gbnf_literal('say "hi"\\n')
        '"say \\\\"hi\\\\"\\\\n"'
        >>> print(gbnf_literal('a\\tb \\\\ "c"'))
        "a\\tb \\\\ \\"c\\""
    """
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def rename_rule(gbnf: str, old: str, new: str) -> str:
    """``gbnf`` with the rule ``old`` renamed to ``new`` everywhere it is defined or used.

    Names inside string literals and character classes are text, not rules: they are kept.
    Used to embed a generated grammar (whose start rule is ``root``) in a larger one.

    Example:
        >>> print(rename_rule('root ::= "root" item\\nitem ::= [a-z]', "root", "args"))
        args ::= "root" item
        item ::= [a-z]
    """
    return "".join(new if token == old else token for token in _GBNF_TOKEN.findall(gbnf))


def cap_strings(schema: Any, limit: int) -> Any:
    """A copy of a JSON schema in which every string without a ``maxLength`` (or an
    ``enum``) gets ``maxLength: limit``, so no argument can run on to ``max_tokens``.

    Example:
        >>> cap_strings({"type": "object", "properties": {"q": {"type": "string"}}}, 100)
        {'type': 'object', 'properties': {'q': {'type': 'string', 'maxLength': 100}}}
    """
    if isinstance(schema, dict):
        capped = {key: cap_strings(value, limit) for key, value in schema.items()}
        if capped.get("type") == "string" and "maxLength" not in capped and "enum" not in capped:
            capped["maxLength"] = limit
        return capped
    if isinstance(schema, list):
        return [cap_strings(value, limit) for value in schema]
    return schema


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF of a JSON schema (llama-cpp-python's converter), with strings that a JSON
    parser accepts: no raw control characters.

    Raises whatever the converter raises for a schema it cannot handle.

    Example:
        >>> grammar = json_schema_grammar({"type": "object", "properties": {
        ...     "name": {"type": "string"}}, "required": ["name"]})
        >>> JSON_STRING_CHAR in grammar and "x1F" in grammar
        True
    """
    gbnf = json_schema_to_gbnf(json.dumps(schema))
    return gbnf.replace(_LOOSE_CHAR, JSON_STRING_CHAR)


@dataclass(frozen=True)
class InputView:
    """What a tool's input grammar may draw on at one step.

    Example:
        >>> view = InputView(["What is 15% of 840?"])
        >>> view.texts, view.ground_numbers, view.ground_queries
        (('What is 15% of 840?',), True, True)
    """

    texts: Sequence[str]
    """What is in view: the question, the conversation, the observations so far."""
    ground_numbers: bool = True
    """Numbers in an input must be quoted from :attr:`texts` (or be common constants)."""
    ground_queries: bool = True
    """Words of a search query must be quoted from :attr:`texts`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", tuple(self.texts))


def numbers_in(texts: Iterable[str]) -> list[str]:
    """Every number written in ``texts``, as written and in plain form (1,200 -> 1200;
    12.50 -> 12.5), first seen first.

    Example:
        >>> numbers_in(["A book costs 12.50 and a desk 1,200."])
        ['12.50', '12.5', '1,200', '1200']
    """
    seen: dict[str, None] = {}
    for text in texts:
        for match in _NUMBER.finditer(text):
            written = match.group(0)
            plain = written.replace(",", "")
            if "." in plain:
                plain = plain.rstrip("0").rstrip(".")
            seen.setdefault(written, None)
            seen.setdefault(plain, None)
    return list(seen)
