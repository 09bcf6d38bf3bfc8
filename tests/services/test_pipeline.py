"""Risk and match as services over the embedded bus: a trade end to end, and a restart."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exchange.bus.port import Bus, Record, Start
from exchange.bus.sqlite import SqliteBus
from exchange.core.commands import CancelOrder, OpenAccount, PlaceOrder
from exchange.core.events import (
    AccountOpened,
    BalancesChanged,
    CancelRejected,
    LevelChanged,
    OrderAccepted,
    OrderDone,
    OrderRejected,
    TradeExecuted,
)
from exchange.core.markets import default_config
from exchange.core.types import OrderType, Reject, Side, TimeInForce
from exchange.services import topics
from exchange.services.match import MatchService
from exchange.services.processor import replay, restore, run
from exchange.services.risk import RiskService
from exchange.services.wire import decode, encode
from exchange.store.port import Store
from exchange.store.sqlite import SqliteStore
from tests.bus.contract import drain

CONFIG = default_config()


@contextmanager
def services(bus: Bus, store: Store | None = None,
             snapshot_every: int = 1000) -> Iterator[RiskService]:
    """Run risk and match in threads until the block ends."""
    risk, match = RiskService(CONFIG), MatchService(CONFIG, bus)
    stop = threading.Event()
    threads = [threading.Thread(target=run, args=(bus, p, stop, store),
                                kwargs={"snapshot_every": snapshot_every}, daemon=True)
               for p in (risk, match)]
    for thread in threads:
        thread.start()
    try:
        yield risk
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def send(bus: Bus, *commands: OpenAccount | PlaceOrder | CancelOrder) -> None:
    producer = bus.producer()
    for cmd in commands:
        producer.send(topics.RISK, topics.user_key(cmd.user), encode(cmd))
    producer.flush()


def place(order_id: int, user: int, side: Side, price: int, qty: int) -> PlaceOrder:
    return PlaceOrder(0, 0, order_id, user, "COIN-USD", side, OrderType.LIMIT, TimeInForce.GTC,
                      price, qty)


def of_user(records: list[Record], user: int) -> list[str]:
    """Name what a user was told, leaving out the balance reports that follow each change."""
    names = [type(decode(r.value)).__name__ for r in records if r.key == topics.user_key(user)]
    return [name for name in names if name != "BalancesChanged"]


def test_two_users_trade_through_risk_and_match(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    topics.create_topics(bus, partitions=1)  # one partition: the order of sending holds
    users = bus.consumer("watch-users", [topics.USER_EVENTS], Start.EARLIEST)
    market = bus.consumer("watch-market", [topics.MARKET_DATA], Start.EARLIEST)
    with services(bus) as risk:
        send(bus, OpenAccount(0, 0, 1), OpenAccount(0, 0, 2),
             place(10, 1, Side.SELL, 400, 30_000), place(11, 2, Side.BUY, 500, 50_000),
             place(12, 2, Side.BUY, 100, 10**9), CancelOrder(0, 0, 1, 11))
        seen = drain(users, 16)  # 9 events, 7 balance reports
        public = drain(market, 4)
    # Risk refuses the cancel at once, while the order it follows is still at match.
    assert sorted(of_user(seen, 1)) == ["AccountOpened", "CancelRejected", "OrderAccepted",
                                        "OrderDone", "TradeExecuted"]
    assert sorted(of_user(seen, 2)) == ["AccountOpened", "OrderAccepted", "OrderRejected",
                                        "TradeExecuted"]
    rejected = next(decode(r.value) for r in seen if isinstance(decode(r.value), OrderRejected))
    assert rejected.reason is Reject.INSUFFICIENT_FUNDS  # type: ignore[union-attr]
    refused = next(decode(r.value) for r in seen if isinstance(decode(r.value), CancelRejected))
    assert refused.reason is Reject.UNKNOWN_ORDER  # type: ignore[union-attr]
    # The sell rests (level 4.00 appears), then the buy takes it and rests its remainder.
    assert [type(decode(r.value)) for r in public] == [LevelChanged, TradeExecuted,
                                                        LevelChanged, LevelChanged]
    balances = {u: risk.ledger(p).balances(u) for p, ledger in risk.ledgers.items()
                for u in (1, 2) if ledger.has_account(u)}
    assert balances[1]["USD"] == (1012_000000, 0) and balances[1]["COIN"] == (97 * 10**8, 0)
    assert balances[2]["USD"] == (988_000000 - 10_000000, 10_000000)
    bus.close()


def test_a_restart_rebuilds_state_from_the_journal_and_publishes_nothing_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bus.sqlite"
    bus = SqliteBus(path)
    topics.create_topics(bus, partitions=2)
    with services(bus) as risk:
        send(bus, OpenAccount(0, 0, 1), OpenAccount(0, 0, 2),
             place(10, 1, Side.SELL, 400, 30_000), place(11, 2, Side.BUY, 400, 10_000))
        before_records = drain(bus.consumer("w", [topics.USER_EVENTS]), 14)
        before = {p: ledger.to_state() for p, ledger in risk.ledgers.items()}
    bus.close()

    bus = SqliteBus(path)
    rebuilt = RiskService(CONFIG)
    # 2 openings, 2 orders, 2 acceptances, the trade once per partition, the done.
    assert sum(replay(bus, rebuilt, {0: 0, 1: 0}).values()) == 9
    assert {p: ledger.to_state() for p, ledger in rebuilt.ledgers.items()} == before
    with services(bus) as risk:
        send(bus, place(12, 2, Side.BUY, 400, 10_000))
        after_records = drain(bus.consumer("w2", [topics.USER_EVENTS]), 22)
        extra = bus.consumer("w3", [topics.USER_EVENTS]).poll(0.5)
        assert {p: risk.ledgers[p].to_state() for p in before} != before  # the new trade
    assert len(before_records) == 14
    assert len(extra) == 22
    events = [decode(r.value) for r in after_records]
    # 14 from before the restart (7 events, 7 balance reports), 8 new: none published twice
    assert len(events) == 22
    assert sum(isinstance(e, BalancesChanged) for e in events) == 11
    assert sum(isinstance(e, AccountOpened) for e in events) == 2
    assert sum(isinstance(e, OrderAccepted) for e in events) == 3
    assert sum(isinstance(e, OrderDone) for e in events) == 2
    assert sum(isinstance(e, TradeExecuted) for e in events) == 4  # two trades, one per user
    bus.close()


def test_snapshots_shorten_the_replay_and_rebuild_the_same_state(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    store = SqliteStore(tmp_path / "store.sqlite")
    topics.create_topics(bus, partitions=2)
    users = bus.consumer("watch", [topics.USER_EVENTS])
    with services(bus, store, snapshot_every=3) as risk:
        send(bus, *(OpenAccount(0, 0, u) for u in range(1, 7)))
        drain(users, 12)  # each opening and its balances
        send(bus, *(place(100 + u, u, Side.SELL, 410, 10_000) if u % 2
                    else place(100 + u, u, Side.BUY, 400, 10_000) for u in range(1, 7)))
        drain(users, 24)  # six holds and six acceptances
        before = {p: ledger.to_state() for p, ledger in risk.ledgers.items()}
    # Stopping snapshots every partition at its committed position: nothing to replay.
    rebuilt = RiskService(CONFIG)
    starts = restore(store, rebuilt, range(2))
    assert starts == {p: bus.committed("risk", topics.RISK, p) for p in range(2)}
    assert replay(bus, rebuilt, starts) == starts
    assert {p: ledger.to_state() for p, ledger in rebuilt.ledgers.items()} == before
    # An older snapshot plus the journal after it gives the same state.
    middle = RiskService(CONFIG)
    assert replay(bus, middle, {0: 0, 1: 0}) == starts
    assert {p: ledger.to_state() for p, ledger in middle.ledgers.items()} == before
    snapshot, journal = MatchService(CONFIG, bus), MatchService(CONFIG, bus)
    replay(bus, snapshot, restore(store, snapshot, range(2)))
    replay(bus, journal, {0: 0, 1: 0})
    assert len(snapshot.books["COIN-USD"]) == 6
    assert snapshot.books["COIN-USD"].to_state() == journal.books["COIN-USD"].to_state()
    store.close()
    bus.close()
