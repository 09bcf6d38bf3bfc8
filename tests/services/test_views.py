"""The gateway's read models, folded from the events the real core emits."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.commands import CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.engine import Exchange
from exchange.core.events import BalancesChanged, Event, LevelChanged, TradeExecuted
from exchange.core.markets import default_config
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.services.views import CANCELLED, FILLED, NEW, PARTIALLY_FILLED, OrderView, Views

CONFIG = default_config()
MINUTE_NS = 60 * 10**9


class Feed:
    """Run commands through the core and fold every event as the gateway would."""

    def __init__(self) -> None:
        self.exchange = Exchange(CONFIG)
        self.views = Views(CONFIG)
        self.seq = 0

    def __call__(self, cmd: Any) -> list[Event]:
        self.seq += 1
        events = self.exchange.execute(cmd.replace(seq=self.seq))
        for event in events:
            if isinstance(event, LevelChanged):
                self.views.apply_market(event)
            elif isinstance(event, TradeExecuted):
                self.views.apply_market(event)
                for user in {event.maker_user, event.taker_user}:
                    self.views.apply_user(user, event)
            else:
                self.views.apply_user(event.user, event)
        return events


def limit(order_id: int, user: int, side: Side, price: int, qty: int, ts: int = 0,
          tif: TimeInForce = TimeInForce.GTC) -> PlaceOrder:
    return PlaceOrder(0, ts, order_id, user, "COIN-USD", side, OrderType.LIMIT, tif, price, qty)


def test_an_order_goes_from_new_to_partially_filled_to_filled() -> None:
    feed = Feed()
    feed(OpenAccount(0, 0, 1))
    feed(OpenAccount(0, 0, 2))
    feed(limit(10, 1, Side.SELL, 400, 30_000, ts=5 * MINUTE_NS))
    alice = feed.views.users[1]
    assert alice.opened and alice.open[10].status == NEW
    feed(limit(11, 2, Side.BUY, 500, 10_000, ts=5 * MINUTE_NS + 1))
    assert alice.open[10].status == PARTIALLY_FILLED
    assert alice.open[10].filled == 10_000 and alice.open[10].filled_quote == 4_000_000
    bob = feed.views.users[2]
    assert not bob.open and bob.closed[0].status == FILLED and bob.closed[0].order_id == 11
    feed(limit(12, 2, Side.BUY, 400, 20_000, ts=6 * MINUTE_NS))
    assert not alice.open and alice.closed[0].status == FILLED
    # Fills, newest first: Alice was the maker twice, Bob the taker twice.
    assert [(f[0], f[2], f[8]) for f in alice.fills] == [(2, 10, True), (1, 10, True)]
    assert [(f[0], f[2], f[8]) for f in bob.fills] == [(2, 12, False), (1, 11, False)]
    market = feed.views.markets["COIN-USD"]
    assert market.bids == {} and market.asks == {}
    assert [t[0] for t in market.trades] == [2, 1]


def test_reduce_and_cancel_show_in_the_order() -> None:
    feed = Feed()
    feed(OpenAccount(0, 0, 1))
    feed(limit(10, 1, Side.BUY, 400, 30_000))
    feed(ReduceOrder(0, 0, 1, 10, 10_000))
    order = feed.views.users[1].open[10]
    assert order.qty == 20_000
    assert feed.views.markets["COIN-USD"].bids == {400: 20_000}
    feed(CancelOrder(0, 0, 1, 10))
    closed = feed.views.users[1].closed[0]
    assert closed.status == CANCELLED and closed.reason == 1  # CancelReason.USER
    assert feed.views.markets["COIN-USD"].bids == {}


def test_candles_split_volume_by_taker_side_and_roll_over_per_interval() -> None:
    feed = Feed()
    for user in (1, 2):
        feed(OpenAccount(0, 0, user))
    feed(limit(1, 1, Side.SELL, 400, 10_000, ts=0))
    feed(limit(2, 2, Side.BUY, 400, 10_000, ts=30 * 10**9))  # a buy takes at 4.00, minute 0
    feed(limit(3, 2, Side.BUY, 390, 20_000, ts=61 * 10**9))
    feed(limit(4, 1, Side.SELL, 380, 20_000, ts=62 * 10**9))  # a sell takes at 3.90, minute 1
    market = feed.views.markets["COIN-USD"]
    minutes = list(market.candles[60])
    assert [c[0] for c in minutes] == [0, 60]
    assert minutes[0][7:9] == [10_000, 10_000 * 400]  # quote_scale is 1
    assert minutes[0][9:11] == [0, 0]
    assert minutes[1][7:9] == [0, 0] and minutes[1][9:11] == [20_000, 20_000 * 390]
    hours = list(market.candles[3600])
    assert len(hours) == 1 and hours[0][1:5] == [400, 400, 390, 390] and hours[0][11] == 2
    ticker = market.ticker(now_ms=120_000)
    assert ticker["last"] == 390 and ticker["open"] == 400 and ticker["trades"] == 2
    assert market.ticker(now_ms=2 * 86_400_000)["trades"] == 0  # a day later: nothing


def test_balances_come_from_risk_reports() -> None:
    views = Views(CONFIG)
    views.apply_user(7, BalancesChanged(1, 7, (("USD", 5, 6), ("COIN", 7, 8))))
    assert views.users[7].balances == {"USD": (5, 6), "COIN": (7, 8)}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(Side), st.integers(395, 405),
                          st.integers(1, 5), st.booleans()), max_size=60))
def test_views_match_the_core_and_survive_a_snapshot(
    orders: list[tuple[int, Side, int, int, bool]],
) -> None:
    feed = Feed()
    for user in range(1, 5):
        feed(OpenAccount(0, 0, user))
    for n, (user, side, price, lots, cancel) in enumerate(orders, start=100):
        feed(limit(n, user, side, price, lots * 10_000, ts=n * MINUTE_NS // 7))
        if cancel:
            feed(CancelOrder(0, 0, user, n - 1))
    book = feed.exchange.books["COIN-USD"]
    market = feed.views.markets["COIN-USD"]
    assert market.depth(Side.BUY, 100) == book.depth(Side.BUY, 100)
    assert market.depth(Side.SELL, 100) == book.depth(Side.SELL, 100)
    for user in range(1, 5):
        resting = {cmd.order_id for cmd, _, _ in feed.exchange.ledger.open_orders(user)}
        assert set(feed.views.users[user].open) == resting
    again = Views.from_state(CONFIG, feed.views.to_state())
    assert again.to_state() == feed.views.to_state()


def test_an_order_view_stored_before_stop_orders_loads_as_one_without_a_stop() -> None:
    # As a gateway stored it before stop orders existed (15 fields).
    stored = ["a-one", 1796206077538, 15000, 15000000, "COIN-USD", 4, 1000, 20000, 0, 0, 2,
              "partially_filled", 1, 1, 1796206077546]
    order = OrderView.from_state(stored)
    assert (order.client_order_id, order.status, order.updated) == (
        "a-one", "partially_filled", 1796206077546)
    assert (order.stop_price, order.trigger, order.waiting) == (0, 0, False)
    assert order.to_state() == [*stored, 0, 0, False]
