"""Strict conversion between decimal strings at the edges and integer units inside.

A price or quantity crosses into the exchange once, here, and from then on is an `int`
counting units (ticks, lots, an asset's minor units). Parsing refuses anything a careful
human would not mean as a positive amount: floats, booleans, NaN, infinities, signs,
underscores, non-ASCII digits, exponents out of range, more decimals than the unit
allows, zero, and values past a maximum. Every error names the field it came from.
"""

import re
from decimal import Context, Decimal, InvalidOperation, localcontext

# Optional sign, digits with an optional fraction (or a bare fraction), optional exponent.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_MAX_TEXT = 64
# Digits of precision used while checking; far beyond any configured scale. A context
# of our own, passed to each operation: entering `localcontext()` per number cost more
# than the parse.
_PRECISION = 80
_EXACT = Context(prec=_PRECISION)


class InvalidNumber(ValueError):
    """A value at the edge is not an acceptable amount; `field` says which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def to_decimal(value: object, field: str) -> Decimal:
    """Read a decimal string (or an int) exactly, refusing floats and odd notations."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidNumber(field, f"expected a decimal string, got {type(value).__name__}")
    text = str(value)
    if len(text) > _MAX_TEXT:
        raise InvalidNumber(field, f"expected at most {_MAX_TEXT} characters")
    if not _NUMBER.fullmatch(text):
        raise InvalidNumber(field, f"expected a decimal number like '12.5', got {text!r}")
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        raise InvalidNumber(field, f"not a number: {text!r}") from None
    if number.adjusted() > 30:
        raise InvalidNumber(field, "too large")
    return number


def to_units(value: object, unit: Decimal, field: str, *, maximum: int) -> int:
    """Convert a positive decimal amount to a whole number of `unit`, at most `maximum`."""
    number = to_decimal(value, field)
    if number.is_signed():
        raise InvalidNumber(field, "must be positive")
    if not number:
        raise InvalidNumber(field, "must be greater than zero")
    units = _EXACT.divide(number, unit)
    if units != units.to_integral_value(context=_EXACT):
        raise InvalidNumber(field, f"must be a multiple of {unit.normalize():f}")
    if units > maximum:
        raise InvalidNumber(field, f"must be at most {format_units(maximum, unit)}")
    return int(units)


def format_units(units: int, unit: Decimal) -> str:
    """Render integer units as a plain decimal string with the unit's number of places."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = (Decimal(units) * unit).quantize(Decimal(1).scaleb(-decimal_places(unit)))
    return f"{value:f}"


def decimal_places(unit: Decimal) -> int:
    """Return how many decimals a unit such as Decimal('0.01') has."""
    return max(0, -unit.normalize().as_tuple().exponent)  # type: ignore[operator]
