"""A calculator tool that evaluates arithmetic safely, for agents on small models.

The expression is parsed with Python's :mod:`ast` and walked over a whitelist: numbers,
``+ - * / // % **``, parentheses, unary signs, a few functions and the constants ``pi``
and ``e``. Nothing is ever executed: no ``eval``, ``exec`` or third-party evaluator sees
the text, because the text comes from a model (and through it, from web pages).

Every limit is checked before the work it guards, so a hostile or careless input is
refused at once instead of tying up the process: ``9**9**9`` is refused from the sizes of
its operands, ``factorial(100000)`` from an estimate of its digits.

With ``units=True`` (the default) numbers may carry units and be converted: ``7 hours to
seconds``, ``84 km/h * 3.5 h``, ``1999 USD * 0.85 EUR/USD``. A name is a unit when pint
knows it (:mod:`localchain.agents.tools.units`); the walk over the tree stays ours, pint
only does the arithmetic of quantities. Units that measure different things, and
currencies without a rate in the expression, are refused with the reason.

Example:
    >>> from localchain.agents.tools import Calculator, evaluate
    >>> evaluate("15% of 840")
    126.0
    >>> Calculator().invoke("2 ^ 10")
    '1024'
    >>> Calculator().invoke("1/0")
    "cannot calculate '1/0': division by zero is undefined"
    >>> Calculator().invoke("2.5 days to minutes")
    '3600 min'
"""

from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final, NoReturn

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from localchain.agents.grammar import InputView, expression_grammar, numbers_in
from localchain.agents.tools._expression_text import (
    PERCENT_MARKER,
    normalize_expression,
    split_conversion,
)
from localchain.agents.tools.units import (
    MAX_UNIT_POWER,
    UnitRefusal,
    convert,
    format_quantity,
    is_quantity,
    registry,
    unit_named,
)
from localchain.errors import CalculatorError

__all__ = [
    "Calculator",
    "CalculatorInput",
    "evaluate",
    "format_number",
    "format_result",
    "unit_words",
    "PLAIN_DESCRIPTION",
    "UNITS_DESCRIPTION",
    "MAX_INPUT_CHARS",
    "MAX_NESTING",
    "MAX_DIGITS",
]

Number = int | float
Value = Any
"""A Number, or with units a pint Quantity."""

MAX_INPUT_CHARS: Final = 500
"""Longest expression accepted, in characters. Model-written arithmetic is far shorter."""
MAX_NESTING: Final = 40
"""Deepest nesting of parentheses, calls and operators accepted."""
MAX_DIGITS: Final = 1000
"""Most digits an integer result (or any intermediate value) may have."""

_MAX_BITS: Final = math.ceil(MAX_DIGITS * math.log2(10))
_MAX_ROUND_DIGITS: Final = 15
_MAX_QUANTITY: Final = 1e300

_HINT: Final = (
    "Use only numbers, + - * / // % ** and parentheses, percentages (15% of 840), "
    "the functions sqrt, log, log10, exp, sin, cos, tan, abs, round, min, max, factorial "
    "and the constants pi and e."
)
_UNIT_HINT: Final = (
    " Numbers may carry units (7 hours, 84 km/h, 20 USD) and convert with 'to': 7 hours to seconds."
)

# A name starting with "_" is how every escape from a sandbox of this kind begins
# (__import__, __class__), and it is how percentages are marked internally.
_UNDERSCORE_NAME = re.compile(r"(?<!\w)_")

# ---------------------------------------------------------------------------------------
# Functions: each checks its own domain so the model gets a reason, not "math domain error".
# ---------------------------------------------------------------------------------------


def _whole(value: Number, what: str) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{what} must be a whole number, not {format_number(value)}")
    return int(value)


def _sqrt(x: Number) -> float:
    if x < 0:
        raise ValueError("sqrt of a negative number is not a real number")
    return math.sqrt(x)


def _log(x: Number, base: Number | None = None) -> float:
    if x <= 0:
        raise ValueError("log is only defined for numbers greater than 0")
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise ValueError("the base of log must be greater than 0 and not 1")
    return math.log(x, base)


def _log10(x: Number) -> float:
    if x <= 0:
        raise ValueError("log10 is only defined for numbers greater than 0")
    return math.log10(x)


def _factorial(x: Number) -> int:
    n = _whole(x, "the argument of factorial")
    if n < 0:
        raise ValueError("factorial is only defined for whole numbers 0 and up")
    # log10(n!) from lgamma: the size is known before anything is multiplied.
    if n > 100_000 or math.lgamma(n + 1) / math.log(10) > MAX_DIGITS:
        raise OverflowError(f"factorial({n}) has more than {MAX_DIGITS} digits")
    return math.factorial(n)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    """School rounding (halves away from zero), unlike Python's round: round(2.5) is 3."""
    places = 0 if ndigits is None else _whole(ndigits, "the digits argument of round")
    if abs(places) > _MAX_ROUND_DIGITS:
        raise ValueError(f"round keeps between -{_MAX_ROUND_DIGITS} and {_MAX_ROUND_DIGITS} digits")
    if isinstance(x, int):
        if places >= 0:
            return x
        step = 10**-places
        quotient, remainder = divmod(abs(x), step)
        rounded = (quotient + (2 * remainder >= step)) * step
        return rounded if x >= 0 else -rounded
    # repr() is the shortest text that reads back as x: round(2.675, 2) gives 2.68.
    exact = Decimal(repr(x)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=Context(prec=400)
    )
    return int(exact) if ndigits is None else float(exact)


# name -> (function, least arguments, most arguments)
_FUNCTIONS: Final[dict[str, tuple[Callable[..., Number], int, int]]] = {
    "sqrt": (_sqrt, 1, 1),
    "log": (_log, 1, 2),
    "ln": (_log, 1, 1),
    "log10": (_log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (lambda *values: min(values), 1, 50),  # min(7) is 7, not "int is not iterable"
    "max": (lambda *values: max(values), 1, 50),
    "factorial": (_factorial, 1, 1),
}
_CONSTANTS: Final[dict[str, float]] = {"pi": math.pi, "e": math.e}
_OPERATORS: Final[dict[type[ast.operator], Callable[[Number, Number], Number]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CONSTANT_KINDS: Final[dict[type, str]] = {
    str: "text (strings)",
    bytes: "bytes",
    complex: "complex numbers",
    bool: "True/False",
}
_REFUSED_OPERATORS: Final[dict[type[ast.AST], str]] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^ (bitwise)",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}
_REFUSED: Final[dict[type[ast.AST], str]] = {
    ast.Attribute: "attribute access (a '.' after a name) is not allowed",
    ast.Subscript: "indexing with [ ] is not allowed",
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Tuple: "this is several values separated by commas; write one expression",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.JoinedStr: "text (strings) cannot be calculated",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.IfExp: "'if' / 'else' is not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
}


# ---------------------------------------------------------------------------------------
# Evaluation over the whitelist.
# ---------------------------------------------------------------------------------------


class _Refusal(Exception):
    """Internal: carries the reason up to evaluate(), which adds the expression."""


def _refuse(reason: str) -> NoReturn:
    raise _Refusal(reason)


def _checked(value: object) -> Value:
    """Accept only finite real numbers of bounded size (the magnitude, for a quantity)."""
    if is_quantity(value):
        magnitude = _checked(value.magnitude)  # type: ignore[attr-defined]
        # Converting a quantity works in floats: a magnitude beyond them cannot convert.
        if abs(magnitude) > _MAX_QUANTITY:
            _refuse("the number is too large to calculate with units; use smaller numbers")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, complex):
            _refuse("the result is not a real number (a fractional power of a negative number?)")
        _refuse(f"the result is not a number ({type(value).__name__})")
    if isinstance(value, float) and math.isnan(value):
        _refuse("the result is not a number (NaN)")
    if isinstance(value, float) and math.isinf(value):
        _refuse("the result is too large to represent")
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        _refuse(f"the result has more than {MAX_DIGITS} digits")
    return value


def _check_power(base: Value, exponent: Value) -> None:
    """Refuse an integer power whose result would be too long, from the operand sizes."""
    if is_quantity(exponent):
        if not exponent.dimensionless:
            _refuse("an exponent must be a plain number, not a quantity with units")
        exponent = exponent.to("").magnitude
    if is_quantity(base):
        if not base.dimensionless:
            if abs(exponent) > MAX_UNIT_POWER:
                _refuse(
                    f"a quantity with units can be raised to at most the {MAX_UNIT_POWER}th power"
                )
            base = base.magnitude
        else:
            base = base.to("").magnitude
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        # 2**(b-1) <= |base| < 2**b, so the result has between exponent*(b-1) and
        # exponent*b bits: this bounds the work to about twice the limit, and _checked
        # then applies the exact limit to the result.
        if exponent * (abs(base).bit_length() - 1) > _MAX_BITS:
            _refuse(f"the result would have more than {MAX_DIGITS} digits; use smaller numbers")


def _apply(function: Callable[..., Value], *args: Value) -> Value:
    import_pint = any(is_quantity(arg) for arg in args)
    try:
        return _checked(function(*args))
    except _Refusal:
        raise
    except UnitRefusal as err:
        _refuse(str(err))
    except ZeroDivisionError:
        _refuse("division by zero is undefined")
    except OverflowError as err:
        detail = str(err)
        if "digits" in detail:
            _refuse(detail)
        _refuse("the result is too large to represent")
    except ValueError as err:
        detail = str(err)
        _refuse(detail if detail != "math domain error" else "the value is outside the domain")
    except Exception as err:  # pint's errors for quantities: mismatched or offset units
        if not import_pint:
            raise
        _refuse(_unit_error_text(err))


def _unit_error_text(err: Exception) -> str:
    """A pint error on two quantities, as a reason the model can act on."""
    from pint import DimensionalityError

    kind = type(err).__name__
    if isinstance(err, DimensionalityError):
        first, second = (
            "" if str(units) == "dimensionless" else str(units)
            for units in (err.units1, err.units2)
        )
        if "[currency_" in f"{err.dim1}{err.dim2}":
            return (
                f"{first or 'a plain number'} and {second or 'a plain number'} are different "
                "currencies (or a currency and a plain number); the calculator knows no "
                "exchange rate: write the stated rate, e.g. 100 USD * 0.92 EUR/USD"
            )
        return (
            f"{first or 'a plain number'} and {second or 'a plain number'} measure different "
            "things, so they cannot be added, subtracted or compared"
        )
    if kind == "OffsetUnitCalculusError":
        return (
            "temperatures in degC or degF cannot be multiplied or added like that; convert "
            "them instead, e.g. 30 degC to degF"
        )
    return f"the units do not work out ({kind})"


def _evaluate_node(node: ast.AST, depth: int, units: bool = False) -> Value:
    if depth > MAX_NESTING:
        _refuse(f"the expression is nested more than {MAX_NESTING} levels deep")
    if isinstance(node, ast.Expression):
        return _evaluate_node(node.body, depth + 1, units)
    if isinstance(node, ast.Constant):
        value = node.value
        if type(value) in (int, float):
            return _checked(value)
        kind = _CONSTANT_KINDS.get(type(value), repr(value))
        _refuse(f"{kind} cannot be calculated")
    if isinstance(node, ast.Name):
        name = node.id.lower()
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        unit = unit_named(node.id) if units else None
        if unit is not None:
            return registry().Quantity(1, unit)
        if name in _FUNCTIONS:
            _refuse(f"{name} is a function: write {name}(...) with its argument in parentheses")
        _refuse(f"unknown name {node.id!r}. {_HINT}{_UNIT_HINT if units else ''}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate_node(node.operand, depth + 1, units)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _evaluate_binary(node, depth, units)
    if isinstance(node, ast.Call):
        return _evaluate_call(node, depth, units)
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
        _refuse(f"the operator {symbol} is not allowed. {_HINT}")
    what = _REFUSED.get(type(node), f"{type(node).__name__} expressions are not allowed")
    _refuse(f"{what}. {_HINT}")


def _percent_operand(node: ast.AST) -> ast.AST | None:
    """The x of a marked percentage x%, or None if node is not one."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.args[0] if node.func.id == PERCENT_MARKER else None
    return None


def _unit_operand(node: ast.AST, units: bool) -> Any | None:
    """The unit a bare name stands for (``hours`` in ``7 * hours``), or None."""
    if units and isinstance(node, ast.Name) and node.id.lower() not in _CONSTANTS:
        return unit_named(node.id)
    return None


def _evaluate_binary(node: ast.BinOp, depth: int, units: bool = False) -> Value:
    left = _evaluate_node(node.left, depth + 1, units)
    unit = _unit_operand(node.right, units) if isinstance(node.op, ast.Mult) else None
    if unit is not None and not is_quantity(left):
        # A number times a unit is a quantity: built directly, so that temperatures
        # (offset units: 30 degC) are the quantity, not a product pint refuses.
        return _checked(registry().Quantity(left, unit))
    percent = _percent_operand(node.right)
    if percent is not None and isinstance(node.op, (ast.Add, ast.Sub)):
        # Calculator convention: 840 - 15% takes 15% off 840 (714), it does not subtract
        # 0.15. Multiplying before dividing keeps whole results whole (840 + 15% is 966.0).
        rate = _evaluate_node(percent, depth + 2, units)
        scaled = _apply(operator.add if isinstance(node.op, ast.Add) else operator.sub, 100, rate)
        return _apply(operator.truediv, _apply(operator.mul, left, scaled), 100)
    right = _evaluate_node(node.right, depth + 1, units)
    if isinstance(node.op, ast.Pow):
        _check_power(left, right)
    return _apply(_OPERATORS[type(node.op)], left, right)


def _evaluate_call(node: ast.Call, depth: int, units: bool = False) -> Value:
    if not isinstance(node.func, ast.Name):
        _refuse(f"only the named functions can be called. {_HINT}")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        _refuse("write function arguments as plain values, e.g. round(2.345, 2)")
    if node.func.id == PERCENT_MARKER:
        return _apply(operator.truediv, _evaluate_node(node.args[0], depth + 1, units), 100)
    name = node.func.id.lower()
    if name in _CONSTANTS:
        _refuse(f"{name} is a constant, not a function: write {name} without parentheses")
    if name not in _FUNCTIONS:
        _refuse(f"unknown function {node.func.id!r}. {_HINT}")
    function, least, most = _FUNCTIONS[name]
    if not least <= len(node.args) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        _refuse(f"{name} takes {count} argument(s), got {len(node.args)}")
    args = [_evaluate_node(arg, depth + 1, units) for arg in node.args]
    if any(is_quantity(arg) for arg in args):
        return _call_on_quantities(name, function, args)
    return _apply(function, *args)


def _call_on_quantities(name: str, function: Callable[..., Number], args: list[Value]) -> Value:
    """A function of quantities: plain numbers when dimensionless; sqrt, abs, round, min
    and max keep the units; the rest need plain numbers."""
    if all(not is_quantity(arg) or arg.dimensionless for arg in args):
        plain = [arg.to("").magnitude if is_quantity(arg) else arg for arg in args]
        return _apply(function, *plain)
    first = args[0]
    if name == "sqrt" and len(args) == 1:
        if first.magnitude < 0:
            _refuse("sqrt of a negative number is not a real number")
        return _apply(operator.pow, first, 0.5)
    if name == "abs":
        return _apply(abs, first)
    if name == "round" and is_quantity(first) and not any(is_quantity(a) for a in args[1:]):
        return _apply(lambda q, *n: q.__class__(_round(q.magnitude, *n), q.units), first, *args[1:])
    if name in ("min", "max"):
        return _apply(function, *args)
    _refuse(f"{name} takes plain numbers, not quantities with units")


def evaluate(expression: str, *, units: bool = True) -> Value:
    """Evaluate an arithmetic expression safely; raise CalculatorError if it is refused.

    Accepts ``+ - * / // % **`` (also ``^``, ``x`` and ``×``), parentheses, ``1,000``,
    percentages (``15% of 840``, ``840 * 15%``, ``840 - 15%`` = 714), the functions sqrt,
    log (natural; ``log(x, base)``), ln, log10, exp, sin, cos, tan, abs, round, min, max,
    factorial, and the constants pi and e. Quotes, backticks and a trailing ``=`` are ignored.

    With ``units`` (the default), numbers may carry units (``7 hours``, ``84 km/h``,
    ``20 USD``) and the result is then a pint Quantity; ``... to <units>`` (or ``in``)
    converts. Without units in it, an expression gives a plain number as before.

    Example:
        >>> evaluate("(3 + 4) * 2")
        14
        >>> evaluate("1,200 * 15%")
        180.0
        >>> format_result(evaluate("7 hours to seconds"))
        '25200 s'
        >>> evaluate("__import__('os')")
        Traceback (most recent call last):
        ...
        localchain.errors.CalculatorError: cannot calculate "__import__('os')": names starting ...
    """
    if not isinstance(expression, str):
        raise CalculatorError(repr(expression), "the expression must be text")
    if len(expression) > MAX_INPUT_CHARS:
        raise CalculatorError(
            expression, f"the expression is longer than {MAX_INPUT_CHARS} characters; split it up"
        )
    if _UNDERSCORE_NAME.search(expression):
        raise CalculatorError(expression, f"names starting with '_' are not allowed. {_HINT}")
    text = normalize_expression(expression, units=units)
    target_text = None
    if units:
        text, target_text = split_conversion(text)
    if not text or target_text == "":
        raise CalculatorError(expression, f"the expression is empty. {_HINT}")
    value = _evaluate_text(expression, text, units)
    if target_text is None:
        return _plain_if_dimensionless(value)
    target = _evaluate_text(expression, target_text, units)
    if not is_quantity(target) or target.dimensionless:
        raise CalculatorError(expression, f"after 'to' write the units to convert to.{_UNIT_HINT}")
    try:
        return _checked(convert(value, target))
    except UnitRefusal as err:
        raise CalculatorError(expression, str(err)) from None
    except _Refusal as refusal:
        raise CalculatorError(expression, str(refusal)) from None


def _plain_if_dimensionless(value: Value) -> Value:
    """A quantity whose units cancel (3 km / 500 m) is the plain number it stands for."""
    if is_quantity(value) and value.dimensionless:
        return _checked(value.to("").magnitude)
    return value


def _evaluate_text(expression: str, text: str, units: bool) -> Value:
    """Parse and walk one normalised expression (``expression`` is what the user wrote)."""
    depth = 0
    for char in text:  # the parser's own recursion must never be the limit we hit
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth > MAX_NESTING:
            raise CalculatorError(
                expression, f"the expression is nested more than {MAX_NESTING} levels deep"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning on "1is 1"; refused below
            tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        reason = f"this is not an arithmetic expression. {_HINT}"
        raise CalculatorError(expression, reason) from None
    try:
        return _evaluate_node(tree, 0, units)
    except _Refusal as refusal:
        raise CalculatorError(expression, str(refusal)) from None


def format_number(value: Number) -> str:
    """Format a result for reading: integers without '.0', floats to 10 significant digits.

    Example:
        >>> format_number(4.0), format_number(1 / 3), format_number(2**70)
        ('4', '0.3333333333', '1180591620717411303424')
    """
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def format_result(value: Value) -> str:
    """A result for reading: :func:`format_number`, or for a quantity the number and its
    units' short names (``294 km``, ``1699.15 EUR``; dimensionless: just the number).

    Example:
        >>> format_result(evaluate("84 km/h * 3.5 h")), format_result(126.0)
        ('294 km', '126')
    """
    if is_quantity(value):
        return format_quantity(value, format_number)
    return format_number(value)


PLAIN_DESCRIPTION: Final = (
    "Calculates one arithmetic expression and returns the number. "
    "Input: numbers with + - * / ** and ( ), percentages, and functions like sqrt, log, "
    "round, min, max. Examples: 15% of 840 | (3 + 4) * 2 | 1200 * 0.85 | sqrt(144)"
)
"""The calculator's description without units."""
UNITS_DESCRIPTION: Final = (
    "Calculates one arithmetic expression and returns the number. "
    "Input: numbers with + - * / ** and ( ), percentages, functions like sqrt, round, and "
    "units with 'to' for conversions. Examples: 15% of 840 | (3 + 4) * 2 | "
    "7 hours to seconds | 84 km/h * 3.5 h"
)
"""The calculator's description with units (the default)."""


def unit_words(texts: Sequence[str]) -> list[str]:
    """Unit names the calculator's grammar offers: the common ones
    (:data:`~localchain.agents.tools.units.COMMON_UNITS`) and every word in ``texts`` that
    names a unit (currency codes only this way: a currency must be in the question).

    Example:
        >>> "USD" in unit_words(["Convert 5 USD at 0.9 EUR per USD"]), "USD" in unit_words([])
        (True, False)
    """
    from localchain.agents.grammar import words_in
    from localchain.agents.tools.units import COMMON_UNITS

    found = [w for w in words_in(texts) if w.isalpha() and unit_named(w) is not None]
    return list(dict.fromkeys([*COMMON_UNITS, *found[:100]]))


class CalculatorInput(BaseModel):
    """Arguments of the calculator tool.

    Example:
        >>> Calculator().args_schema is CalculatorInput
        True
        >>> Calculator().invoke({"expression": "(3 + 4) * 2"})     # a tool call's arguments
        '14'
    """

    expression: str = Field(
        description="One arithmetic expression, for example: 15% of 840, (3 + 4) * 2, sqrt(144)"
    )
    """The expression to calculate."""


class Calculator(BaseTool):
    """Calculator tool: a safe arithmetic evaluator as a LangChain tool.

    Refusals and math errors are raised as ``ToolException`` and, because
    ``handle_tool_error`` is True, ``invoke``/``run`` return their message as the
    observation (a ``ToolMessage`` with ``status="error"`` for tool calls) instead of
    raising, so an agent sees what went wrong and can try again. Set
    ``handle_tool_error=False`` to get the exception.

    Example:
        >>> from localchain.agents.tools import Calculator
        >>> calculator = Calculator()
        >>> calculator.invoke("15% of 840")
        '126'
        >>> calculator.invoke({"expression": "sqrt(2) * 3"})
        '4.242640687'
        >>> print(calculator.invoke("9**9**9"))
        cannot calculate '9**9**9': the result would have more than 1000 digits; use smaller...
    """

    name: str = "calculator"
    description: str = ""
    """What the model reads about the tool; empty: :data:`PLAIN_DESCRIPTION`, or
    :data:`UNITS_DESCRIPTION` with ``units``."""
    pure: bool = True
    """Same input, same output, no side effects: an agent may run it on several candidate
    inputs and compare (``ReActAgent(samples=...)``)."""
    units: bool = True
    """Numbers may carry units and convert (``7 hours to seconds``); False: plain
    arithmetic only, and the input grammar offers no unit names."""
    args_schema: type[BaseModel] = CalculatorInput
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = True
    """True: a refusal's message becomes the observation; False: ToolException is raised."""
    handle_validation_error: bool | str | Callable[[ValidationError], str] | None = (
        'The calculator takes one argument, the expression, e.g. {"expression": "2 * (3 + 4)"}.'
    )
    """Observation for arguments that do not fit the schema (a string), or False to raise."""

    def model_post_init(self, context: Any) -> None:
        if not self.description:
            self.description = UNITS_DESCRIPTION if self.units else PLAIN_DESCRIPTION

    def input_grammar(self, view: InputView) -> str | None:
        """An arithmetic expression, its numbers quoted from what is in view when
        ``view.ground_numbers`` (:func:`~localchain.agents.grammar.expression_grammar`);
        with ``units``, numbers may carry the units in view or common ones."""
        texts = view.texts if view.ground_numbers else None
        return expression_grammar(texts, units=unit_words(view.texts) if self.units else None)

    def offered(self, view: InputView) -> bool:
        """With grounded numbers, only when a number is in view: with nothing to
        calculate, a small model still picks the calculator ("1 + 2") over the tool the
        question needs."""
        return not view.ground_numbers or bool(numbers_in(view.texts))

    def _run(self, expression: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        try:
            return format_result(evaluate(expression, units=self.units))
        except CalculatorError as err:
            raise ToolException(str(err)) from err
