"""The embedded pipeline: commands journalled in batches, run by one `Exchange`, answered
once durable; restored from snapshots and the journal with the same state hash."""

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from exchange.core.engine import Exchange
from exchange.core.markets import default_config
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.pipeline.journal import Journal
from exchange.pipeline.pipeline import Pipeline
from exchange.pipeline.snapshots import Snapshots
from exchange.services.gateway import Gateway, NoAnswer, Unavailable
from exchange.services.wire import command_from_array
from exchange.store.sqlite import SqliteStore

CONFIG = default_config(maker_fee="0.001", taker_fee="0.002")
LIMIT, GTC = OrderType.LIMIT, TimeInForce.GTC
BUY, SELL = Side.BUY, Side.SELL


class Running:
    """A pipeline and its gateway on a data directory, as `exchange run` wires them."""

    def __init__(self, directory: Path, **options: Any) -> None:
        self.directory = directory
        self.failures: list[str] = []
        self.store = SqliteStore(directory / "store.sqlite")
        self.journal = Journal(directory / "journal")
        self.pipeline = Pipeline(CONFIG, self.journal, Snapshots(directory / "snapshots"),
                                 on_failure=lambda: self.failures.append("stop"), **options)
        clock = itertools.count(1_700_000_000_000_000_000, 1_000_000)
        self.gateway = Gateway(CONFIG, self.store, self.pipeline, timeout=1.0,
                               clock_ns=lambda: next(clock))

    async def start(self) -> None:
        await self.gateway.start()
        while not self.pipeline.restored and not self.pipeline.failed:
            await asyncio.sleep(0.001)

    async def stop(self) -> None:
        await self.gateway.stop()
        self.store.close()

    def crash(self) -> None:
        """Leave as a SIGKILL would: no last pass, no snapshot."""
        self.pipeline.snapshots.abandon()
        self.journal.close()
        self.store.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def trade(gateway: Gateway) -> None:
    await gateway.open_account(1)
    await gateway.open_account(2)
    await gateway.place(1, "COIN-USD", SELL, LIMIT, GTC, 400, 30_000)
    await gateway.place(1, "COIN-USD", SELL, LIMIT, GTC, 410, 10_000, client_order_id="x")
    await gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 390, 5_000)


def test_an_answer_holds_the_whole_outcome_and_the_journal_only_commands(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        running = Running(tmp_path)
        await running.start()
        gateway = running.gateway
        await trade(gateway)
        buy = await gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 500, 35_000)
        # Matched, settled and folded before the answer: filled, at the makers' prices.
        assert (buy.status, buy.filled) == ("filled", 35_000)
        assert buy.filled_quote == 400 * 30_000 + 410 * 5_000  # quote_scale 1
        views = gateway.views
        assert views.user(1).balances["USD"][0] == running.pipeline.exchange.ledger.balance(
            1, "USD")[0]
        with pytest.raises(Exception, match="insufficient_funds"):
            await gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 1_000_000, 100_000_000)
        await running.stop()
        # Commands only, each once, in seq order: 2 accounts, 5 orders.
        with Journal(tmp_path / "journal") as journal:
            commands = [command_from_array(a) for b in journal.batches() for a in b.commands()]
        assert [type(c).__name__ for c in commands] == ["OpenAccount"] * 2 + ["PlaceOrder"] * 5
        assert [c.seq for c in commands] == sorted(c.seq for c in commands)

    run(scenario)


def test_a_restart_after_a_crash_replays_the_journal_to_the_same_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = Running(tmp_path)
        await first.start()
        await trade(first.gateway)
        await first.gateway.cancel(1, 0, "x")
        live_hash = first.pipeline.exchange.state_hash()
        live_views = first.gateway.views.to_state()
        first.crash()

        second = Running(tmp_path)
        await second.start()
        assert second.pipeline.replayed == 6
        assert second.pipeline.exchange.state_hash() == live_hash
        assert second.gateway.views.to_state() == live_views
        # And it goes on: a new order trades with what was restored.
        buy = await second.gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 400, 1_000)
        assert buy.status == "filled"
        await second.stop()

        third = Running(tmp_path)  # after a clean stop: from its snapshot, nothing replayed
        await third.start()
        assert third.pipeline.replayed == 0
        assert third.gateway.views.user(2).order(buy.order_id).status == "filled"  # type: ignore[union-attr]
        await third.stop()

    run(scenario)


def test_snapshots_are_written_by_a_child_and_cut_the_replay_short(tmp_path: Path) -> None:
    async def scenario() -> None:
        running = Running(tmp_path, snapshot_every=3)
        await running.start()
        await trade(running.gateway)  # five commands: a snapshot after the third pass
        snapshots = running.pipeline.snapshots
        while snapshots.child:
            assert snapshots.reap(wait=True) in (True, None)
        saved = snapshots.latest()
        assert saved is not None and saved.seq >= 3
        replayed = Exchange(CONFIG)
        with Journal(tmp_path / "journal") as journal:
            assert len(journal.segments()) >= 2  # a segment starts at the snapshot
            for batch in journal.batches():
                for array in batch.commands():
                    cmd = command_from_array(array)
                    if cmd.seq <= saved.seq:
                        replayed.execute(cmd)
        assert replayed.state_hash() == saved.hash  # the child saw the state at its seq
        live_hash = running.pipeline.exchange.state_hash()
        running.crash()

        again = Running(tmp_path)
        await again.start()
        assert again.pipeline.replayed < 5
        assert again.pipeline.exchange.state_hash() == live_hash
        await again.stop()

    run(scenario)


def test_commands_are_refused_while_restoring_and_the_status_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = Running(tmp_path)
        await first.start()
        await trade(first.gateway)
        first.crash()
        second = Running(tmp_path)
        await second.gateway.start()  # the replay has not run yet
        assert second.pipeline.status()["status"] == "restoring"
        with pytest.raises(Unavailable, match="restoring"):
            await second.gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 400, 100)
        while not second.pipeline.restored:
            await asyncio.sleep(0.001)
        assert second.pipeline.status() == {}
        await second.gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 400, 100)
        await second.stop()

    run(scenario)


def test_a_journal_that_cannot_be_written_stops_the_pipeline_with_nothing_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        running = Running(tmp_path)
        await running.start()
        await trade(running.gateway)
        before = running.pipeline.exchange.state_hash()

        def full(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(running.journal, "append", full)
        with pytest.raises(NoAnswer):
            await running.gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 400, 100)
        assert running.failures == ["stop"] and running.pipeline.failed
        assert running.pipeline.exchange.state_hash() == before  # not executed
        with pytest.raises(Unavailable):
            await running.gateway.place(2, "COIN-USD", BUY, LIMIT, GTC, 400, 100)
        await running.stop()

    run(scenario)
