"""Markets refuse scales that cannot settle exactly; configuration is checked up front."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.core.markets import (
    USD,
    Asset,
    Config,
    Market,
    default_config,
    fee_ppm,
    make_market,
)
from exchange.core.numbers import InvalidNumber

COIN2 = Asset("COIN", 2)


def test_default_market_scales() -> None:
    market = default_config().markets[0]
    assert (market.base_scale, market.quote_scale) == (10_000, 1)
    assert default_config().grants == (("USD", 1_000_000_000), ("COIN", 10_000_000_000))


def test_a_lot_finer_than_the_base_asset_is_refused() -> None:
    with pytest.raises(ValueError, match="lot"):
        make_market("COIN-USD", COIN2, USD, lot="0.001")


def test_a_tick_times_lot_finer_than_the_quote_asset_is_refused() -> None:
    cents = Asset("USD", 2)
    with pytest.raises(ValueError, match="tick x lot"):
        make_market("COIN-USD", COIN2, cents, tick="0.01", lot="0.01")


def test_sizes_and_fees_are_checked() -> None:
    with pytest.raises(ValueError, match="min_qty"):
        Market("X", COIN2, USD, Decimal("0.01"), Decimal("0.01"), 5, 4, 100)
    with pytest.raises(ValueError, match="fee"):
        Market("X", COIN2, USD, Decimal("0.01"), Decimal("0.01"), 1, 4, 100, 200_000)


def test_a_market_whose_orders_could_overflow_64_bits_is_refused() -> None:
    coin = Asset("COIN", 8)
    with pytest.raises(ValueError, match="too large"):  # 10^10 ticks x 10^10 lots
        make_market("ETH-COIN", Asset("ETH", 8), coin, tick="0.0001", lot="0.0001")
    assert make_market("ETH-COIN", Asset("ETH", 8), coin, tick="0.0001", lot="0.0001",
                       max_price="10000").quote_scale == 1


@given(st.integers(0, (1 << 62) - 1), st.integers(0, 100_000))
def test_the_fee_is_the_exact_floor_of_notional_times_rate(notional: int, rate: int) -> None:
    assert Market.fee(notional, rate) == notional * rate // 1_000_000


def test_fee_rates() -> None:
    assert fee_ppm("0.001") == 1000
    assert fee_ppm("0") == 0
    for bad in ("-0.001", "0.0000001", "0.5", "x"):
        with pytest.raises(InvalidNumber):
            fee_ppm(bad)


def test_config_checks_assets_markets_and_grants() -> None:
    market = make_market("COIN-USD", COIN2, USD, lot="0.01")
    with pytest.raises(ValueError, match="unique"):
        Config((USD, USD), (), ())
    with pytest.raises(ValueError, match="two configured assets"):
        Config((USD,), (market,), ())
    with pytest.raises(ValueError, match="grant"):
        Config((USD, COIN2), (market,), (("EUR", 1),))
    with pytest.raises(ValueError, match="symbols"):
        Config((USD, COIN2), (market, market), ())
    assert Config((USD, COIN2), (market,), ()).market("COIN-USD") is market
    with pytest.raises(KeyError):
        Config((USD, COIN2), (market,), ()).market("ETH-USD")
