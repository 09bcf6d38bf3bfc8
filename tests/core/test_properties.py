"""Property tests: random command streams, the engine held to a reference and to invariants.

After every command:
  * the engine's outcomes (accepts, rejects, trades, cancels, reductions) equal the
    reference's, which makes fills follow price-time priority;
  * resting orders, their remaining sizes and their order agree with the reference;
  * every balance equals the reference's (derived from grants and trades alone), none is
    negative, and per asset the sum over all accounts equals what was granted;
  * every open order holds exactly its remaining obligation;
  * the book is never crossed, and level-2 deltas rebuild the book's depth exactly.
Dump, load and continue gives the same events and state hash as an uninterrupted run.
Risk and the book run apart, as the services run them (risk, the book, risk applying
the book's events), give the same events and the same state as `Exchange`, whose short
ways and shared order records must change nothing but the speed.
"""

from collections.abc import Iterable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.core.book import OrderBook
from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.engine import Exchange
from exchange.core.events import (
    AccountOpened,
    CancelRejected,
    Event,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
    OrderTriggered,
    TradeExecuted,
)
from exchange.core.ledger import Ledger
from exchange.core.markets import Asset, Config, make_market
from exchange.core.orders import Order
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger
from tests.core.reference import Outcome, Reference

USD, COIN, ETH = Asset("USD", 4), Asset("COIN", 2), Asset("ETH", 2)
CONFIG = Config(
    assets=(USD, COIN, ETH),
    markets=(
        make_market("COIN-USD", COIN, USD, tick="0.01", lot="0.01", maker_fee="0.05",
                    taker_fee="0.1"),
        make_market("ETH-USD", ETH, USD, tick="0.01", lot="0.01"),
    ),
    grants=(("USD", 300), ("COIN", 12), ("ETH", 12)),
)
USERS = 4
SYMBOLS = [m.symbol for m in CONFIG.markets]


@st.composite
def commands(draw: st.DrawFn) -> list[object]:
    """Draw a stream of commands with sequence numbers and fresh order ids."""
    stream: list[object] = [OpenAccount(u, 0, u) for u in range(1, USERS + 1)]
    seq, next_id = USERS, 0
    for _ in range(draw(st.integers(1, 60))):
        seq += 1
        user = draw(st.integers(1, USERS))
        kind = draw(st.sampled_from(["limit"] * 6 + ["market", "cancel", "cancel-cid", "all",
                                                      "reduce", "open"]))
        if kind in ("limit", "market"):
            next_id += 1
            side = draw(st.sampled_from(Side))
            symbol = draw(st.sampled_from(SYMBOLS))
            cid = draw(st.sampled_from(["", "", "a", "b"]))
            stp = draw(st.sampled_from(SelfTrade))
            # A third of the orders wait for a stop price (and may be triggered, in turn).
            trigger = draw(st.sampled_from([Trigger.NONE] * 4 + list(Trigger)[1:]))
            stop = draw(st.integers(1, 12)) if trigger else 0
            if kind == "limit":
                stream.append(PlaceOrder(seq, seq, next_id, user, symbol, side, OrderType.LIMIT,
                                         draw(st.sampled_from(TimeInForce)),
                                         draw(st.integers(1, 12)), draw(st.integers(1, 6)), 0,
                                         cid, stp, 0, stop, trigger))
            else:
                by_quote = side is Side.BUY and draw(st.booleans())
                qty = draw(st.integers(0 if by_quote else 1, 6))
                quote = draw(st.integers(1, 80)) if by_quote else 0
                stream.append(PlaceOrder(seq, seq, next_id, user, symbol, side,
                                         OrderType.MARKET, TimeInForce.IOC, 0, qty, quote, cid,
                                         stp, 0, stop, trigger))
        elif kind == "cancel":
            stream.append(CancelOrder(seq, seq, user, draw(st.integers(1, next_id + 2))))
        elif kind == "cancel-cid":
            stream.append(CancelOrder(seq, seq, user, 0, draw(st.sampled_from(["a", "b"]))))
        elif kind == "all":
            stream.append(CancelAll(seq, seq, user, draw(st.sampled_from(["", *SYMBOLS]))))
        elif kind == "reduce":
            stream.append(ReduceOrder(seq, seq, user, draw(st.integers(1, next_id + 2)),
                                      draw(st.integers(1, 4))))
        else:
            stream.append(OpenAccount(seq, seq, draw(st.integers(1, USERS + 1))))
    return stream


def outcomes(events: Iterable[Event]) -> list[Outcome]:
    """Reduce events to what the reference can say about them."""
    out: list[Outcome] = []
    for e in events:
        if isinstance(e, AccountOpened):
            out.append(("opened", e.user))
        elif isinstance(e, OrderRejected):
            out.append(("rejected", e.order_id, e.reason))
        elif isinstance(e, CancelRejected):
            out.append(("cancel-rejected", e.order_id, e.reason))
        elif isinstance(e, OrderAccepted):
            out.append(("accepted", e.order_id))
        elif isinstance(e, OrderTriggered):
            out.append(("triggered", e.order_id))
        elif isinstance(e, TradeExecuted):
            out.append(("trade", e.maker_order_id, e.taker_order_id, e.price, e.qty, e.maker_fee,
                        e.taker_fee))
        elif isinstance(e, OrderDone):
            out.append(("done", e.order_id))
        elif isinstance(e, OrderCancelled):
            out.append(("cancelled", e.order_id, e.qty, e.reason))
        elif isinstance(e, OrderReduced):
            out.append(("reduced", e.order_id, e.remaining))
    return out


def check_invariants(exchange: Exchange, ref: Reference,
                     levels: dict[tuple[str, Side, int], int]) -> None:
    ledger = exchange.ledger
    assert ledger.totals() == ledger.granted
    for account in ledger.accounts():
        held: dict[str, int] = {}
        for placed, remaining, on_hold in ledger.open_orders(account.user):
            order = next(o for o in ref.book if o.order_id == placed.order_id)
            assert on_hold == ref.obligation(order)
            assert remaining == order.remaining
            asset = ref.held_asset(order)
            held[asset] = held.get(asset, 0) + on_hold
        for code, (available, on_hold) in ledger.balances(account.user).items():
            assert available >= 0 and on_hold >= 0
            assert on_hold == held.get(code, 0)
            assert available + on_hold == ref.total(account.user, code)
    for symbol, book in exchange.books.items():
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        for side in Side:
            engine_orders = [(o.order_id, left) for o, left in book.resting(side)]
            ref_orders = [(o.order_id, o.remaining) for o in ref.book
                          if o.market.symbol == symbol and o.side is side and not o.waiting]
            ref_orders.sort(key=lambda r: next(
                (-o.price if side is Side.BUY else o.price, o.queued)
                for o in ref.book if o.order_id == r[0]))
            assert engine_orders == ref_orders
            from_deltas = sorted((p, q) for (s, d, p), q in levels.items()
                                 if s == symbol and d is side and q)
            assert from_deltas == sorted(book.depth(side, limit=10**6))


def replay(stream: list[object]) -> None:
    exchange, ref = Exchange(CONFIG), Reference(CONFIG)
    levels: dict[tuple[str, Side, int], int] = {}
    versions = dict.fromkeys(SYMBOLS, 0)
    for cmd in stream:
        events = exchange.execute(cmd)  # type: ignore[arg-type]
        assert outcomes(events) == ref.execute(cmd), cmd
        for e in events:
            if isinstance(e, LevelChanged):
                versions[e.market] += 1
                assert e.version == versions[e.market]
                levels[(e.market, e.side, e.price)] = e.qty
        check_invariants(exchange, ref, levels)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands())
def test_engine_agrees_with_the_reference_and_keeps_its_invariants(stream: list[object]) -> None:
    replay(stream)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands(), st.data())
def test_dump_load_and_continue_equals_an_uninterrupted_run(
    stream: list[object], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(stream)))
    whole = Exchange(CONFIG)
    whole_events = [whole.execute(cmd) for cmd in stream]  # type: ignore[arg-type]
    first = Exchange(CONFIG)
    events = [first.execute(cmd) for cmd in stream[:cut]]  # type: ignore[arg-type]
    resumed = Exchange.load(CONFIG, first.dump())
    assert resumed.state_hash() == first.state_hash()
    events += [resumed.execute(cmd) for cmd in stream[cut:]]  # type: ignore[arg-type]
    assert events == whole_events
    assert resumed.state_hash() == whole.state_hash()
    # A replay of the whole journal over the snapshot applies nothing twice.
    again = Exchange.load(CONFIG, first.dump())
    for cmd in stream:
        again.execute(cmd)  # type: ignore[arg-type]
    assert again.state_hash() == whole.state_hash()


class Apart:
    """Risk and the books as separate processors, each with records of its own, wired as
    services/risk.py and services/match.py wire them (without the bus)."""

    def __init__(self, config: Config) -> None:
        self.ledger = Ledger(config)
        self.books = {m.symbol: OrderBook(m) for m in config.markets}

    def execute(self, cmd: object) -> list[Event]:
        out: list[Event] = []
        if isinstance(cmd, OpenAccount):
            return [self.ledger.open_account(cmd)]
        if isinstance(cmd, PlaceOrder):
            placed = self.ledger.place(cmd)
            if isinstance(placed, OrderRejected):
                return [placed]
            self.books[placed.market].place(Order(placed), out)
        elif isinstance(cmd, CancelOrder | ReduceOrder):
            checked = self.ledger.cancel(cmd) if isinstance(cmd, CancelOrder) else (
                self.ledger.reduce(cmd))
            if isinstance(checked, CancelOrder):
                self.books[checked.market].cancel(checked, out)
            elif isinstance(checked, ReduceOrder):
                self.books[checked.market].reduce(checked, out)
            else:
                return [checked]
        elif isinstance(cmd, CancelAll):
            for cancel in self.ledger.cancel_all(cmd):
                self.books[cancel.market].cancel(cancel, out)
        for event in out:  # one at a time, as risk consumes them from the bus
            self.ledger.apply((event,))
        return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands())
def test_risk_and_book_apart_agree_with_the_exchange(stream: list[object]) -> None:
    exchange, apart = Exchange(CONFIG), Apart(CONFIG)
    for cmd in stream:
        assert apart.execute(cmd) == exchange.execute(cmd), cmd  # type: ignore[arg-type]
        assert apart.ledger.to_state() == exchange.ledger.to_state()
        assert ({s: b.to_state() for s, b in apart.books.items()}
                == {s: b.to_state() for s, b in exchange.books.items()})
