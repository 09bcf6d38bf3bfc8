"""The gateway's driver over the bus (Kafka, or the SQLite bus in tests).

Commands go to the `risk` topic keyed by user. A feed thread reads every partition of
`user-events` and `market-data` (a gateway serves any user and any market) and hands each
batch to the event loop, which folds it into the gateway's views. The views are
snapshotted to the store with the positions they were built up to; a restart loads the
snapshot and reads on from there.

Sends are written by a sender thread, in batches: a burst of requests costs one write
(group commit), not one each, and the event loop never waits on the broker.

Read models that keep a record of their own (Redis) get each batch before it is answered
(`ReadModels.records`): whoever was answered can read it from any gateway. A recorder
thread writes them beside the feed, so reading and folding the next batch does not wait.
A snapshot is never ahead of what is recorded: while batches are on their way to the
read models, the snapshot is taken after the next fold and saved once that is recorded.
"""

import asyncio
import logging
import queue
import threading
from typing import Any

import orjson

from exchange.bus.port import Bus, BusError, Consumer
from exchange.bus.port import Record as BusRecord
from exchange.core.commands import Command
from exchange.services import topics
from exchange.services.gateway import Driver, Gateway
from exchange.services.readmodels import Folding, Record
from exchange.services.views import Views
from exchange.services.wire import decode_event, encode
from exchange.store.port import StoreError

SNAPSHOT = "gateway/views"
log = logging.getLogger(__name__)


class BusDriver(Driver):
    def __init__(self, bus: Bus, *, snapshot_every: float = 30.0) -> None:
        self.bus = bus
        self.snapshot_every = snapshot_every
        self.positions: dict[tuple[str, int], int] = {}
        self._gateway: Gateway | None = None
        self._producer = bus.producer()
        self._outbox: queue.SimpleQueue[tuple[bytes, bytes] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._snapshot_task: asyncio.Task[None] | None = None
        self._dirty = False
        # Batches folded but not yet recorded in the read models: a snapshot taken now
        # would skip them after a restart, and the models would never get them.
        self._unrecorded = 0
        self._snapshot_due = False
        # (prepared, folding, snapshot to save once recorded) per batch
        self._to_record: queue.SimpleQueue[tuple[Any, Folding, bytes | None] | None] = (
            queue.SimpleQueue())

    @property
    def gateway(self) -> Gateway:
        assert self._gateway is not None, "start the driver first"
        return self._gateway

    async def start(self, gateway: Gateway) -> None:
        """Load the views' snapshot and follow the topics from where it was taken."""
        self._gateway = gateway
        self._loop = asyncio.get_running_loop()
        data = gateway.store.load_snapshot(SNAPSHOT)
        if data is not None:
            saved = orjson.loads(data)
            gateway.views = Views.from_state(gateway.config, saved["views"])
            self.positions = {(t, p): o for t, p, o in saved["positions"]}
        for topic in (topics.USER_EVENTS, topics.MARKET_DATA):
            for partition in range(self.bus.partitions(topic)):
                self.positions.setdefault((topic, partition), 0)
        reader = self.bus.reader(self.positions)
        self._spawn(self._follow, "gateway-feed", reader)
        if gateway.models.records:
            self._spawn(self._record_all, "gateway-record")
        self._spawn(self._send_all, "gateway-send")
        self._snapshot_task = asyncio.create_task(self._snapshots())

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def submit(self, cmd: Command) -> None:
        self._outbox.put((topics.user_key(cmd.user), encode(cmd)))

    async def stop(self) -> None:
        self._stop.set()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        await asyncio.sleep(0)  # let the folds the feed handed over run first
        self._to_record.put(None)
        self._outbox.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
        if not self._unrecorded:
            self.save_snapshot()

    # ---- snapshots --------------------------------------------------------------------

    def save_snapshot(self) -> None:
        self.gateway.store.save_snapshot(SNAPSHOT, self._snapshot())

    def _snapshot(self) -> bytes:
        state = {"positions": [[t, p, o] for (t, p), o in self.positions.items()],
                 "views": self.gateway.views.to_state()}
        self._dirty = False
        return orjson.dumps(state)

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_every)
            if not self._dirty:
                continue
            if self._unrecorded:
                # Batches are on their way to the read models: the recorder saves the
                # snapshot taken after the next fold once that batch is recorded.
                self._snapshot_due = True
            else:
                self.save_snapshot()

    # ---- the feed ---------------------------------------------------------------------

    def _follow(self, reader: Consumer) -> None:
        """Feed thread: read both topics and hand each batch to the event loop."""
        loop = self._loop
        assert loop is not None
        try:
            while not self._stop.is_set():
                records = reader.poll(0.1, 2000)
                if records:
                    loop.call_soon_threadsafe(self._take, _decoded(records))
        finally:
            reader.close()

    def _take(self, batch: list[Record]) -> None:
        """Fold a batch and answer it: at once, or once the read models recorded it."""
        gateway = self.gateway
        folding = gateway.folding()
        for record in batch:
            folding.record(record)
        for read, (_, end) in folding.changes.ranges.items():
            self.positions[read] = end
        self._dirty = True
        if not gateway.models.records:
            gateway.publish(folding)
            return
        self._unrecorded += 1
        snapshot = None
        if self._snapshot_due:
            self._snapshot_due = False
            snapshot = self._snapshot()
        self._to_record.put((gateway.models.prepare(folding.changes), folding, snapshot))

    def _record_all(self) -> None:
        """Recorder thread: record each folded batch in the read models, then answer it."""
        loop = self._loop
        assert loop is not None
        while (item := self._to_record.get()) is not None:
            prepared, folding, snapshot = item
            if not self._record(prepared):
                return
            if snapshot is not None:
                try:
                    self.gateway.store.save_snapshot(SNAPSHOT, snapshot)
                except StoreError as error:  # the next one will do; replay covers the gap
                    log.warning("gateway: saving the views' snapshot failed: %s", error)
            loop.call_soon_threadsafe(self._publish_recorded, folding)

    def _publish_recorded(self, folding: Folding) -> None:
        self._unrecorded -= 1
        self.gateway.publish(folding)

    def _record(self, prepared: Any) -> bool:
        """Record a batch in the read models, retrying until the store takes it; return
        False if the gateway stops first.

        A batch left out would leave a gap no later batch fills, so there is no going on
        without it; answers wait meanwhile.
        """
        while True:
            try:
                self.gateway.models.write(prepared)
                return True
            except StoreError as error:
                log.warning("gateway: %s; retrying in 1 s", error)
                if self._stop.wait(1.0):
                    return False

    # ---- sends ------------------------------------------------------------------------

    def _send_all(self) -> None:
        """Sender thread: send commands in batches, off the event loop.

        Writing waits for the bus; the event loop must never wait on it. Whatever queues
        up during one write goes out in the next: one write per batch.
        """
        outbox, producer = self._outbox, self._producer
        while (item := outbox.get()) is not None:
            while item is not None:
                producer.send(topics.RISK, *item)
                try:
                    item = outbox.get_nowait()
                except queue.Empty:
                    break
            try:
                producer.flush()
            except BusError as error:  # unanswered, as in a crash: their requests time out
                log.warning("gateway: sending commands failed: %s", error)
            if item is None:
                return


def _decoded(records: list[BusRecord]) -> list[Record]:
    return [(r.topic, r.partition, r.offset, r.key, decode_event(r.value)) for r in records]
