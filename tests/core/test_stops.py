"""Stop orders: held for from acceptance, off the book until the last trade price
reaches their stop, then placed as limit or market orders at that moment."""

from exchange.core.engine import Exchange
from exchange.core.events import OrderCancelled, OrderTriggered
from exchange.core.types import CancelReason, Reject, Side, Trigger
from tests.core.sim import Sim, kinds

SELL, BUY = Side.SELL, Side.BUY
STOP_LOSS, TAKE_PROFIT = Trigger.STOP_LOSS, Trigger.TAKE_PROFIT


def trade_at(sim: Sim, price: str) -> None:
    """Make the last trade price `price`: users 3 and 4 trade one lot."""
    sim.order(3, "sell", "0.0001", price)
    sim.order(4, "buy", "0.0001", price)


def test_a_sell_stop_loss_waits_off_the_book_then_sells_when_the_price_falls_to_it() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    sim.order(2, "buy", "5", "8", order_id=20)  # a bid for the stop to meet
    events = sim.order(1, "sell", "2", None, trigger=STOP_LOSS, stop="9", order_id=21)
    assert kinds(events) == ["OrderAccepted"]
    assert sim.depth(SELL) == []  # not in the book
    assert sim.balance(1, "COIN") == ("98", "2")  # held from acceptance
    trade_at(sim, "9.50")  # above the stop: nothing
    assert sim.balance(1, "COIN") == ("98", "2")
    sim.order(3, "sell", "0.0001", "9")
    events = sim.order(4, "buy", "0.0001", "9")  # the last price falls to 9: triggered
    assert kinds(events)[-4:] == ["OrderDone", "OrderTriggered", "TradeExecuted", "OrderDone"]
    assert sim.trades(events)[-1] == ("8", "2", 20, 21)
    assert sim.balance(1, "COIN") == ("98", "0")
    assert sim.balance(1, "USD") == ("1016", "0")


def test_a_stop_already_reached_is_refused_and_holds_nothing() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    for side, trigger, stop in (("sell", STOP_LOSS, "10"), ("sell", STOP_LOSS, "11"),
                                ("buy", STOP_LOSS, "9"), ("sell", TAKE_PROFIT, "9"),
                                ("buy", TAKE_PROFIT, "10")):
        [refused] = sim.order(1, side, "1", "10", trigger=trigger, stop=stop)
        assert refused.reason is Reject.WOULD_TRIGGER_IMMEDIATELY  # type: ignore[union-attr]
    assert sim.balance(1, "COIN") == ("100", "0") and sim.balance(1, "USD") == ("1000", "0")
    # With no trade yet, no stop is reached.
    fresh = Sim()
    assert kinds(fresh.order(1, "sell", "1", "10", trigger=STOP_LOSS, stop="1")) == [
        "OrderAccepted"]


def test_a_triggered_limit_order_queues_behind_orders_that_rested_before_it_fired() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    sim.order(1, "buy", "1", "11", trigger=STOP_LOSS, stop="11", order_id=100)
    sim.order(2, "buy", "1", "11", order_id=101)  # rests at 11 after the stop was placed
    sim.order(3, "sell", "0.0001", "11")  # takes from order 101 at 11: triggers order 100
    events = sim.events[-6:]
    assert OrderTriggered in map(type, events)
    book = sim.exchange.books["COIN-USD"]
    assert [placed.order_id for placed, _ in book.resting(BUY)] == [101, 100]


def test_a_stop_order_triggered_by_another_stop_order_fires_in_the_same_command() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    sim.order(2, "buy", "1", "9")
    sim.order(2, "buy", "1", "8")
    sim.order(1, "sell", "1", None, trigger=STOP_LOSS, stop="9.50", order_id=50)
    sim.order(1, "sell", "1", None, trigger=STOP_LOSS, stop="9", order_id=51)
    sim.order(3, "sell", "0.0001", "9.50")
    events = sim.order(4, "buy", "0.0001", "9.50")
    fired = [e.order_id for e in events if isinstance(e, OrderTriggered)]
    assert fired == [50, 51]  # 50 sells at 9, which reaches 51's stop: 51 sells at 8
    assert [t[:2] for t in sim.trades(events)][1:] == [("9", "1"), ("8", "1")]
    assert all(e.seq == events[0].seq for e in events)  # all of one command


def test_a_stop_market_buy_holds_its_cost_at_the_stop_and_spends_no_more() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    sim.order(1, "buy", "2", None, trigger=STOP_LOSS, stop="11", order_id=30)
    assert sim.balance(1, "USD") == ("978", "22")  # 2 at 11
    sim.order(2, "sell", "1.0001", "11", order_id=31)
    sim.order(2, "sell", "5", "12", order_id=32)
    sim.order(4, "buy", "0.0001", "11")  # the last price reaches 11: order 30 triggers
    # It buys the 1 left at 11, then what its other 11 USD buy at 12.
    assert sim.trades()[-2:] == [("11", "1", 31, 30), ("12", "0.9166", 32, 30)]
    assert sim.balance(1, "USD") == ("978.0008", "0")
    assert sim.balance(1, "COIN") == ("101.9166", "0")


def test_a_waiting_stop_can_be_cancelled_but_not_reduced() -> None:
    sim = Sim(users=2)
    sim.order(1, "sell", "2", "5", trigger=TAKE_PROFIT, stop="12", order_id=9)
    [refused] = sim.reduce(1, 9, "1")
    assert refused.reason is Reject.ORDER_NOT_IN_BOOK  # type: ignore[union-attr]
    [cancelled] = sim.cancel(1, 9)
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.qty, cancelled.reason) == (20000, CancelReason.USER)
    assert sim.balance(1, "COIN") == ("100", "0")
    assert sim.exchange.ledger.open_orders(1) == []


def test_waiting_stops_and_the_last_price_survive_a_snapshot() -> None:
    sim = Sim(users=4)
    trade_at(sim, "10")
    sim.order(2, "buy", "1", "8", order_id=76)
    sim.order(1, "sell", "1", None, trigger=STOP_LOSS, stop="9", order_id=77)
    loaded = Exchange.load(sim.exchange.config, sim.exchange.dump())
    assert loaded.state_hash() == sim.exchange.state_hash()
    book = loaded.books["COIN-USD"]
    assert book.last_price == 1000 and [o.order_id for o in book.stops.orders()] == [77]
    assert book.find(1, 77) is loaded.ledger.find(1, 77) is not None
    sim.exchange = loaded
    trade_at(sim, "9")
    assert sim.trades()[-1] == ("8", "1", 76, 77)
