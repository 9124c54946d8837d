"""The calculator's units: quantities, conversions, refusals, bounds, and fuzzing."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localchain.agents.grammar import InputView, expression_grammar
from localchain.agents.tools import Calculator
from localchain.agents.tools.calculator import evaluate, format_result, unit_words
from localchain.agents.tools.units import is_quantity, unit_named
from localchain.errors import CalculatorError


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("7 hours to seconds", "25200 s"),
        ("2.5 days in minutes", "3600 min"),
        ("84 km/h * 3.5 h", "294 km"),
        ("84 km per h * 3.5 h", "294 km"),
        ("3 feet to cm", "91.44 cm"),
        ("5 pounds to ounces", "80 oz"),
        ("1.75 liters to ml", "1750 ml"),
        ("3 weeks to hours", "504 h"),
        ("30 degrees Celsius to Fahrenheit", "86 °F"),
        ("100 degF to degC", "37.77777778 °C"),
        ("1999 USD * 0.85 EUR/USD", "1699.15 EUR"),
        ("15% of 60 USD", "9 USD"),
        ("60 USD - 15%", "51 USD"),
        ("3 km / 500 m", "6"),
        ("(2 + 3) km to m", "5000 m"),
        ("sqrt(16 m**2)", "4 m"),
        ("max(3 km, 2000 m)", "3 km"),
        ("2 ** 10", "1024"),
    ],
)
def test_quantities_and_conversions(expression: str, shown: str) -> None:
    assert format_result(evaluate(expression)) == shown
    assert Calculator().invoke(expression) == shown


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("7 seconds to kilograms", "cannot be converted to kilogram"),
        ("3 m + 2 s", "measure different things"),
        ("1999 USD to EUR", "knows no exchange rate"),
        ("100 EUR + 5 USD", "knows no exchange rate"),
        ("5 USD + 3", "measure different things"),
        ("30 degC + 5", "measure different things"),
        ("factorial(5 m)", "takes plain numbers"),
        ("2 ** (3 m)", "exponent must be a plain number"),
        ("m ** 1000", "at most the 10th power"),
        ("10**400 km", "too large"),
        ("7 hours to pi", "write the units"),
        ("at + 1", "unknown name 'at'"),
    ],
)
def test_refusals_say_why(expression: str, reason: str) -> None:
    with pytest.raises(CalculatorError, match=reason):
        evaluate(expression)
    assert reason.split("'")[0] in Calculator().invoke(expression)


def test_plain_expressions_stay_plain_numbers() -> None:
    assert evaluate("15% of 840") == 126.0
    assert type(evaluate("17 * 23")) is int
    assert not is_quantity(evaluate("3 km / 500 m"))


def test_without_units_names_are_refused_as_before() -> None:
    with pytest.raises(CalculatorError, match="unknown name 'hours'"):
        evaluate("7 * hours", units=False)
    plain = Calculator(units=False)
    assert "7 hours to seconds" not in plain.description
    assert "units" in Calculator().description
    assert "cannot calculate" in plain.invoke("7 hours to seconds")
    assert plain.input_grammar(InputView(["7 hours"])) == expression_grammar(["7 hours"])


def test_english_words_and_python_words_are_not_units() -> None:
    for word in ("at", "a", "are", "in", "to", "x", "foo", "if", "for"):
        assert unit_named(word) is None, word
    assert str(unit_named("Celsius")) == "degree_Celsius"
    with pytest.raises(CalculatorError, match="comprehensions"):
        evaluate("[x for x in range(9)]")
    with pytest.raises(CalculatorError, match="complex"):
        evaluate("1j")


def test_grammar_offers_units_in_view_and_common_ones_but_no_unstated_currency() -> None:
    view = InputView(["Convert 1200 CHF to USD at 1.13 USD for 1 CHF."])
    grammar = Calculator().input_grammar(view)
    assert grammar is not None
    assert '"CHF"' in grammar and '"USD"' in grammar and '"seconds"' in grammar
    assert '"EUR"' not in grammar and '" to "' not in grammar  # conversion is ("to" | "in")
    assert '"to"' in grammar
    assert "EUR" not in unit_words(["How many seconds are in 7 hours?"])


def test_huge_quantities_are_refused_quickly() -> None:
    for expression in ("9**9**9 km", "10**300 km to m", "(10**200 m) ** 5", "km ** 99"):
        started = time.perf_counter()
        with pytest.raises(CalculatorError):
            evaluate(expression)
        assert time.perf_counter() - started < 1.0


_UNIT_WORDS = st.sampled_from(["km", "m", "h", "s", "hours", "USD", "EUR", "degC", "kg", "min"])
_PIECES = st.one_of(
    _UNIT_WORDS,
    st.sampled_from([" to ", " in ", " * ", " / ", " + ", " - ", " ** ", "(", ")", "%", " of "]),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:g}"),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map(" ".join))
def test_any_unit_text_gives_a_finite_value_or_a_calculator_error(text: str) -> None:
    try:
        result = evaluate(text)
    except CalculatorError:
        return
    magnitude = result.magnitude if is_quantity(result) else result
    assert isinstance(magnitude, (int, float)) and not isinstance(magnitude, bool)
    assert math.isfinite(magnitude)
    format_result(result)  # every accepted result can be shown


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789 kmhsUSDEURto*/+-().%^e", max_size=60))
def test_arbitrary_characters_never_crash(text: str) -> None:
    try:
        format_result(evaluate(text))
    except CalculatorError:
        pass
