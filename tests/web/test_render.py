"""Rendering integer units as decimal strings: exact, and the same as Decimal would say."""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from exchange.core.markets import COIN, USD, Asset, Market, make_market
from exchange.web.render import MarketFormat, Units

MARKETS = [make_market("COIN-USD", COIN, USD),
           make_market("BTC-EUR", Asset("BTC", 8), Asset("EUR", 2), tick="0.5", lot="0.02"),
           make_market("X-Y", Asset("X", 0), Asset("Y", 3), tick="25", lot="10")]


def decimal_average(fmt: MarketFormat, quote: int, lots: int) -> str:
    """The average price as Decimal arithmetic gives it, with four extra places."""
    market = fmt.market
    with localcontext() as ctx:
        ctx.prec = 80
        value = (Decimal(quote) * market.quote.unit) / (Decimal(lots) * market.lot)
        places = Decimal(1).scaleb(-(fmt.price.places + 4))
        text = f"{value.quantize(places, ROUND_HALF_EVEN):f}"
    return (text[:len(text) - 4] + text[len(text) - 4:].rstrip("0")).rstrip(".")


@given(st.sampled_from(MARKETS), st.integers(1, 10**12), st.integers(1, 10**15),
       st.integers(1, 10**6))
def test_the_average_price_is_the_decimal_one(market: Market, lots: int, ticks: int,
                                              spread: int) -> None:
    fmt = MarketFormat(market)
    # A quote amount that a set of fills at prices near `ticks` could have cost.
    quote = (ticks * lots + spread) * fmt.market.quote_scale
    assert fmt.average_price(quote, lots) == decimal_average(fmt, quote, lots)
    assert fmt.average_price(ticks * lots * fmt.market.quote_scale, lots) == fmt.price(ticks)
    assert fmt.average_price(quote, 0) is None


@given(st.sampled_from(["1", "0.01", "0.00000001", "0.5", "25", "0.02", "100"]),
       st.integers(-(10**20), 10**20))
def test_units_render_as_decimal_does(step: str, units: int) -> None:
    expected = Decimal(units) * Decimal(step).normalize()
    places = max(0, -Decimal(step).normalize().as_tuple().exponent)  # type: ignore[operator]
    assert Units(Decimal(step))(units) == f"{expected:.{places}f}"
