"""The embedded exchange's driver: one ordered stream of commands, journalled, run by
one `Exchange`, as LMAX and exchange-core run theirs.

A pass (scheduled on the event loop as soon as a command is submitted) takes every
command queued since the last one, in order:

    1. appends them to the journal as one batch (a group commit);
    2. runs them through `Exchange.execute_batch`, what `exchange bench engine` times:
       risk, the book and settlement, with no bus in between;
    3. folds the events into the gateway's views as they come, as objects (no encoding),
       with each touched user's balances once per pass;
    4. publishes: answers the requests and pushes the changes to the sockets.

Only commands are journalled: the events are what `Exchange` computes from them. A
client hears of a command only after step 1 returned, so nothing it was told is lost by
a crash. If a pass fails (the journal cannot be written, or a broken invariant), the
pipeline stops taking commands and the server shuts down (fail-stop): a restart cuts any
torn batch off and replays the journal.

Snapshots (`Snapshots`) are taken between passes every `snapshot_every` commands or
`snapshot_seconds`, in a forked copy of the process, with the journal position they
cover; the journal starts a new segment there. On start the newest snapshot is loaded,
its state hash checked, and the journal after it replayed in slices, with the page and
`GET /api/v1/status` served meanwhile (the API answers 503 `unavailable` until done).
"""

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from exchange.core.commands import Command
from exchange.core.engine import Exchange
from exchange.core.events import (
    BalancesChanged,
    CancelRejected,
    LevelChanged,
    OrderRejected,
    TradeExecuted,
)
from exchange.core.markets import Config
from exchange.pipeline import snapshots
from exchange.pipeline.journal import Journal
from exchange.pipeline.snapshots import Snapshots
from exchange.runtime import age, tune_gc
from exchange.services.gateway import Driver, Gateway, Unavailable
from exchange.services.readmodels import Folding
from exchange.services.views import Views
from exchange.services.wire import command_from_array

log = logging.getLogger(__name__)
_TICK = 0.25
_REPLAY_SLICE = 0.02  # seconds of replay between two turns of the event loop


def say(text: str) -> None:
    print(f"exchange: {text}", file=sys.stderr, flush=True)


class Pipeline(Driver):
    def __init__(self, config: Config, journal: Journal, saved: Snapshots, *,
                 snapshot_every: int = 100_000, snapshot_seconds: float = 60.0,
                 on_failure: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.journal = journal
        self.snapshots = saved
        self.snapshot_every = snapshot_every
        self.snapshot_seconds = snapshot_seconds
        self.on_failure = on_failure
        self.exchange = Exchange(config)
        self.failed = False
        self.restored = False
        self.replayed = 0  # commands replayed on start
        self._restore_bytes = (0, 0)  # done, total
        self._gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[Command] = []
        self._due = False
        self._stopping = False
        self._snapshot_seq = 0  # the seq of the newest snapshot written or being written
        self._snapshot_at = time.monotonic()
        self._since_snapshot = 0
        self._restore_task: asyncio.Task[None] | None = None
        self._ticker: asyncio.TimerHandle | None = None

    @property
    def gateway(self) -> Gateway:
        assert self._gateway is not None, "start the pipeline first"
        return self._gateway

    @property
    def ready(self) -> bool:
        return self.restored and not self.failed and not self._stopping

    def status(self) -> dict[str, Any]:
        if self.restored:
            return {}
        done, total = self._restore_bytes
        return {"status": "restoring", "restored_percent": round(100 * done / total, 1)
                if total else 0.0, "replayed_commands": self.replayed}

    async def start(self, gateway: Gateway) -> None:
        """Restore in the background; commands are refused until it is done."""
        self._gateway = gateway
        self._loop = asyncio.get_running_loop()
        self._restore_task = asyncio.create_task(self._restore())

    def submit(self, cmd: Command) -> None:
        if not self.ready:
            raise Unavailable(self.why_unavailable())
        self._queue.append(cmd)
        if not self._due:
            self._due = True
            assert self._loop is not None
            self._loop.call_soon(self._pass)

    def why_unavailable(self) -> str:
        if self.failed or self._stopping:
            return "the exchange is stopping"
        status = self.status()
        return (f"the exchange is restoring its state ({status['restored_percent']} % done); "
                "try again shortly")

    # ---- passes -----------------------------------------------------------------------

    def _pass(self) -> None:
        self._due = False
        batch, self._queue = self._queue, []
        if not batch or self.failed:
            return
        try:
            self.journal.append(batch)
        except OSError:
            self._fail("could not write the journal")
            return
        folding = self.gateway.folding()
        try:
            self._apply(batch, folding)
        except Exception:
            self._fail("a command broke an invariant of the core")
            return
        self.gateway.publish(folding)
        self._since_snapshot += len(batch)
        if self._since_snapshot >= self.snapshot_every:
            self._snapshot()

    def _apply(self, commands: list[Command], folding: Folding) -> None:
        """Execute commands in order; fold their events into the views as they come."""
        user, market = folding.user, folding.market
        touched: dict[int, None] = {}  # users whose balances moved, in order
        for event in self.exchange.execute_batch(commands):
            seq = event.seq
            match event:
                case LevelChanged():
                    market(0, seq, event)
                case TradeExecuted(maker_user=maker, taker_user=taker):
                    market(0, seq, event)
                    user(0, seq, maker, event)
                    user(0, seq, taker, event)
                    touched[maker] = touched[taker] = None
                case OrderRejected() | CancelRejected():  # nothing was held or moved
                    user(0, seq, event.user, event)
                case _:
                    user(0, seq, event.user, event)
                    touched[event.user] = None
        if touched:
            rows = self.exchange.ledger.balance_rows
            last = commands[-1].seq
            for each in touched:
                user(0, last, each, BalancesChanged(last, each, rows(each)))

    def _fail(self, what: str) -> None:
        log.exception("exchange: %s; stopping (a restart recovers from the journal)", what)
        self.failed = True
        self.on_failure()

    # ---- snapshots --------------------------------------------------------------------

    def _snapshot(self) -> None:
        """Snapshot in a forked copy, between two passes; start a journal segment there."""
        if self.snapshots.child:
            return  # the one being written will do; the next is due after it
        exchange, views = self.exchange, self.gateway.views
        seq = exchange.seq
        self.snapshots.write_in_child(seq, lambda: snapshots.encode(exchange, views))
        self.journal.roll(seq + 1)
        self._snapshot_seq = seq
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()

    def _tick(self) -> None:
        """Now and then: age what the collector sees (`runtime.age`: short young passes);
        collect a finished snapshot; take one if one is due by time."""
        age()
        finished = self.snapshots.reap()
        if finished is False:
            log.warning("exchange: writing the snapshot of seq %d failed; the next will "
                        "try again", self._snapshot_seq)
        if (self.ready and self._since_snapshot
                and time.monotonic() - self._snapshot_at >= self.snapshot_seconds):
            self._snapshot()
        assert self._loop is not None
        self._ticker = self._loop.call_later(_TICK, self._tick)

    # ---- start and stop ---------------------------------------------------------------

    async def _restore(self) -> None:
        try:
            await self._replay()
        except Exception:
            self._fail("restoring from the snapshot and the journal failed")

    async def _replay(self) -> None:
        started = time.monotonic()
        gateway, journal = self.gateway, self.journal
        if journal.recovered:
            say(f"journal repaired: {journal.recovered}")
        saved = self.snapshots.latest()
        if saved is not None:
            exchange = Exchange.from_state(self.config, saved.exchange)
            found = exchange.state_hash()
            if found != saved.hash:
                raise RuntimeError(f"snapshot {saved.path.name} loads with state hash "
                                   f"{found}, not the {saved.hash} it was saved with")
            self.exchange = exchange
            gateway.views = Views.from_state(self.config, saved.views)
            self._snapshot_seq = saved.seq
        done, total = 0, journal.size_after(self.exchange.seq)
        self._restore_bytes = (0, total)
        slice_end = time.monotonic() + _REPLAY_SLICE
        for batch in journal.batches(self.exchange.seq):
            commands = [command_from_array(array) for array in batch.commands()]
            self._apply(commands, gateway.folding())
            self.replayed += len(commands)
            done += len(batch.payload)
            if time.monotonic() >= slice_end:
                self._restore_bytes = (done, total)
                await asyncio.sleep(0)  # serve the page and the status meanwhile
                slice_end = time.monotonic() + _REPLAY_SLICE
        tune_gc()  # what was restored is long-lived: out of the collector's sight
        self.restored = True
        self._since_snapshot = self.replayed
        elapsed = time.monotonic() - started
        origin = f"snapshot of seq {saved.seq}" if saved else "an empty exchange"
        say(f"restored from {origin} and {self.replayed:,} journalled commands "
            f"in {elapsed:.2f} s")
        assert self._loop is not None
        self._ticker = self._loop.call_later(_TICK, self._tick)
        if self.replayed >= self.snapshot_every:
            self._snapshot()  # so that the next start need not replay them again

    async def stop(self) -> None:
        """Journal and answer what was submitted; write a last snapshot; close."""
        if self._restore_task is not None and not self._restore_task.done():
            self._restore_task.cancel()
        if self.ready and self._queue:
            self._pass()
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
        self.snapshots.abandon()
        if self.restored and not self.failed and self.exchange.seq > self._snapshot_seq:
            try:
                self.snapshots.write(self.exchange.seq,
                                     snapshots.encode(self.exchange, self.gateway.views))
            except OSError as error:
                say(f"could not write the last snapshot ({error}); the next start replays "
                    "the journal instead")
        self.journal.close()
