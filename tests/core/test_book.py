"""Examples for every order type and edge of matching, through risk and the book together."""

from exchange.core.events import (
    CancelRejected,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from exchange.core.markets import default_config
from exchange.core.types import CancelReason, Reject, SelfTrade, Side, TimeInForce
from tests.core.sim import Sim, kinds

BUY, SELL = Side.BUY, Side.SELL


def test_exact_fill_trades_once_and_both_orders_are_done() -> None:
    sim = Sim()
    sim.order(1, "sell", "3", "4")
    events = sim.order(2, "buy", "3", "4")
    assert kinds(events) == ["OrderAccepted", "TradeExecuted", "OrderDone", "OrderDone"]
    assert sim.trades() == [("4", "3", 1, 2)]
    assert sim.depth(BUY) == [] and sim.depth(SELL) == []
    assert sim.balance(1, "USD") == ("1012", "0") and sim.balance(1, "COIN") == ("97", "0")
    assert sim.balance(2, "USD") == ("988", "0") and sim.balance(2, "COIN") == ("103", "0")


def test_partial_fill_leaves_the_rest_of_the_maker_resting() -> None:
    sim = Sim()
    sim.order(1, "sell", "5", "4")
    events = sim.order(2, "buy", "3", "4")
    assert kinds(events) == ["OrderAccepted", "TradeExecuted", "OrderDone"]
    assert sim.depth(SELL) == [("4", "2")]
    assert sim.balance(1, "COIN") == ("95", "2")


def test_partial_fill_of_the_taker_rests_its_remainder() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(2, "buy", "3", "4")
    assert sim.depth(BUY) == [("4", "2")] and sim.depth(SELL) == []
    assert sim.balance(2, "USD") == ("988", "8")


def test_sweep_takes_levels_best_first_and_rests_nothing_past_its_limit() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "1", "4")
    sim.order(1, "sell", "2", "5")
    sim.order(3, "sell", "3", "6")
    sim.order(3, "sell", "1", "7")
    events = sim.order(2, "buy", "5", "6")
    assert sim.trades(events) == [("4", "1", 1, 5), ("5", "2", 2, 5), ("6", "2", 3, 5)]
    assert sim.depth(SELL) == [("6", "1"), ("7", "1")]
    levels = [(e.price, e.qty) for e in events if isinstance(e, LevelChanged)]
    assert levels == [(400, 0), (500, 0), (600, 10000)]


def test_time_priority_within_a_level() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "1", "4")  # id 1
    sim.order(3, "sell", "1", "4")  # id 2
    events = sim.order(2, "buy", "1", "4")
    assert sim.trades(events) == [("4", "1", 1, 3)]


def test_buy_at_5_meets_a_resting_sell_at_4_and_trades_at_4() -> None:
    sim = Sim()
    sim.order(1, "sell", "2", "4")
    events = sim.order(2, "buy", "2", "5")
    assert sim.trades(events) == [("4", "2", 1, 2)]
    # The hold for 2 at 5 was 10; 8 was paid and the difference released at once.
    assert sim.balance(2, "USD") == ("992", "0")


def test_buy_partly_filled_below_its_limit_keeps_holding_only_the_rest() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(2, "buy", "3", "5")
    assert sim.balance(2, "USD") == ("986", "10")


def test_fill_or_kill_that_cannot_fill_is_rejected_and_changes_nothing() -> None:
    sim = Sim()
    sim.order(1, "sell", "2", "4")
    before = sim.exchange.state_hash()
    events = sim.order(2, "buy", "3", "4", tif=TimeInForce.FOK)
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.FOK_CANNOT_FILL
    assert len(events) == 1
    assert sim.exchange.state_hash() == before


def test_fill_or_kill_with_an_empty_side_is_rejected() -> None:
    sim = Sim()
    events = sim.order(2, "buy", "3", "4", tif=TimeInForce.FOK)
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.FOK_CANNOT_FILL
    assert sim.balance(2, "USD") == ("1000", "0")


def test_fill_or_kill_that_can_fill_fills_completely() -> None:
    sim = Sim()
    sim.order(1, "sell", "2", "4")
    sim.order(1, "sell", "2", "5")
    events = sim.order(2, "buy", "3", "5", tif=TimeInForce.FOK)
    assert sim.trades(events) == [("4", "2", 1, 3), ("5", "1", 2, 3)]
    assert kinds(events)[-1] == "OrderDone"


def test_fill_or_kill_does_not_count_own_orders_it_may_not_take() -> None:
    sim = Sim()
    sim.order(2, "sell", "2", "4")
    sim.order(1, "sell", "2", "4")
    events = sim.order(2, "buy", "2", "4", tif=TimeInForce.FOK)
    assert isinstance(events[0], OrderRejected)
    events = sim.order(2, "buy", "2", "4", tif=TimeInForce.FOK, stp=SelfTrade.CANCEL_MAKER)
    assert sim.trades(events) == [("4", "2", 2, 4)]


def test_post_only_that_would_take_is_rejected() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    events = sim.order(2, "buy", "1", "4", tif=TimeInForce.POST_ONLY)
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is Reject.POST_ONLY_WOULD_TAKE
    assert sim.balance(2, "USD") == ("1000", "0")


def test_post_only_that_does_not_cross_rests() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    events = sim.order(2, "buy", "1", "3.99", tif=TimeInForce.POST_ONLY)
    assert kinds(events) == ["OrderAccepted"]
    assert sim.depth(BUY) == [("3.99", "1")]


def test_immediate_or_cancel_cancels_what_it_cannot_fill() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    events = sim.order(2, "buy", "3", "4", tif=TimeInForce.IOC)
    assert kinds(events) == ["OrderAccepted", "TradeExecuted", "OrderDone", "OrderCancelled"]
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancelReason.EXPIRED and cancelled.qty == 20000
    assert sim.depth(BUY) == []
    assert sim.balance(2, "USD") == ("996", "0")


def test_market_sell_sweeps_the_bids() -> None:
    sim = Sim()
    sim.order(1, "buy", "1", "5")
    sim.order(1, "buy", "1", "4")
    events = sim.order(2, "sell", "2")
    assert sim.trades(events) == [("5", "1", 1, 3), ("4", "1", 2, 3)]
    assert sim.balance(2, "USD") == ("1009", "0") and sim.balance(2, "COIN") == ("98", "0")


def test_market_buy_by_quantity_releases_what_it_did_not_spend() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(1, "sell", "1", "6")
    events = sim.order(2, "buy", "2")
    assert sim.trades(events) == [("4", "1", 1, 3), ("6", "1", 2, 3)]
    assert kinds(events)[-1] == "OrderDone"
    assert sim.balance(2, "USD") == ("990", "0")
    # Risk let the book spend all the buyer had; the order still shows what was asked.
    accepted = events[0]
    assert isinstance(accepted, OrderAccepted) and (accepted.qty, accepted.quote_qty) == (
        20_000, 0)


def test_market_buy_by_quote_budget_spends_at_most_the_budget() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(1, "sell", "10", "5")
    events = sim.order(2, "buy", None, quote="10")
    # 1 at 4, then 6 / 5 = 1.2 lots of COIN at 5.
    assert sim.trades(events) == [("4", "1", 1, 3), ("5", "1.2", 2, 3)]
    assert kinds(events)[-1] == "OrderDone"
    assert sim.balance(2, "USD") == ("990", "0") and sim.balance(2, "COIN") == ("102.2", "0")


def test_market_order_on_an_empty_book_expires_and_releases_its_hold() -> None:
    sim = Sim()
    events = sim.order(2, "buy", "1")
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert sim.balance(2, "USD") == ("1000", "0")


def test_market_buy_by_quantity_stops_when_its_money_runs_out() -> None:
    sim = Sim()
    sim.order(1, "sell", "100", "20")
    events = sim.order(2, "buy", "60")
    assert sim.trades(events) == [("20", "50", 1, 2)]
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled) and cancelled.qty == 10 * 10_000
    assert sim.balance(2, "USD") == ("0", "0")


def test_self_trade_cancels_the_incoming_remainder_by_default() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    events = sim.order(1, "buy", "1", "4")
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].reason is CancelReason.SELF_TRADE  # type: ignore[union-attr]
    assert sim.depth(SELL) == [("4", "1")] and sim.depth(BUY) == []
    assert sim.balance(1, "USD") == ("1000", "0")


def test_self_trade_trades_with_others_first_then_stops() -> None:
    sim = Sim()
    sim.order(2, "sell", "1", "4")
    sim.order(1, "sell", "1", "4")
    events = sim.order(1, "buy", "3", "4")
    assert sim.trades(events) == [("4", "1", 1, 3)]
    assert kinds(events)[-1] == "OrderCancelled"
    assert sim.depth(SELL) == [("4", "1")]


def test_self_trade_cancel_maker_removes_the_resting_order_and_goes_on() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(2, "sell", "1", "5")
    events = sim.order(1, "buy", "2", "5", stp=SelfTrade.CANCEL_MAKER)
    assert kinds(events) == ["OrderAccepted", "OrderCancelled", "TradeExecuted", "OrderDone"]
    assert sim.trades(events) == [("5", "1", 2, 3)]
    assert sim.depth(SELL) == [] and sim.depth(BUY) == [("5", "1")]
    assert sim.balance(1, "COIN") == ("101", "0")


def test_self_trade_cancel_both() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    events = sim.order(1, "buy", "2", "5", stp=SelfTrade.CANCEL_BOTH)
    assert kinds(events) == ["OrderAccepted", "OrderCancelled", "OrderCancelled"]
    assert sim.depth(SELL) == [] and sim.depth(BUY) == []
    assert sim.balance(1, "COIN") == ("100", "0") and sim.balance(1, "USD") == ("1000", "0")


def test_cancel_releases_the_hold_and_removes_the_level() -> None:
    sim = Sim()
    sim.order(2, "buy", "3", "4")
    events = sim.cancel(2, 1)
    assert kinds(events) == ["OrderCancelled"]
    assert events[-1] == LevelChanged(events[-1].seq, "COIN-USD", BUY, 400, 0, 2)
    assert sim.balance(2, "USD") == ("1000", "0")
    assert sim.depth(BUY) == []


def test_cancel_of_an_unknown_order_is_rejected() -> None:
    sim = Sim()
    events = sim.cancel(2, 99)
    assert events == [CancelRejected(events[0].seq, 0, 99, 2, "", Reject.UNKNOWN_ORDER)]


def test_cancel_of_a_filled_order_is_rejected() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(2, "buy", "1", "4")
    events = sim.cancel(1, 1)
    assert isinstance(events[0], CancelRejected) and events[0].reason is Reject.UNKNOWN_ORDER


def test_no_one_can_cancel_another_users_order() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    before = sim.exchange.state_hash()
    events = sim.cancel(2, 1)
    assert isinstance(events[0], CancelRejected)
    assert sim.exchange.state_hash() == before


def test_cancel_by_client_order_id() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4", client_id="my-1")
    events = sim.cancel(1, client_id="my-1")
    assert kinds(events) == ["OrderCancelled"]
    assert sim.cancel(1, client_id="my-1")[0].reason is Reject.UNKNOWN_ORDER  # type: ignore[union-attr]


def test_duplicate_client_order_id_is_rejected_while_the_first_is_open() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4", client_id="a")
    events = sim.order(1, "sell", "1", "5", client_id="a")
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is Reject.DUPLICATE_CLIENT_ORDER_ID
    assert sim.depth(SELL) == [("4", "1")]
    sim.order(2, "buy", "1", "4")  # fills the first; its client id is free again
    assert len(sim.order(1, "sell", "1", "5", client_id="a")) == 2
    assert sim.order(2, "sell", "1", "5", client_id="a")[0].__class__.__name__ == "OrderAccepted"


def test_duplicate_order_id_from_one_user_is_rejected() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4", order_id=7)
    events = sim.order(1, "sell", "1", "5", order_id=7)
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.DUPLICATE_ORDER_ID


def test_cancel_all_cancels_every_open_order_of_the_user_only() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    sim.order(1, "buy", "1", "3")
    sim.order(2, "sell", "1", "6")
    events = sim.cancel_all(1)
    assert kinds(events) == ["OrderCancelled", "OrderCancelled"]
    assert sim.depth(BUY) == [] and sim.depth(SELL) == [("6", "1")]
    assert sim.cancel_all(1) == []


def test_reduce_keeps_the_orders_place_in_the_queue() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "3", "4")
    sim.order(3, "sell", "3", "4")
    events = sim.reduce(1, 1, "1")
    assert kinds(events) == ["OrderReduced"]
    assert sim.depth(SELL) == [("4", "5")]
    assert sim.balance(1, "COIN") == ("98", "2")
    assert sim.trades(sim.order(2, "buy", "2", "4")) == [("4", "2", 1, 3)]


def test_reduce_by_all_that_remains_cancels() -> None:
    sim = Sim()
    sim.order(2, "buy", "3", "4")
    events = sim.reduce(2, 1, "5")
    assert kinds(events) == ["OrderCancelled"]
    assert events[0].reason is CancelReason.REDUCED  # type: ignore[union-attr]
    assert sim.balance(2, "USD") == ("1000", "0")


def test_insufficient_funds_are_rejected_and_change_nothing() -> None:
    sim = Sim()
    before = sim.exchange.state_hash()
    events = sim.order(2, "buy", "300", "4")  # 1200 USD
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.INSUFFICIENT_FUNDS
    events = sim.order(2, "sell", "100.0001", "4")
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.INSUFFICIENT_FUNDS
    assert sim.exchange.state_hash() == before


def test_trade_price_is_the_makers_for_a_sell_taker_too() -> None:
    sim = Sim()
    sim.order(1, "buy", "1", "5")
    events = sim.order(2, "sell", "1", "4")
    trade = next(e for e in events if isinstance(e, TradeExecuted))
    assert trade.price == 500 and trade.taker_side is SELL


def test_cancel_all_after_many_orders_came_and_went_cancels_exactly_the_open_ones() -> None:
    sim = Sim()
    for i in range(100):
        sim.order(1, "sell", "0.1", f"{5 + i % 10}")
    for order_id in range(1, 81):
        sim.cancel(1, order_id)
    events = sim.cancel_all(1)
    assert sorted(e.order_id for e in events if isinstance(e, OrderCancelled)) == list(
        range(81, 101))
    assert sim.depth(SELL) == [] and sim.balance(1, "COIN") == ("100", "0")
    assert sim.exchange.ledger.open_orders(1) == []


def test_a_budget_too_short_for_two_lots_at_once_may_buy_them_one_by_one() -> None:
    # Fees round down trade by trade: at 0.1 %, one lot at 5.00 costs 500 minor units of
    # USD (its 0.5 fee rounds to 0), two in one trade 1,001. A budget of 1,000 buys one,
    # then the 500 left buys another from the same maker, in a trade of its own.
    sim = Sim(default_config(taker_fee="0.001"))
    sim.order(1, "sell", "1", "5.00")
    events = sim.order(2, "buy", None, quote="0.001")
    assert sim.trades(events) == [("5", "0.0001", 1, 2), ("5", "0.0001", 1, 2)]
    assert kinds(events)[-1] == "OrderDone"
    assert sim.balance(2, "USD") == ("999.999", "0")
