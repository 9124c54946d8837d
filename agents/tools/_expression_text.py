"""Lenient clean-up of arithmetic typed by small models, before it is parsed.

The result is a Python expression that is *not yet trusted*: the calculator parses it
with :mod:`ast` and evaluates it over its whitelist. Nothing here evaluates anything.

What is accepted: quotes, backticks and code fences around the expression; the tool's
own argument typed as text (``{"expression": "6 * 7"}``); a leading or trailing ``=``;
``^`` for power; ``x``, ``×`` and ``·`` for multiply, ``÷`` for divide; ``1,000``
thousands separators (outside function calls, where a comma separates arguments); and
percentages: a ``%`` with no operand after it means per cent and becomes
a call to :data:`PERCENT_MARKER` (``15% of 840`` -> ``_percent_(15) * 840``), while
``10 % 3`` stays Python's modulo.

Example:
    >>> normalize_expression("`1,200 x 15%` =")
    '1200*_percent_(15)'
"""

from __future__ import annotations

import keyword
import re
from typing import Final

__all__ = ["PERCENT_MARKER", "normalize_expression", "split_conversion"]

PERCENT_MARKER: Final = "_percent_"
"""Name of the call that marks a percentage. It starts with "_", and the calculator
refuses every input that names anything starting with "_", so a user cannot reach it."""

_SYMBOLS: Final = {"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "^": "**"}
_TIMES_X = re.compile(r"(?<=[\d.)%])\s*[xX]\s*(?=[\d.(])")
_PERCENT_WORD = re.compile(r"\s*\bper\s?cent\b", re.IGNORECASE)
_PERCENT_OF = re.compile(r"%\s*of\b", re.IGNORECASE)
_GROUPED = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?!\d)")
_FENCE_TAG = re.compile(r"^(?:python|py|math|text)\s*\n")
_OPERAND = re.compile(r"[A-Za-z_]\w*|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
# A number right before a name ("7 hours", "500 m") is one quantity, grouped so that
# "3 km / 500 m" divides by 500 m; a closing parenthesis before a name multiplies it.
_KEYWORD = r"(?:to|in|into|as)\b"
# Python's own words ("1 if 1 else 2", "x for x in ...") and complex literals (1j) are left
# for the parser to refuse as what they are.
_NOT_A_UNIT = r"(?:" + "|".join(keyword.kwlist) + r"|into|j|J)\b"
_QUANTITY = re.compile(
    r"(?<![\w.])((?>\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?))[ \t]*"
    rf"(?!{_NOT_A_UNIT})((?>[A-Za-z]\w*)(?:\s*\*\*\s*\d+)?)(?!\s*\()"
)
_UNITS_ONLY = re.compile(r"[A-Za-z]\w*(?:\s*(?:\*\*|[*/^])\s*(?:[A-Za-z]\w*|\d))*")
_GROUP_TIMES = re.compile(rf"\)(?![ \t]*{_KEYWORD})[ \t]*(?=[A-Za-z])")
_CONVERSION = re.compile(r"\s+(?:to|in|into|as)\s+", re.IGNORECASE)
_JSON_ARGUMENT = re.compile(r'^\{\s*"(?:expression|input|expr)"\s*:\s*"(.*)"\s*\}$', re.DOTALL)


# The two scans below walk backwards character by character instead of searching the
# prefix with an end-anchored regex, which would cost quadratic time per '(' or '%'.


def _name_start(text: str, end: int) -> int | None:
    """Start of the identifier that ends at `end` (spaces before `end` allowed), if any."""
    stop = end
    while stop > 0 and text[stop - 1].isspace():
        stop -= 1
    start = stop
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    if start < stop and (text[start].isalpha() or text[start] == "_"):
        return start
    return None


def _strip_wrapping(text: str) -> str:
    """Remove code fences, quotes and a leading or trailing '=' around the expression."""
    while True:
        before = text
        text = text.strip()
        if len(text) >= 6 and text.startswith("```") and text.endswith("```"):
            text = _FENCE_TAG.sub("", text[3:-3].strip() + "\n", count=1).strip()
        for quote in ("`", '"', "'"):
            # Only a pair that wraps everything: "'a' + 'b'" starts and ends with quotes too.
            if len(text) >= 2 and text[0] == quote == text[-1] and quote not in text[1:-1]:
                text = text[1:-1]
        # A model that copied the tool's schema may send {"expression": "..."} as text.
        if argument := _JSON_ARGUMENT.match(text):
            text = argument.group(1).replace('\\"', '"')
        text = text.strip().lstrip("=").rstrip("=?").strip()
        if text == before:
            return text


def _in_call_flags(text: str) -> list[bool]:
    """For each character: is it directly inside the parentheses of a function call?"""
    flags: list[bool] = []
    stack: list[bool] = []
    for index, char in enumerate(text):
        if char == "(":
            flags.append(bool(stack and stack[-1]))
            stack.append(_name_start(text, index) is not None)
            continue
        if char == ")" and stack:
            stack.pop()
        flags.append(bool(stack and stack[-1]))
    return flags


def _drop_thousands_separators(text: str) -> str:
    """'1,000,000' -> '1000000', except inside a call, where a comma separates arguments."""
    if "," not in text:
        return text
    in_call = _in_call_flags(text)
    return _GROUPED.sub(
        lambda match: match.group() if in_call[match.start()] else match.group().replace(",", ""),
        text,
    )


def _is_percent_sign(text: str, index: int) -> bool:
    """Whether the '%' at index means 'per cent' (nothing follows it) or modulo."""
    rest = text[index + 1 :]
    following = rest.lstrip()
    if not following or following[0] in ")],*/%":
        return True
    if following[0] in "+-":
        # "20% - 5" is a percentage minus 5; "20 %-5" and "20 % -5" are Python's modulo.
        after_sign = following[1:2]
        return rest[:1].isspace() and (not after_sign or after_sign.isspace())
    return False


def _operand_start(text: str, end: int) -> int | None:
    """Start of the operand that ends at `end`: a number, a name or a (call) group."""
    stop = len(text[:end].rstrip())
    if stop == 0:
        return None
    if text[stop - 1] == ")":
        depth = 0
        for position in range(stop - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[position], 0)
            if depth == 0:
                name = _name_start(text, position)
                return position if name is None else name
        return None
    start = stop
    while start > 0:
        char = text[start - 1]
        if char.isalnum() or char in "_.":
            start -= 1
        elif char in "+-" and start >= 3 and text[start - 2] in "eE" and text[start - 3].isdigit():
            start -= 2  # the sign of an exponent, as in 1e-3
        else:
            break
    return start if _OPERAND.fullmatch(text, start, stop) else None


def _mark_percentages(text: str) -> str:
    """Rewrite each per-cent '%' as a call that the evaluator knows: '15%' -> '_percent_(15)'."""
    text = _PERCENT_OF.sub("% *", _PERCENT_WORD.sub("%", text))
    search_from = 0
    while (index := text.find("%", search_from)) != -1:
        start = _operand_start(text, index)
        if not _is_percent_sign(text, index) or start is None:
            search_from = index + 1
            continue
        operand = text[start:index].rstrip()
        replacement = f"{PERCENT_MARKER}({operand})"
        text = text[:start] + replacement + text[index + 1 :]
        search_from = start + len(replacement)
    return text


def normalize_expression(expression: str, *, units: bool = False) -> str:
    """Turn what a model typed into a Python arithmetic expression (not yet trusted).

    With ``units``, unit phrases become names (``degrees Celsius`` -> ``degC``, ``per`` ->
    ``/``) and a number before a name is one quantity (``7 hours`` -> ``(7*hours)``); a
    conversion (``... to seconds``) is kept as written for :func:`split_conversion`.

    Example:
        >>> normalize_expression("84 km per h * 3.5 h", units=True)
        '(84*km) / h * (3.5*h)'
    """
    text = _strip_wrapping(expression)
    if units:
        from localchain.agents.tools.units import normalize_unit_words

        text = normalize_unit_words(text)
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    text = _TIMES_X.sub("*", text)
    text = _mark_percentages(_drop_thousands_separators(text))
    if units:
        text = _QUANTITY.sub(_quantity, text)
        text = _GROUP_TIMES.sub(")*", text)
    return text


def _quantity(match: re.Match[str]) -> str:
    """One number-and-unit as a group: "16 m**2" -> "(16*m**2)"; but an exponent stays
    one ("10**400 km" is 10**400 kilometres, not 10 to the power of 400 km)."""
    number, unit = match.group(1), match.group(2)
    if match.string[: match.start()].rstrip().endswith("**"):
        return f"{number}*{unit}"
    return f"({number}*{unit})"


def split_conversion(text: str) -> tuple[str, str | None]:
    """``(expression, target units)`` for ``... to <units>`` (also ``in``, ``into``,
    ``as``) outside parentheses, the target being unit names only (``km / h``);
    ``(text, None)`` without a conversion.

    Example:
        >>> split_conversion("(7*hours) to seconds")
        ('(7*hours)', 'seconds')
        >>> split_conversion("max(1, 2)")
        ('max(1, 2)', None)
    """
    depth = 0
    found: re.Match[str] | None = None
    depths = []
    for char in text:
        depth += 1 if char == "(" else -1 if char == ")" else 0
        depths.append(depth)
    for match in _CONVERSION.finditer(text):
        if depths[match.start()] == 0 and _UNITS_ONLY.fullmatch(text[match.end() :].strip()):
            found = match
    if found is None:
        return text, None
    return text[: found.start()].strip(), text[found.end() :].strip()
