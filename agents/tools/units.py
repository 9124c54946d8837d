"""Units for the calculator: names, quantities and conversions, through pint.

The calculator (:mod:`localchain.agents.tools.calculator`) parses an expression itself and
asks this module only two things: is this name a unit (:func:`unit_named`), and how does a
quantity convert or read (:func:`convert`, :func:`format_quantity`). pint never sees the
expression text, so nothing here parses or evaluates model output.

Currencies are units of their own kind, one dimension each (``USD``, ``EUR``, ...): they
multiply and divide like any unit, so ``1999 USD * 0.85 EUR/USD`` is ``1699.15 EUR``, but
no currency converts into another - the calculator knows no exchange rates and refuses to
invent one; the rate has to be written in the expression, from the question.

The registry loads on first use (pint's definitions take about half a second), so an agent
without unit questions does not pay for it.

Example:
    >>> from localchain.agents.tools.units import convert, format_quantity, unit_named
    >>> hours = unit_named("hours")
    >>> format_quantity(convert(7 * hours, unit_named("seconds")))
    '25200 s'
    >>> unit_named("at") is None and unit_named("foo") is None   # words, not units
    True
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

__all__ = [
    "COMMON_UNITS",
    "CURRENCIES",
    "MAX_UNIT_POWER",
    "UnitRefusal",
    "convert",
    "format_quantity",
    "is_quantity",
    "normalize_unit_words",
    "registry",
    "unit_named",
]

CURRENCIES: Final[dict[str, tuple[str, ...]]] = {
    "USD": ("dollar", "US_dollar"),
    "EUR": ("euro",),
    "GBP": ("pound_sterling",),
    "JPY": ("yen",),
    "CHF": ("swiss_franc",),
    "CAD": ("canadian_dollar",),
    "AUD": ("australian_dollar",),
    "CNY": ("yuan",),
    "INR": ("rupee",),
    "SEK": ("swedish_krona",),
    "NOK": ("norwegian_krone",),
    "DKK": ("danish_krone",),
    "PLN": ("zloty",),
    "MXN": ("mexican_peso",),
    "BRL": ("real_brazilian",),
    "KRW": ("won",),
    "SGD": ("singapore_dollar",),
    "HKD": ("hong_kong_dollar",),
    "NZD": ("new_zealand_dollar",),
    "ZAR": ("rand",),
}
"""Currency codes the calculator knows (and their aliases): each a dimension of its own."""

COMMON_UNITS: Final[tuple[str, ...]] = (
    "seconds", "second", "s", "minutes", "minute", "min", "hours", "hour", "h",
    "days", "day", "weeks", "week", "years", "year",
    "mm", "cm", "m", "km", "meters", "metres", "kilometers", "kilometres",
    "inches", "inch", "feet", "foot", "ft", "yards", "miles", "mile",
    "mg", "g", "kg", "grams", "kilograms", "pounds", "pound", "lb", "ounces", "oz",
    "tonnes", "ml", "l", "liters", "litres", "milliliters", "gallons", "gallon",
    "km/h", "mph", "m/s", "degC", "degF", "kelvin",
)  # fmt: skip
"""Unit names the calculator's grammar always offers (others only when written in view)."""

MAX_UNIT_POWER: Final = 10
"""Largest power a quantity with units may be raised to (m ** 3 yes, m ** 1000 no)."""

# Words pint reads as units that, in a question, are English (or our own names).
_NOT_UNITS: Final = frozenset({"a", "at", "b", "c", "e", "are", "pi", "in", "to", "of", "per"})
_SINGLE_LETTER_UNITS: Final = frozenset({"m", "s", "g", "h", "l", "L", "t", "d", "K"})
_TEMPERATURE = re.compile(r"(?:\bdeg(?:rees?)?\s*|°\s*)(celsius|fahrenheit|c|f)\b", re.IGNORECASE)
_PER = re.compile(r"\s+per\s+", re.IGNORECASE)


class UnitRefusal(Exception):
    """A unit operation that cannot be done; the message is written for the model."""


@functools.cache
def registry() -> Any:
    """The pint unit registry, with the currencies, built once on first use."""
    import pint

    units = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for code, aliases in CURRENCIES.items():
        units.define(f"{code} = [currency_{code}] = _ = {' = '.join(aliases)}")
    return units


def is_quantity(value: object) -> bool:
    """Whether ``value`` is a pint quantity (a number with units)."""
    return type(value).__name__ == "Quantity" and hasattr(value, "magnitude")


@functools.lru_cache(maxsize=4096)
def unit_named(name: str) -> Any | None:
    """The pint unit called ``name`` (``hours``, ``km``, ``USD``), or None if it is none.

    English words pint also reads as units (``at``, ``are``, ``a``) and single letters
    other than m, s, g, h, l, L, t, d and K are not units here.

    Example:
        >>> str(unit_named("km")), unit_named("x")
        ('kilometer', None)
    """
    if not name or name in _NOT_UNITS or len(name) > 40:
        return None
    if len(name) == 1 and name not in _SINGLE_LETTER_UNITS:
        return None
    if not re.fullmatch(r"[A-Za-z][A-Za-z_]*", name):
        return None
    unit = None
    for spelling in dict.fromkeys([name, name.lower()]):  # "Celsius", "Kilometers"
        try:
            unit = registry().Unit(spelling)
            break
        except Exception:  # pint raises several kinds for a name it does not know  # noqa: BLE001
            continue
    if unit is None:
        return None
    if unit.dimensionless:  # "percent", "dozen", "pi": numbers, not units
        return None
    return unit


def normalize_unit_words(text: str) -> str:
    """Unit phrases written in words, as names: ``30 degrees Celsius`` -> ``30 degC``,
    ``°F`` -> ``degF``, ``km per hour`` -> ``km / hour``.

    Example:
        >>> normalize_unit_words("100 degrees Fahrenheit to °C")
        '100 degF to degC'
    """
    text = _TEMPERATURE.sub(lambda m: "deg" + m.group(1)[0].upper(), text)
    return _PER.sub(" / ", text)


def _dimension_text(value: Any) -> str:
    units = value.units if is_quantity(value) else value
    dims = str(getattr(units, "dimensionality", "")) or "a plain number"
    return f"{units} ({dims})" if str(units) else "a plain number"


def _is_currency(value: Any) -> bool:
    units = value.units if is_quantity(value) else value
    return "[currency_" in str(getattr(units, "dimensionality", ""))


def convert(quantity: Any, target: Any) -> Any:
    """``quantity`` in the units of ``target`` (a unit or a quantity); UnitRefusal when the
    units measure different things, and for currencies, which have no rates here.

    Example:
        >>> format_quantity(convert(30 * unit_named("degC"), unit_named("degF")))
        '86 °F'
    """
    import pint

    units = target.units if is_quantity(target) else target
    if not is_quantity(quantity):
        quantity = registry().Quantity(quantity)
    try:
        return quantity.to(units)
    except pint.DimensionalityError:
        if _is_currency(quantity) or _is_currency(units):
            raise UnitRefusal(
                f"the calculator knows no exchange rate from {quantity.units} to {units}; "
                "use the rate the question states, e.g. 100 USD * 0.92 EUR/USD"
            ) from None
        raise UnitRefusal(
            f"{_dimension_text(quantity)} cannot be converted to {_dimension_text(units)}: "
            "they measure different things"
        ) from None


def format_quantity(value: Any, number: Any = None) -> str:
    """A quantity for reading: the number, then the units' short names (``294 km``,
    ``1699.15 EUR``); a dimensionless result is just the number. ``number`` formats the
    magnitude (the calculator's ``format_number`` by default).

    Example:
        >>> km, h = unit_named("km"), unit_named("h")
        >>> format_quantity(84 * km / h * (3.5 * h))
        '294 km'
    """
    if number is None:
        from localchain.agents.tools.calculator import format_number as number
    if value.dimensionless:
        return number(value.to("").magnitude)
    simplified = value.to_reduced_units() if len(value.units._units) > 1 else value
    magnitude = simplified.magnitude
    text = f"{simplified.units:~P}"
    return f"{number(magnitude)} {text}".strip()
