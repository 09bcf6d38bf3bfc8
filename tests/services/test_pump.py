"""The embedded exchange's pump: gateway, risk and match stepped on one event loop, each
pass one journal transaction."""

import asyncio
from pathlib import Path

import pytest

from exchange.bus.port import BusError, Outgoing, Record
from exchange.bus.sqlite import SqliteBus
from exchange.core.markets import default_config
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.embedded import Pump
from exchange.services import topics
from exchange.services.gateway import Gateway, NoAnswer
from exchange.services.match import MatchService
from exchange.services.processor import Runner
from exchange.services.risk import RiskService
from exchange.store.sqlite import SqliteStore
from tests.bus.test_sqlite import journaled

CONFIG = default_config()
LIMIT, GTC = OrderType.LIMIT, TimeInForce.GTC


class Exploding(MatchService):
    """Match, failing on the first order once `armed`."""

    armed = False

    def handle(self, record: Record, out: list[Outgoing]) -> None:
        if self.armed:
            raise RuntimeError("a bug in match")
        super().handle(record, out)


def test_orders_go_round_and_a_failing_pass_stops_the_pump_with_nothing_journaled(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    bus = SqliteBus(journal)
    topics.create_topics(bus, 1)
    store = SqliteStore(tmp_path / "store.sqlite")
    match = Exploding(CONFIG, bus)
    runners = [Runner(bus, RiskService(CONFIG), store, autosave=False),
               Runner(bus, match, store, autosave=False)]
    gateway = Gateway(CONFIG, bus, store, inline=True, timeout=2.0)
    failures: list[str] = []

    async def scenario() -> None:
        await gateway.start()
        pump = Pump(bus, gateway, runners, on_failure=lambda: failures.append("stop"))
        await gateway.open_account(1)
        await gateway.open_account(2)
        sell = await gateway.place(1, "COIN-USD", Side.SELL, LIMIT, GTC, 400, 30_000)
        assert sell.status == "new"
        buy = await gateway.place(2, "COIN-USD", Side.BUY, LIMIT, GTC, 500, 30_000)
        assert (buy.status, buy.filled) == ("filled", 30_000)
        maker = gateway.views.user(1).order(sell.order_id)
        assert maker is not None and maker.status == "filled"
        # Everything the clients were answered from is durable already.
        durable = journaled(journal)
        assert durable > 0 and not failures

        match.armed = True
        with pytest.raises(NoAnswer):
            await gateway.place(1, "COIN-USD", Side.SELL, LIMIT, GTC, 400, 10_000)
        assert failures == ["stop"] and pump.failed
        # The failed pass (the command and risk's hold) was rolled back as a whole.
        assert journaled(journal) == durable
        with pytest.raises(BusError, match="restart"):  # nothing more goes on top
            _write(bus)
        await gateway.stop()

    asyncio.run(scenario())
    for runner in runners:
        runner.close()
    store.close()
    bus.close()


def _write(bus: SqliteBus) -> None:
    producer = bus.producer()
    producer.send(topics.RISK, b"1", b"{}")
    producer.flush()
