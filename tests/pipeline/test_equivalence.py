"""The embedded pipeline and the services over the SQLite bus (the Kafka shape) give the
same answers, pushes and read models for the same client traffic.

Both run a `Gateway` with the same clock and fresh stores (so the same ids): one drives
the pipeline (one `Exchange` over a journal), the other the bus, with risk and match as
services in threads and the gateway's feed, sender and snapshot threads. Requests go one
at a time, each once the bus is quiet, so both see the same order of commands.

What is compared:
- answers: accepted or refused with the same reason, the same order ids cancelled;
- read models: the gateway's views, whole (`Views.to_state`), after every request;
- pushes: what a subscriber to every channel ends up knowing (each order's last pushed
  state, every fill in order, the last balances, each book from its deltas, the trades
  in order). The bus may split one command's outcome over two batches, so the number of
  pushes may differ; what they say may not.
"""

import asyncio
import itertools
import random
import threading
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from exchange.bus.sqlite import SqliteBus
from exchange.core.markets import default_config
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce
from exchange.pipeline.journal import Journal
from exchange.pipeline.pipeline import Pipeline
from exchange.pipeline.snapshots import Snapshots
from exchange.services import topics
from exchange.services.busdriver import BusDriver
from exchange.services.gateway import Gateway, Refused
from exchange.services.match import MatchService
from exchange.services.processor import run as run_service
from exchange.services.readmodels import MarketChanges, UserChanges
from exchange.services.risk import RiskService
from exchange.store.sqlite import SqliteStore
from exchange.web.render import Render

CONFIG = default_config(maker_fee="0.001", taker_fee="0.002")
MARKET = "COIN-USD"
USERS = (1, 2, 3)


class Pushed:
    """What a subscriber to every channel knows from the pushes so far."""

    def __init__(self) -> None:
        self.render = Render(CONFIG)
        self.orders: dict[int, dict[str, Any]] = {}
        self.fills: dict[int, list[dict[str, Any]]] = {}
        self.balances: dict[int, list[dict[str, str]]] = {}
        self.book: dict[tuple[int, int], int] = {}
        self.trades: list[list[int]] = []

    def __call__(self, markets: dict[str, MarketChanges], users: dict[int, UserChanges]) -> None:
        for changes in markets.values():
            for level, qty in changes.levels.items():
                self.book[level] = qty
            self.trades.extend(list(t) for t in changes.trades)
        for user, changed in users.items():
            for order_id, order in changed.orders.items():
                self.orders[order_id] = self.render.order(order)
            self.fills.setdefault(user, []).extend(self.render.fill(f) for f in changed.fills)
            if changed.balances is not None:
                self.balances[user] = self.render.balances(changed.balances)

    def known(self) -> dict[str, Any]:
        return {"orders": self.orders, "fills": self.fills, "balances": self.balances,
                "book": {k: v for k, v in self.book.items() if v}, "trades": self.trades}


def clock() -> Any:
    ticks = itertools.count(1_700_000_000_000_000_000, 7_000_000_000)
    return lambda: next(ticks)


class OverBus:
    def __init__(self, directory: Path) -> None:
        self.bus = SqliteBus(directory / "journal.sqlite")
        topics.create_topics(self.bus, 2)
        self.store = SqliteStore(directory / "store.sqlite")
        self.gateway = Gateway(CONFIG, self.store, BusDriver(self.bus), clock_ns=clock())
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=run_service, args=(self.bus, p, self.stop),
                                         kwargs={"idle": 0.002}, daemon=True)
                        for p in (RiskService(CONFIG), MatchService(CONFIG, self.bus))]

    async def start(self) -> None:
        for thread in self.threads:
            thread.start()
        await self.gateway.start()

    async def quiet(self) -> None:
        """Wait until risk, match and the gateway have read everything on the bus."""
        driver = self.gateway.driver
        assert isinstance(driver, BusDriver)
        bus = self.bus
        while True:
            done = all((bus.committed(group, topic, p) or 0) == bus.end(topic, p)
                       for group, topic in (("risk", topics.RISK), ("match", topics.MATCH))
                       for p in range(2))
            done = done and all(driver.positions[(topic, p)] == bus.end(topic, p)
                                for topic in (topics.USER_EVENTS, topics.MARKET_DATA)
                                for p in range(2))
            if done:
                return
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        await self.gateway.stop()
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        self.store.close()
        self.bus.close()


class Embedded:
    def __init__(self, directory: Path) -> None:
        self.store = SqliteStore(directory / "store.sqlite")
        self.pipeline = Pipeline(CONFIG, Journal(directory / "journal"),
                                 Snapshots(directory / "snapshots"))
        self.gateway = Gateway(CONFIG, self.store, self.pipeline, clock_ns=clock())

    async def start(self) -> None:
        await self.gateway.start()
        while not self.pipeline.restored:
            await asyncio.sleep(0.001)

    async def quiet(self) -> None:
        return

    async def close(self) -> None:
        await self.gateway.stop()
        self.store.close()


prices = st.integers(396, 404)
quantities = st.integers(1, 40).map(lambda lots: lots * 1000)
limits = st.tuples(st.just("limit"), st.sampled_from(USERS), st.sampled_from(Side), prices,
                   quantities, st.sampled_from([TimeInForce.GTC, TimeInForce.GTC,
                                                TimeInForce.IOC, TimeInForce.FOK,
                                                TimeInForce.POST_ONLY]),
                   st.sampled_from(SelfTrade), st.sampled_from(["", "", "a", "b"]))
requests = st.lists(st.one_of(
    limits, limits, limits,
    st.tuples(st.just("market"), st.sampled_from(USERS), st.sampled_from(Side), quantities,
              st.integers(0, 20_000_000)),
    st.tuples(st.just("cancel"), st.sampled_from(USERS), st.integers(0, 30),
              st.sampled_from(["", "a", "b"])),
    st.tuples(st.just("reduce"), st.sampled_from(USERS), st.integers(0, 30), quantities),
    st.tuples(st.just("cancel_all"), st.sampled_from(USERS), st.sampled_from(["", MARKET])),
), min_size=8, max_size=30)



def random_traffic(seed: int) -> list[tuple[Any, ...]]:
    """Traffic drawn uniformly (hypothesis favours the first of each choice, which makes
    few trades): about a third of the orders cross the book."""
    rng = random.Random(seed)
    traffic: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(10, 40)):
        user = rng.choice(USERS)
        roll = rng.random()
        if roll < 0.6:
            traffic.append(("limit", user, rng.choice(list(Side)), rng.randint(396, 404),
                            rng.randint(1, 40) * 1000,
                            rng.choice([TimeInForce.GTC] * 3 + list(TimeInForce)),
                            rng.choice(list(SelfTrade)), rng.choice(["", "", "a", "b"])))
        elif roll < 0.7:
            traffic.append(("market", user, rng.choice(list(Side)), rng.randint(1, 40) * 1000,
                            rng.choice([0, rng.randint(1, 20_000_000)])))
        elif roll < 0.85:
            traffic.append(("cancel", user, rng.randint(0, 30), rng.choice(["", "", "a"])))
        elif roll < 0.95:
            traffic.append(("reduce", user, rng.randint(0, 30), rng.randint(1, 40) * 1000))
        else:
            traffic.append(("cancel_all", user, rng.choice(["", MARKET])))
    return traffic


# Always among the examples: trades (limit and market, maker and taker fees), a partial
# fill left resting, a cancel by client id, a reduction and a cancel-all.
CROSSING = [("limit", 1, Side.SELL, 400, 20_000, TimeInForce.GTC, SelfTrade.CANCEL_TAKER, "a"),
            ("limit", 2, Side.BUY, 405, 30_000, TimeInForce.GTC, SelfTrade.CANCEL_TAKER, ""),
            ("market", 3, Side.SELL, 4_000, 0), ("reduce", 2, 1, 2_000),
            ("limit", 1, Side.SELL, 410, 9_000, TimeInForce.GTC, SelfTrade.CANCEL_TAKER, "a"),
            ("market", 3, Side.BUY, 1_000, 5_000_000), ("cancel", 1, 0, "a"),
            ("cancel_all", 2, "")]


async def answer(gateway: Gateway, request: tuple[Any, ...], placed: list[int]) -> Any:
    kind, user = request[0], request[1]
    try:
        match request:
            case ("limit", _, side, price, qty, tif, stp, client_id):
                order = await gateway.place(user, MARKET, side, OrderType.LIMIT, tif, price,
                                            qty, client_order_id=client_id, stp=stp)
                placed.append(order.order_id)
                return ("placed", order.order_id)
            case ("market", _, side, qty, budget):
                by_budget = side is Side.BUY and budget > 0
                order = await gateway.place(user, MARKET, side, OrderType.MARKET,
                                            TimeInForce.IOC, 0, 0 if by_budget else qty,
                                            budget if by_budget else 0)
                placed.append(order.order_id)
                return ("placed", order.order_id)
            case ("cancel", _, index, client_id):
                order_id = placed[index % len(placed)] if placed and not client_id else 0
                return ("cancelled", (await gateway.cancel(user, order_id, client_id)).order_id)
            case ("reduce", _, index, by):
                order_id = placed[index % len(placed)] if placed else 1
                return ("reduced", (await gateway.reduce(user, order_id, by)).order_id)
            case _:
                return ("cancelled all", await gateway.cancel_all(user, request[2]))
    except Refused as refused:
        return (kind, "refused", refused.reason)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.one_of(st.integers(0, 2**32).map(random_traffic), requests))
@example(CROSSING)
def test_the_pipeline_and_the_services_over_the_bus_agree(tmp_path: Path,
                                                           traffic: list[tuple[Any, ...]]) -> None:
    async def scenario(number: int) -> None:
        base = tmp_path / str(number)
        (base / "embedded").mkdir(parents=True)
        (base / "bus").mkdir(parents=True)
        sides: list[Embedded | OverBus] = [Embedded(base / "embedded"), OverBus(base / "bus")]
        pushes = [Pushed(), Pushed()]
        for side, pushed in zip(sides, pushes, strict=True):
            side.gateway.listeners.append(pushed)
            await side.start()
        try:
            for side in sides:
                for user in USERS:
                    await side.gateway.open_account(user)
                await side.quiet()
            placed: list[list[int]] = [[], []]
            for request in traffic:
                answers = []
                for index, side in enumerate(sides):
                    answers.append(await answer(side.gateway, request, placed[index]))
                    await side.quiet()
                assert answers[0] == answers[1], request
                assert sides[0].gateway.views.to_state() == sides[1].gateway.views.to_state()
            assert pushes[0].known() == pushes[1].known()
            event(f"trades: {min(len(pushes[0].trades), 3)}")
        finally:
            for side in sides:
                await side.close()

    asyncio.run(scenario(next(_examples)))


_examples = itertools.count()
