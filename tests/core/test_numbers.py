"""Strict parsing of decimal strings at the edge, and formatting back."""

from decimal import Decimal

import pytest

from exchange.core.markets import default_config
from exchange.core.numbers import InvalidNumber, format_units

MARKET = default_config().markets[0]  # COIN-USD: tick 0.01, lot 0.0001


@pytest.mark.parametrize(
    ("text", "ticks"),
    [("4", 400), ("4.0", 400), ("4.00", 400), ("+4", 400), ("0.01", 1), ("4e1", 4000),
     ("4.", 400), (".5", 50), ("1000000", 100_000_000), (7, 700)],
)
def test_prices_that_parse(text: object, ticks: int) -> None:
    assert MARKET.parse_price(text) == ticks


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "expected a decimal number"),
        ("nan", "expected a decimal number"),
        ("Infinity", "expected a decimal number"),
        ("-inf", "expected a decimal number"),
        ("-4", "must be positive"),
        ("-0", "must be positive"),
        ("0", "greater than zero"),
        ("0.000", "greater than zero"),
        ("4.001", "multiple of 0.01"),
        ("1e-9", "multiple of 0.01"),
        ("1e99", "too large"),
        ("1e9999", "too large"),
        ("1000000.01", "at most 1000000.00"),
        ("", "expected a decimal number"),
        (" 4", "expected a decimal number"),
        ("4 ", "expected a decimal number"),
        ("1_000", "expected a decimal number"),
        ("0x10", "expected a decimal number"),
        ("٤", "expected a decimal number"),  # an Arabic-Indic digit four
        ("4,5", "expected a decimal number"),
        ("1" * 65, "at most 64 characters"),
        (4.0, "got float"),
        (True, "got bool"),
        (None, "got NoneType"),
        (["4"], "got list"),
        ({"v": 4}, "got dict"),
        (-4, "must be positive"),
        (0, "greater than zero"),
    ],
)
def test_prices_that_are_refused_name_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        MARKET.parse_price(value)
    assert caught.value.field == "price"
    assert message in str(caught.value)


def test_quantity_limits_and_lot() -> None:
    assert MARKET.parse_qty("0.0001") == 1
    assert MARKET.parse_qty("1000000") == 10_000_000_000
    for bad, message in [("0.00001", "multiple of 0.0001"), ("1000000.0001", "at most"),
                         ("0", "greater than zero")]:
        with pytest.raises(InvalidNumber, match=message):
            MARKET.parse_qty(bad, "amount")


def test_minimum_order_size_is_enforced() -> None:
    market = default_config().markets[0]
    strict = type(market)(market.symbol, market.base, market.quote, market.tick, market.lot,
                          min_qty=100, max_qty=market.max_qty, max_price=market.max_price)
    with pytest.raises(InvalidNumber, match=r"at least 0\.0100"):
        strict.parse_qty("0.0099")


def test_format_round_trips() -> None:
    assert format_units(400, Decimal("0.01")) == "4.00"
    assert format_units(1, Decimal("0.0001")) == "0.0001"
    assert format_units(12, Decimal("1")) == "12"
    assert MARKET.parse_price(format_units(123456, MARKET.tick)) == 123456
