"""Building blocks for GBNF grammars (llama.cpp's constrained decoding).

The agents, the chains and the judge write grammars as text; what every one of them needs
lives here once: a string literal that matches a text exactly (:func:`gbnf_literal`), and
renaming a rule of a grammar that another tool wrote (:func:`rename_rule`).

Example:
    >>> print("root ::= " + " | ".join(gbnf_literal(name) for name in ["movies", "cooking"]))
    root ::= "movies" | "cooking"
"""

from __future__ import annotations

import re

__all__ = ["gbnf_literal", "rename_rule"]

# One token of GBNF text: a string literal, a character class, a rule name, blanks, or any
# other single character. Literals and classes come first so a name inside them is kept.
_GBNF_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|[A-Za-z][A-Za-z0-9-]*|\s+|.', re.DOTALL
)


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
