"""The read-model port: what Redis serves is what the gateway's own fold serves.

A stream of records is made the way the services make it (the real core, events routed
to user-events by user and to market-data by market, balances after each command). One
gateway folds it whole into memory (`LocalModels`). Several gateways, each splitting the
stream into its own batches, some restarting from an older snapshot, record into one
Redis namespace in an interleaving hypothesis picks (`RedisModels`). Every query must
answer the same from both.
"""

import asyncio
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.bus.sqlite import SqliteBus
from exchange.core.commands import CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.engine import Exchange
from exchange.core.events import AccountOpened, BalancesChanged, LevelChanged, TradeExecuted
from exchange.core.markets import COIN, USD, Asset, Config, make_market
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.services import topics
from exchange.services.busdriver import SNAPSHOT, BusDriver
from exchange.services.gateway import Gateway as GatewayService
from exchange.services.readmodels import LocalModels, ReadModels, Record, fold
from exchange.services.views import INTERVALS, Views
from exchange.services.wire import encode
from exchange.store.redis_models import RedisModels
from exchange.store.sqlite import SqliteStore

ETH = Asset("ETH", 8)
CONFIG = Config(assets=(USD, COIN, ETH),
                markets=(make_market("COIN-USD", COIN, USD), make_market("ETH-USD", ETH, USD)),
                grants=(("USD", 10**9), ("COIN", 10**10), ("ETH", 10**10)))
USERS = range(1, 6)
SECOND_NS = 10**9


def stream(actions: list[tuple[int, int, Side, int, int, str]]) -> list[Record]:
    """Run actions through the core; return the records the gateways would read."""
    exchange = Exchange(CONFIG)
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    records: list[Record] = []

    def emit(topic: str, partition: int, key: bytes, event: Any) -> None:
        records.append((topic, partition, offsets[(topic, partition)], key, event))
        offsets[(topic, partition)] += 1

    def to_user(user: int, event: Any) -> None:
        emit(topics.USER_EVENTS, user % 2, topics.user_key(user), event)

    commands: list[Any] = [OpenAccount(0, 0, user) for user in USERS]
    for n, (user, market, side, price, lots, action) in enumerate(actions, start=1):
        symbol = CONFIG.markets[market].symbol
        ts = n * 13 * SECOND_NS  # a new minute every few orders, a new hour now and then
        commands.append(PlaceOrder(0, ts, n, user, symbol, side, OrderType.LIMIT,
                                   TimeInForce.GTC, price, lots * 10_000))
        if action == "cancel":
            commands.append(CancelOrder(0, ts, user, n - 1))
        elif action == "reduce":
            commands.append(ReduceOrder(0, ts, user, n - 2, 5_000))
    for seq, command in enumerate(commands, start=1):
        touched: set[int] = set()
        for event in exchange.execute(command.replace(seq=seq)):
            if isinstance(event, LevelChanged | TradeExecuted):
                emit(topics.MARKET_DATA, CONFIG.markets.index(CONFIG.market(event.market)),
                     topics.market_key(event.market), event)
            if isinstance(event, TradeExecuted):
                for user in (event.maker_user, event.taker_user):
                    to_user(user, event)
                    touched.add(user)
            elif not isinstance(event, LevelChanged):
                to_user(event.user, event)
                touched.add(event.user)
        for user in sorted(touched):
            if exchange.ledger.has_account(user):
                to_user(user, BalancesChanged(seq, user, exchange.ledger.balance_rows(user)))
    return records


class Gateway:
    """A gateway's fold, reading the stream in batches of its own sizes."""

    def __init__(self, records: list[Record], sizes: list[int]) -> None:
        self.records, self.sizes = records, sizes
        self.views = Views(CONFIG)
        self.at = 0  # the next record to read
        self.saved = (orjson.dumps(self.views.to_state()), 0)

    def done(self) -> bool:
        return self.at >= len(self.records)

    def step(self, models: RedisModels, n: int) -> None:
        size = self.sizes[n % len(self.sizes)]
        batch = self.records[self.at:self.at + size]
        self.at += len(batch)
        models.record(fold(self.views, batch))

    def snapshot(self) -> None:
        # As bytes, as the gateway saves it: the state shares lists with the live views.
        self.saved = (orjson.dumps(self.views.to_state()), self.at)

    def restart(self) -> None:
        """Go back to the last snapshot and read on from there, as a restart does."""
        state, self.at = self.saved
        self.views = Views.from_state(CONFIG, orjson.loads(state))


async def answers(models: ReadModels) -> dict[str, Any]:
    """Everything the API can ask, rendered to plain data."""
    out: dict[str, Any] = {"users": await models.users()}
    for user in (*USERS, 99):
        out[f"opened {user}"] = await models.opened(user)
        out[f"balances {user}"] = await models.balances(user)
        for market in ("", "COIN-USD", "ETH-USD"):
            out[f"open {user} {market}"] = [
                o.to_state() for o in await models.open_orders(user, market)]
            out[f"closed {user} {market}"] = [
                o.to_state() for o in await models.closed_orders(user, market, 500)]
            out[f"fills {user} {market}"] = await models.fills(user, market, 500)
        for order_id in range(0, 40):
            found = await models.order(user, order_id)
            out[f"order {user} {order_id}"] = None if found is None else found.to_state()
    for m in CONFIG.markets:
        out[f"depth {m.symbol}"] = await models.depth(m.symbol, 500)
        out[f"trades {m.symbol}"] = await models.trades(m.symbol, 500)
        for seconds in INTERVALS.values():
            out[f"candles {m.symbol} {seconds}"] = await models.candles(m.symbol, seconds, 1000)
        out[f"ticker {m.symbol}"] = await models.ticker(m.symbol, 10**13)
    return out


ACTIONS = st.lists(st.tuples(st.sampled_from(USERS), st.integers(0, 1), st.sampled_from(Side),
                             st.integers(395, 405), st.integers(1, 4),
                             st.sampled_from(["rest", "rest", "cancel", "reduce"])),
                   min_size=1, max_size=40)


def check(actions: list[tuple[int, int, Side, int, int, str]], sizes: list[list[int]],
          schedule: list[tuple[int, str]], url: str) -> None:
    records = stream(actions)
    local = Views(CONFIG)
    fold(local, records)
    models = RedisModels(CONFIG, url, uuid.uuid4().hex)
    try:
        gateways = [Gateway(records, s) for s in sizes]
        for n, (pick, what) in enumerate(schedule):
            # -1 picks the gateway furthest behind: gateways reading at about the same
            # pace leapfrog each other, and their batches overlap.
            gateway = (min(gateways, key=lambda g: g.at) if pick < 0
                       else gateways[pick % len(gateways)])
            if what == "snapshot":
                gateway.snapshot()
            elif what == "restart":
                gateway.restart()
            elif not gateway.done():
                gateway.step(models, n)
        for gateway in gateways:  # then each reads to the end
            while not gateway.done():
                gateway.step(models, 0)
        expected = asyncio.run(answers(LocalModels(lambda: local)))
        assert asyncio.run(answers(models)) == expected
    finally:
        models.close()


def test_overlapping_batches_of_two_gateways_add_nothing_twice(redis_url: str) -> None:
    # Crossing orders in both markets over several minutes; two gateways whose batches
    # never line up, one of them going back to a snapshot half way.
    actions = [(1 + n % 5, n % 2, Side.SELL if n % 3 else Side.BUY, 398 + n % 5, 1 + n % 3,
                "cancel" if n % 7 == 0 else "rest") for n in range(60)]
    schedule = [(-1, "step")] * 20 + [(0, "snapshot")] + [(-1, "step")] * 10 + [(0, "restart")]
    schedule += [(-1, "step")] * 30
    check(actions, [[7, 3], [5, 11]], schedule, redis_url)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS,
       sizes=st.lists(st.lists(st.integers(1, 30), min_size=1, max_size=4), min_size=2,
                      max_size=3),
       schedule=st.lists(st.tuples(st.integers(-1, 2), st.sampled_from(
           ["step", "step", "step", "snapshot", "restart"])), max_size=200))
def test_redis_serves_what_the_fold_serves_however_gateways_batch(
    redis_url: str, actions: list[tuple[int, int, Side, int, int, str]],
    sizes: list[list[int]], schedule: list[tuple[int, str]],
) -> None:
    check(actions, sizes, schedule, redis_url)


def test_a_batch_recorded_twice_changes_nothing(redis_url: str) -> None:
    records = stream([(1, 0, Side.SELL, 400, 2, "rest"), (2, 0, Side.BUY, 401, 1, "rest"),
                      (3, 1, Side.BUY, 399, 1, "cancel")])
    models = RedisModels(CONFIG, redis_url, uuid.uuid4().hex)
    try:
        first, second = Views(CONFIG), Views(CONFIG)
        models.record(fold(first, records))
        once = asyncio.run(answers(models))
        models.record(fold(second, records))  # another gateway, the same batch
        assert asyncio.run(answers(models)) == once
        assert once["trades COIN-USD"] and once["fills 1 "] and once["closed 2 "]
    finally:
        models.close()


def test_an_unknown_user_reads_as_one_with_nothing(redis_url: str) -> None:
    models = RedisModels(CONFIG, redis_url, uuid.uuid4().hex)
    try:
        got = asyncio.run(answers(models))
        assert got["users"] == 0 and got["balances 1"] == {} and got["open 1 "] == []
        assert got["depth COIN-USD"] == (0, [], [])
        assert got["ticker COIN-USD"]["last"] is None
    finally:
        models.close()



class HeldModels(LocalModels):
    """Read models that record, and whose writes wait until the test lets them through."""

    records = True

    def __init__(self, gateway: "GatewayService") -> None:
        super().__init__(lambda: gateway.views)
        self.gate = threading.Event()
        self.written = 0

    def write(self, prepared: Any) -> None:
        self.gate.wait(10)
        self.written += 1


def test_a_gateway_snapshot_never_runs_ahead_of_the_recorded_models(tmp_path: Path) -> None:
    # A snapshot past what the models hold would, after a restart, skip batches the
    # models never got. While a batch waits to be recorded, no snapshot may include it.
    bus, store = SqliteBus(tmp_path / "journal.sqlite"), SqliteStore(tmp_path / "store.sqlite")
    topics.create_topics(bus, 2)
    gateway = GatewayService(CONFIG, store, BusDriver(bus, snapshot_every=0.02))
    models = gateway.models = HeldModels(gateway)

    def snapshot_position() -> int:
        data = store.load_snapshot(SNAPSHOT)
        saved = [] if data is None else orjson.loads(data)["positions"]
        return sum(o for t, _, o in saved if t == topics.USER_EVENTS)

    async def scenario() -> None:
        await gateway.start()
        try:
            producer = bus.producer()
            producer.send(topics.USER_EVENTS, topics.user_key(1), encode(AccountOpened(1, 0, 1)))
            producer.flush()
            while not gateway.views.user(1).opened:  # folded, waiting to be recorded
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # ten snapshot periods
            assert models.written == 0 and snapshot_position() == 0
            models.gate.set()
            while snapshot_position() == 0:
                await asyncio.sleep(0.01)
            assert models.written == 1 and await models.opened(1)
        finally:
            models.gate.set()
            await gateway.stop()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
        bus.close()
