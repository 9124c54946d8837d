"""The safe calculator: hand cases, lenient input, refusals, and fuzzing against Python.

``eval`` appears in this file only as the oracle, on expressions the test generates from
numbers and whitelisted operators; the calculator itself never evaluates text.
"""

from __future__ import annotations

import ast
import math
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage
from langchain_core.tools import ToolException

from localchain.agents.tools import MAX_INPUT_CHARS, Calculator, evaluate, format_number
from localchain.errors import CalculatorError, LocalchainError

TOOLS_DIR = Path(__file__).resolve().parents[3] / "agents" / "tools"


def finishes_quickly(expression: str) -> dict[str, object]:
    """Evaluate on a thread; fail if it does not finish within a generous bound.

    The bound only guards against hanging (9**9**9 computed would take hours, a quadratic
    scan of a pathological input seconds); it is not a speed measurement.
    """
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["value"] = evaluate(expression)
        except BaseException as err:
            outcome["error"] = err

    worker = threading.Thread(target=work, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(5.0)
    assert not worker.is_alive(), f"{expression[:60]!r} did not finish within 5 s"
    assert time.monotonic() - started < 5.0
    return outcome


def refused_quickly(expression: str) -> CalculatorError:
    """Evaluate with the hang guard above; the expression must be refused."""
    outcome = finishes_quickly(expression)
    error = outcome.get("error")
    assert isinstance(error, CalculatorError), f"{expression[:60]!r} gave {outcome!r}"
    return error


# --- hand cases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("10 % 3", 1),
        ("2 ** 10", 1024),
        ("-2 ** 2", -4),
        ("+5 - -3", 8),
        ("1.5e3 + .5", 1500.5),
        ("sqrt(144)", 12.0),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("ln(1)", 0.0),
        ("log10(1000)", 3.0),
        ("exp(0)", 1.0),
        ("sin(0) + cos(0) + tan(0)", 1.0),
        ("sin(pi / 2)", 1.0),
        ("abs(-3.5)", 3.5),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(2.675, 2)", 2.68),
        ("round(1234, -2)", 1200),
        ("round(1250, -2)", 1300),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("max(7)", 7),
        ("factorial(5)", 120),
        ("factorial(5.0)", 120),
        ("2 * pi", 2 * math.pi),
        ("PI", math.pi),
        ("Sqrt(16)", 4.0),
        ("2 ** -2", 0.25),
        ("1_000 + 1", 1001),
    ],
)
def test_hand_cases(expression: str, expected: float) -> None:
    result = evaluate(expression)
    assert result == pytest.approx(expected, rel=1e-12)
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("15% of 840", 126),
        ("15 % of 840", 126),
        ("15 percent of 840", 126),
        ("840 * 15%", 126),
        ("15% * 840", 126),
        ("840 - 15%", 714),
        ("840 + 15%", 966),
        ("100 - 20% - 5", 75),
        ("50%", 0.5),
        ("(1 + 2)%", 0.03),
        ("sqrt(16)%", 0.04),
        ("2.5% of 1,000", 25),
        ("max(10%, 0.05)", 0.1),
        ("1,200 * 15% + 1,000,000", 1_000_180),
        ("10 % 3", 1),  # a number after '%' keeps Python's modulo
        ("20 %-6", 20 % -6),
        ("20 % -6", 20 % -6),
        ("7 % (2 + 2)", 3),
    ],
)
def test_percentages_and_modulo(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("`2 + 2`", 4),
        ('"2 + 2"', 4),
        ("'2 + 2'", 4),
        ("```\n2 + 2\n```", 4),
        ("```python\n2 * 3\n```", 6),
        ("2 + 2 =", 4),
        ("= 2 + 2", 4),
        ("2 + 2 = ?", 4),
        ("  3 x 4  ", 12),
        ("3x4", 12),
        ("(1 + 2) x (3 + 4)", 21),
        ("3 × 4", 12),
        ("12 ÷ 4", 3),
        ("2 ^ 10", 1024),
        ("5 − 2", 3),
        ("1,000 * 3", 3000),
        ("1,234,567.5 + 0.5", 1234568),
        ("max(1, 2)", 2),  # inside a call a comma separates arguments
        ("max(1,000, 2)", 2),  # ... even when it looks like a thousands separator
        ('{"expression": "6 * 7"}', 42),  # the tool's schema, typed as the input
        ('{"expr": "15% of 840"}', 126),
        ("1e-3%", 1e-5),
        ("2.5e+2% of 4", 10),
    ],
)
def test_lenient_with_what_small_models_type(typed: str, expected: float) -> None:
    assert evaluate(typed) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4, "4"),
        (4.0, "4"),
        (-0.0, "0"),
        (1 / 3, "0.3333333333"),
        (0.1 + 0.2, "0.3"),
        (2**70, "1180591620717411303424"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-07"),
        (126.00000000000001, "126"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason_part"),
    [
        ("__import__('os')", "'_'"),
        ("__import__('os').system('ls')", "'_'"),
        ('{"expression": "__import__(\\"os\\")"}', "'_'"),
        ("().__class__.__bases__[0].__subclasses__()", "'_'"),
        ("(1).real", "attribute access"),
        ("pi.real", "attribute access"),
        ("lambda: 1", "lambda"),
        ("[x for x in range(9)]", "comprehensions"),
        ("sum(x for x in range(9))", "unknown function"),
        ("{x: 1 for x in range(3)}", "comprehensions"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("eval('1+1')", "unknown function 'eval'"),
        ("exec('x = 1')", "unknown function 'exec'"),
        ("globals()", "unknown function"),
        ("os", "unknown name 'os'"),
        ("x", "unknown name"),
        ("'abc' + 'def'", "strings"),
        ("b'x'", "bytes"),
        ("f'{1}'", "strings"),
        ("[1, 2][0]", "indexing"),
        ("(1, 2)", "several values"),
        ("1, 2", "several values"),
        ("{1, 2}", "sets"),
        ("{1: 2}", "dicts"),
        ("1j", "complex"),
        ("True + 1", "True/False"),
        ("1 < 2", "comparisons"),
        ("1 and 2", "'and' / 'or'"),
        ("1 if 1 else 2", "'if' / 'else'"),
        ("(y := 3)", "assignment"),
        ("1 << 10", "<<"),
        ("6 & 3", "&"),
        ("~1", "~"),
        ("not 1", "not"),
        ("max(*[1, 2])", "plain values"),
        ("round(2.5, ndigits=1)", "plain values"),
        ("import os", "not an arithmetic expression"),
        ("x = 1", "not an arithmetic expression"),
        ("2 +", "not an arithmetic expression"),
        ("", "empty"),
        ("``", "empty"),
        ("sqrt", "is a function"),
        ("pi(2)", "is a constant"),
        ("sqrt(1, 2)", "takes 1 argument"),
        ("min()", "takes 1 to 50"),
        ("1 / 0", "division by zero"),
        ("5 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("sqrt(-1)", "not a real number"),
        ("(-8) ** (1/3)", "not a real number"),
        ("log(0)", "greater than 0"),
        ("log(8, 1)", "base"),
        ("log10(-1)", "greater than 0"),
        ("factorial(-1)", "0 and up"),
        ("factorial(2.5)", "whole number"),
        ("round(1.5, 99)", "digits"),
        ("exp(1000)", "too large"),
        ("1e999", "too large"),
        ("1e308 * 10", "too large"),
        ("10 ** 400 / 3", "too large"),
        ("sin(10 ** 400)", "too large"),
    ],
)
def test_refusals_say_why(expression: str, reason_part: str) -> None:
    error = refused_quickly(expression)
    assert reason_part in error.reason
    assert error.expression == expression
    assert isinstance(error, LocalchainError) and isinstance(error, ValueError)


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9",
        "9 ^ 9 ^ 9",
        "10 ** 10 ** 10",
        "2 ** 100000",
        "(10 ** 999) * (10 ** 999)",
        "factorial(100000)",
        "factorial(10 ** 100)",
        "factorial(factorial(20))",
        "1.0001 ** (10 ** 100)",
        "(" * 300 + "1" + ")" * 300,
        "-" * 300 + "1",
        "sqrt(" * 60 + "2" + ")" * 60,
        "1+" * 300 + "1",
        "1" * (MAX_INPUT_CHARS + 1),
        "1 + " * 2000 + "1",
    ],
)
def test_resource_bombs_are_refused_before_computing(expression: str) -> None:
    error = refused_quickly(expression)
    assert any(word in error.reason for word in ("digits", "too large", "nested", "longer than")), (
        error.reason
    )


@pytest.mark.parametrize(
    "expression",
    [
        "a" * 300 + "(," * 99,
        "abcdefghij(" * 40 + ",",
        "1%" * 249,
        "a" * 499 + "%",
        ("1" * 20 + "a%") * 22,
        "1" + " " * 497 + "%",
        "(1)%" * 120,
        "f(" * 30 + "1" + ")%" * 30,
        "1," * 249,
        "1,000" * 100,
        "`" * 250 + "1" + "`" * 249,
        "=" * 499 + "1",
        " x " * 166,
    ],
)
def test_pathological_text_is_handled_quickly(expression: str) -> None:
    outcome = finishes_quickly(expression[:MAX_INPUT_CHARS])
    assert "value" in outcome or isinstance(outcome.get("error"), CalculatorError), outcome


def test_the_limits_still_allow_big_honest_numbers() -> None:
    assert evaluate("2 ** 1000") == 2**1000
    assert evaluate("factorial(100)") == math.factorial(100)
    assert evaluate("(" * 20 + "1" + ")" * 20) == 1


def test_error_message_names_the_expression_and_is_cut_when_long() -> None:
    error = refused_quickly("1/0")
    assert str(error) == "cannot calculate '1/0': division by zero is undefined"
    long_error = refused_quickly("1 + " * 200 + "x")
    assert len(str(long_error)) < 600 and "..." in str(long_error)


def test_no_eval_exec_or_third_party_evaluator_in_the_source() -> None:
    """The safety rule, checked on the code itself: no way to execute text is reachable."""
    forbidden_calls = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals"}
    forbidden_modules = {"numexpr", "sympy", "asteval", "simpleeval", "builtins"}
    for path in (TOOLS_DIR / "calculator.py", TOOLS_DIR / "_expression_text.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_calls, f"{path.name}: {node.func.id}()"
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
                assert not names & forbidden_modules, f"{path.name}: import {names}"
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in forbidden_modules, path.name


# --- the tool ----------------------------------------------------------------------------


def test_tool_interface() -> None:
    tool = Calculator()
    assert tool.name == "calculator"
    assert "15% of 840" in tool.description
    assert list(tool.args) == ["expression"]
    assert tool.invoke("15% of 840") == "126"
    assert tool.invoke({"expression": "sqrt(2) * 3"}) == "4.242640687"
    assert tool.invoke("2 ** 100") == str(2**100)


def test_tool_errors_become_observations_not_crashes() -> None:
    tool = Calculator()
    assert tool.invoke("1/0") == "cannot calculate '1/0': division by zero is undefined"
    assert "'_'" in tool.invoke("__import__('os')")
    assert "more than 1000 digits" in tool.invoke("9**9**9")
    assert "one argument" in tool.invoke({"expr": "1 + 1"})


def test_tool_call_error_is_marked_as_error() -> None:
    call = {"name": "calculator", "args": {"expression": "1/0"}, "id": "c1", "type": "tool_call"}
    message = Calculator().invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert "division by zero" in message.content
    ok = Calculator().invoke({**call, "args": {"expression": "6 * 7"}})
    assert ok.status == "success" and ok.content == "42"


def test_tool_can_raise_instead() -> None:
    with pytest.raises(ToolException, match="division by zero") as info:
        Calculator(handle_tool_error=False).invoke("1/0")
    assert isinstance(info.value.__cause__, CalculatorError)


async def test_tool_async() -> None:
    assert await Calculator().ainvoke("2 + 2") == "4"


# --- fuzzing -----------------------------------------------------------------------------

ORACLE_FUNCTIONS = {
    "abs": abs,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "log": math.log,
    "log10": math.log10,
    "min": min,
    "max": max,
    "pi": math.pi,
    "e": math.e,
}


def _number_text(value: int | float) -> str:
    return repr(value)


numbers = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False).map(
        lambda value: round(value, 3)
    ),
    st.sampled_from(["pi", "e"]),
).map(lambda value: value if isinstance(value, str) else _number_text(value))


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    power = st.tuples(children, st.integers(0, 4)).map(lambda t: f"({t[0]}) ** {t[1]}")
    negative = children.map(lambda child: f"-{child}")
    unary_function = st.tuples(
        st.sampled_from(["abs", "sqrt", "exp", "sin", "cos", "tan", "log", "log10"]), children
    ).map(lambda t: f"{t[0]}({t[1]})")
    extremum = st.tuples(
        st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)
    ).map(lambda t: f"{t[0]}({', '.join(t[1])})")
    return st.one_of(binary, power, negative, unary_function, extremum)


safe_expressions = st.recursive(numbers, _extend, max_leaves=10)
LIMIT_WORDS = ("digits", "too large", "not a number")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(safe_expressions)
def test_agrees_with_python_on_safe_arithmetic(expression: str) -> None:
    try:
        expected = eval(expression, {"__builtins__": {}}, ORACLE_FUNCTIONS)  # noqa: S307 - oracle
    except (ZeroDivisionError, OverflowError, ValueError):
        with pytest.raises(CalculatorError):
            evaluate(expression)
        return
    if isinstance(expected, complex) or not math.isfinite(expected):
        with pytest.raises(CalculatorError):
            evaluate(expression)
        return
    try:
        actual = evaluate(expression)
    except CalculatorError as err:
        # The only allowed disagreement: the calculator's size limits (on every
        # intermediate value) refuse what Python computes regardless.
        assert any(word in err.reason for word in LIMIT_WORDS), (expression, err.reason)
        return
    assert type(actual) is type(expected), expression
    assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), expression


HOSTILE = [
    "__import__('os')",
    "__builtins__",
    "().__class__",
    "(1).real",
    "pi.real",
    "lambda: 1",
    "(lambda: 1)()",
    "[1][0]",
    "[i for i in (1,)]",
    "{i for i in (1,)}",
    "(i for i in (1,))",
    "'a'",
    "b'a'",
    "f'{1}'",
    "open('x')",
    "eval('1')",
    "exec('1')",
    "compile('1', '', 'eval')",
    "getattr(1, 'real')",
    "globals()",
    "vars()",
    "os",
    "sys",
    "self",
    "1j",
    "True",
    "None",
    "...",
    "(a := 1)",
    "1 if 1 else 0",
    "1 < 2",
    "1 or 2",
    "~1",
    "1 << 2",
    "9**9**9",
    "factorial(10**6)",
    "sqrt(-1)",
    "1/0",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    safe=safe_expressions,
    hostile=st.sampled_from(HOSTILE),
    shape=st.sampled_from(["{s} + {h}", "{h} * {s}", "sqrt({h})", "max({s}, {h})", "-({h})"]),
)
def test_hostile_parts_are_refused_anywhere(safe: str, hostile: str, shape: str) -> None:
    expression = shape.format(s=safe, h=hostile)
    if len(expression) > MAX_INPUT_CHARS:
        expression = shape.format(s="1", h=hostile)
    with pytest.raises(CalculatorError):
        evaluate(expression)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet="0123456789+-*/%^().,_ xe×=`'\"[]{}:;!<>&|~@ofpisqrtmaxlgn", max_size=80),
    )
)
def test_any_text_gives_a_number_or_a_calculator_error(text: str) -> None:
    try:
        result = evaluate(text, units=False)
    except CalculatorError:
        return
    assert type(result) in (int, float)
    assert not isinstance(result, float) or math.isfinite(result)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=MAX_INPUT_CHARS + 1, max_size=MAX_INPUT_CHARS + 200))
def test_over_long_input_is_refused(text: str) -> None:
    with pytest.raises(CalculatorError, match="longer than"):
        evaluate(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12))
def test_thousands_separators(value: int) -> None:
    assert evaluate(f"{value:,}") == value
    assert evaluate(f"{value:,} + 1") == value + 1


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(min_value=0, max_value=300),
    amount=st.integers(min_value=0, max_value=10**7),
)
def test_percent_conventions(rate: int, amount: int) -> None:
    assert evaluate(f"{rate}% of {amount}") == pytest.approx(rate / 100 * amount)
    assert evaluate(f"{amount} * {rate}%") == pytest.approx(amount * rate / 100)
    assert evaluate(f"{amount} - {rate}%") == pytest.approx(amount * (1 - rate / 100))
    assert evaluate(f"{amount} + {rate}%") == pytest.approx(amount * (1 + rate / 100))
    if rate:
        assert evaluate(f"{amount} % {rate}") == amount % rate
