"""The engine as a whole: the toy's defects, fees, numbering, snapshots, several markets."""

import gzip
from pathlib import Path

import pytest

from exchange.core.commands import OpenAccount, PlaceOrder
from exchange.core.engine import Exchange
from exchange.core.events import AccountOpened, OrderRejected, TradeExecuted
from exchange.core.ledger import FEE_ACCOUNT
from exchange.core.markets import USD, Asset, Config, default_config, make_market
from exchange.core.numbers import InvalidNumber
from exchange.core.types import OrderType, Reject, Side, TimeInForce
from tests.core.sim import Sim, kinds

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC = TimeInForce.GTC, TimeInForce.IOC


# ---- the toy's defects ----------------------------------------------------------------

def test_4_and_4_0_are_the_same_price() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "1", "4")
    sim.order(3, "sell", "1", "4.0")
    assert sim.depth(SELL) == [("4", "2")]
    assert len(sim.trades(sim.order(2, "buy", "2", "4.00"))) == 2


def test_a_buy_at_5_meets_a_resting_sell_at_4() -> None:
    sim = Sim()
    sim.order(1, "sell", "3", "4")
    assert sim.trades(sim.order(2, "buy", "3", "5")) == [("4", "3", 1, 2)]


@pytest.mark.parametrize("bad", ["-1", "0", "-0.5", "0.0"])
def test_negative_or_zero_amounts_and_prices_are_refused_at_the_edge(bad: str) -> None:
    market = default_config().markets[0]
    with pytest.raises(InvalidNumber):
        market.parse_qty(bad)
    with pytest.raises(InvalidNumber):
        market.parse_price(bad)


@pytest.mark.parametrize(
    ("price", "qty", "reason"),
    [(0, 1, Reject.INVALID_PRICE), (-400, 1, Reject.INVALID_PRICE),
     (400, 0, Reject.INVALID_QUANTITY), (400, -1, Reject.INVALID_QUANTITY),
     (10**8 + 1, 1, Reject.INVALID_PRICE), (400, 10**10 + 1, Reject.INVALID_QUANTITY)],
)
def test_negative_zero_or_huge_amounts_and_prices_are_refused_by_the_core(
    price: int, qty: int, reason: Reject
) -> None:
    sim = Sim()
    before = sim.exchange.state_hash()
    for side in (BUY, SELL):
        events = sim.run(PlaceOrder(next(sim.seq), 0, next(sim.ids), 1, "COIN-USD", side, LIMIT,
                                    GTC, price, qty))
        assert isinstance(events[0], OrderRejected) and events[0].reason is reason
    assert sim.exchange.state_hash() == before


def test_a_filled_order_never_fills_again() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "1", "4")
    sim.order(2, "buy", "1", "4")
    events = sim.order(3, "buy", "1", "4")
    assert kinds(events) == ["OrderAccepted"]
    assert len(sim.trades()) == 1


def test_a_rejection_never_stops_the_next_command() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4")
    assert isinstance(sim.order(2, "buy", "1000", "4")[0], OrderRejected)
    assert isinstance(sim.order(99, "buy", "1", "4")[0], OrderRejected)
    assert len(sim.trades(sim.order(2, "buy", "1", "4"))) == 1


# ---- shape of orders ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("side", "kind", "tif", "price", "qty", "quote", "reason"),
    [
        (BUY, MARKET, IOC, 400, 1, 0, Reject.INVALID_ORDER),  # a market order has no price
        (BUY, MARKET, GTC, 0, 1, 0, Reject.INVALID_ORDER),  # and never rests
        (SELL, MARKET, IOC, 0, 0, 100, Reject.INVALID_QUANTITY),  # sells by base quantity
        (BUY, MARKET, IOC, 0, 0, 0, Reject.INVALID_QUANTITY),
        (BUY, MARKET, IOC, 0, 0, -5, Reject.INVALID_QUANTITY),
        (BUY, LIMIT, GTC, 400, 1, 100, Reject.INVALID_QUANTITY),  # a limit order has no budget
    ],
)
def test_orders_that_make_no_sense_are_rejected(
    side: Side, kind: OrderType, tif: TimeInForce, price: int, qty: int, quote: int,
    reason: Reject,
) -> None:
    sim = Sim()
    events = sim.run(PlaceOrder(next(sim.seq), 0, 1, 1, "COIN-USD", side, kind, tif, price, qty,
                                quote))
    assert isinstance(events[0], OrderRejected) and events[0].reason is reason


@pytest.mark.parametrize("kind", [LIMIT, MARKET])
def test_a_budget_is_risks_to_set_not_the_senders(kind: OrderType) -> None:
    sim = Sim()
    tif, price = (GTC, 400) if kind is LIMIT else (IOC, 0)
    events = sim.run(PlaceOrder(next(sim.seq), 0, 1, 1, "COIN-USD", BUY, kind, tif, price,
                                10_000, budget=1))
    assert isinstance(events[0], OrderRejected) and events[0].reason is Reject.INVALID_ORDER
    assert sim.balance(1, "USD") == ("1000", "0")


def test_unknown_market_and_unknown_user_are_rejected() -> None:
    sim = Sim()
    events = sim.run(PlaceOrder(next(sim.seq), 0, 1, 1, "ETH-USD", BUY, LIMIT, GTC, 1, 1))
    assert events[0].reason is Reject.UNKNOWN_MARKET  # type: ignore[union-attr]
    events = sim.run(PlaceOrder(next(sim.seq), 0, 2, 5, "COIN-USD", BUY, LIMIT, GTC, 1, 1))
    assert events[0].reason is Reject.UNKNOWN_ACCOUNT  # type: ignore[union-attr]
    events = sim.run(PlaceOrder(next(sim.seq), 0, 3, FEE_ACCOUNT, "COIN-USD", BUY, LIMIT, GTC,
                                1, 1))
    assert events[0].reason is Reject.UNKNOWN_ACCOUNT  # type: ignore[union-attr]


def test_an_account_opens_once_with_the_grant() -> None:
    sim = Sim(users=0)
    assert sim.run(OpenAccount(next(sim.seq), 0, 1)) == [AccountOpened(1, 0, 1)]
    events = sim.run(OpenAccount(next(sim.seq), 0, 1))
    assert events[0].reason is Reject.ACCOUNT_EXISTS  # type: ignore[union-attr]
    assert sim.balance(1, "USD") == ("1000", "0") and sim.balance(1, "COIN") == ("100", "0")
    assert sim.exchange.ledger.granted == {"USD": 10**9, "COIN": 10**10}


def test_the_core_refuses_what_is_not_a_command() -> None:
    exchange = Exchange(default_config())
    # Interpreted, `execute` says so; compiled, the call's type check does first.
    with pytest.raises(TypeError, match=r"expected a command|object expected"):
        exchange.execute(AccountOpened(1, 0, 1))  # type: ignore[arg-type]
    assert exchange.seq == 0 and exchange.state_hash() == Exchange(default_config()).state_hash()


# ---- fees -----------------------------------------------------------------------------

def test_maker_and_taker_fees_go_to_the_fee_account() -> None:
    sim = Sim(default_config(maker_fee="0.001", taker_fee="0.002"))
    sim.order(1, "sell", "10", "10")  # maker
    # The hold covers the largest fee the buy could pay: 100 + 0.2 %.
    events = sim.order(2, "buy", "10", "10.5")
    trade = next(e for e in events if isinstance(e, TradeExecuted))
    assert (trade.maker_fee, trade.taker_fee) == (100_000, 200_000)  # 0.10 and 0.20 USD
    assert sim.balance(1, "USD") == ("1099.9", "0")
    assert sim.balance(2, "USD") == ("899.8", "0")
    assert sim.balance(FEE_ACCOUNT, "USD") == ("0.3", "0")
    assert sim.exchange.ledger.totals() == sim.exchange.ledger.granted


def test_a_resting_buy_holds_for_the_largest_fee_and_releases_it_as_maker() -> None:
    sim = Sim(default_config(maker_fee="0.001", taker_fee="0.002"))
    sim.order(2, "buy", "10", "10")
    assert sim.balance(2, "USD") == ("899.8", "100.2")
    sim.order(1, "sell", "10", "10")
    assert sim.balance(2, "USD") == ("899.9", "0")


def test_fees_round_down_to_the_quote_unit() -> None:
    sim = Sim(default_config(taker_fee="0.000001"))
    sim.order(1, "sell", "0.0001", "0.01")
    trade = next(e for e in sim.order(2, "buy", "0.0001", "0.01") if isinstance(e, TradeExecuted))
    assert trade.taker_fee == 0


# ---- numbering and snapshots ----------------------------------------------------------

def test_a_command_already_applied_is_ignored() -> None:
    sim = Sim()
    cmd = PlaceOrder(next(sim.seq), 0, 1, 1, "COIN-USD", SELL, LIMIT, GTC, 400, 1)
    assert sim.run(cmd)
    state = sim.exchange.state_hash()
    assert sim.run(cmd) == []
    assert sim.run(cmd.replace(seq=1)) == []
    assert sim.exchange.state_hash() == state


def test_dump_and_load_continue_exactly() -> None:
    sim = Sim(default_config(maker_fee="0.001", taker_fee="0.002"), users=3)
    sim.order(1, "sell", "1", "4", client_id="x")
    sim.order(1, "sell", "2", "5")
    sim.order(2, "buy", "1", "3")
    copy = Exchange.load(sim.exchange.config, sim.exchange.dump())
    assert copy.state_hash() == sim.exchange.state_hash()
    assert copy.seq == sim.exchange.seq
    cmd = PlaceOrder(next(sim.seq), 0, 10, 3, "COIN-USD", BUY, LIMIT, GTC, 500, 25_000)
    assert copy.execute(cmd) == sim.run(cmd)
    assert copy.state_hash() == sim.exchange.state_hash()


def test_risk_and_the_book_keep_one_record_per_order_also_after_a_load() -> None:
    sim = Sim(users=3)
    sim.order(1, "sell", "1", "4", order_id=1)  # rests at once
    sim.order(2, "sell", "2", "5", order_id=2)
    sim.order(3, "buy", "2", "5", order_id=3)  # takes 1 and half of 2, rests nothing
    sim.order(3, "buy", "1", "3", order_id=4)
    for exchange in (sim.exchange, Exchange.load(sim.exchange.config, sim.exchange.dump())):
        book, ledger = exchange.books["COIN-USD"], exchange.ledger
        assert len(book) == 2
        for order_id, user in ((2, 2), (4, 3)):
            assert book.find(user, order_id) is ledger.find(user, order_id) is not None
        assert ledger.find(1, 1) is None and ledger.find(3, 3) is None


@pytest.mark.parametrize("side", ["sell", "buy"])  # rests (the short way); takes (the book)
def test_an_order_id_another_user_has_resting_is_a_broken_invariant(side: str) -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "4", order_id=7)
    with pytest.raises(ValueError, match="already in the book"):
        sim.order(2, side, "1", "5", order_id=7)


def test_a_cancel_by_id_frees_the_client_order_id() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "5", client_id="a", order_id=1)
    sim.order(1, "sell", "1", "6", client_id="b", order_id=2)
    assert kinds(sim.cancel(1, order_id=1)) == ["OrderCancelled"]
    assert kinds(sim.order(1, "sell", "1", "7", client_id="a", order_id=3)) == ["OrderAccepted"]
    assert [e.reason for e in sim.order(1, "sell", "1", "7", client_id="b", order_id=4)
            if isinstance(e, OrderRejected)] == [Reject.DUPLICATE_CLIENT_ORDER_ID]
    assert sim.balance(1, "COIN") == ("98", "2")


def test_a_post_only_order_that_would_take_is_refused_and_holds_nothing() -> None:
    sim = Sim()
    sim.order(1, "sell", "1", "5")
    events = sim.order(2, "buy", "1", "6", tif=TimeInForce.POST_ONLY)
    assert [e.reason for e in events if isinstance(e, OrderRejected)] == [
        Reject.POST_ONLY_WOULD_TAKE]
    assert sim.balance(2, "USD") == ("1000", "0")
    assert sim.exchange.ledger.open_orders(2) == []


def test_load_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="state format"):
        Exchange.load(default_config(), b'{"format": 99}')


def test_several_markets_trade_independently_and_share_balances() -> None:
    eth = Asset("ETH", 8)
    coin = Asset("COIN", 8)
    config = Config(
        assets=(USD, coin, eth),
        markets=(make_market("COIN-USD", coin, USD), make_market("ETH-USD", eth, USD),
                 make_market("ETH-COIN", eth, coin, tick="0.0001", lot="0.0001",
                             max_price="10000")),
        grants=(("USD", 10**9), ("COIN", 10**10), ("ETH", 10**9)),
    )
    sim = Sim(config)
    sim.order(1, "sell", "1", "4")
    sim.order(1, "sell", "1", "2000", market="ETH-USD")
    sim.order(1, "sell", "1", "500", market="ETH-COIN")
    assert sim.depth(SELL, "ETH-USD") == [("2000", "1")]
    assert len(sim.trades(sim.order(2, "buy", "0.1", "500", market="ETH-COIN"))) == 1
    assert sim.balance(2, "COIN") == ("50", "0")
    assert sim.balance(2, "ETH") == ("10.1", "0")
    assert sim.balance(1, "ETH") == ("8", "1.9")
    assert sim.cancel_all(1, "ETH-USD")[0].__class__.__name__ == "OrderCancelled"
    assert sim.depth(SELL) == [("4", "1")]
    assert sim.exchange.ledger.totals() == sim.exchange.ledger.granted


def test_a_snapshot_of_the_core_before_it_was_typed_loads_and_goes_on() -> None:
    # Dumped by the core of commit 76b7147 (before it was typed for mypyc) after the first
    # 600 commands of `workload(600, 11)`, with the state hash it reported then.
    data = gzip.decompress((Path(__file__).parent / "data" / "exchange-76b7147.json.gz")
                           .read_bytes())
    # The configuration of `exchange bench engine` (`bench_config`).
    loaded = Exchange.load(default_config(grant_usd="1000000000", grant_coin="10000000"), data)
    assert loaded.state_hash() == (
        "e3e819832873e365d8513099c10b7ea6d26bcae6a73cabf0429e3ac79ef7696e")
    assert sum(len(book) for book in loaded.books.values()) == 262
    assert loaded.dump() == data  # the same format, written the same way
