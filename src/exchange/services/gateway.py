"""The gateway's service logic: send users' commands to risk, follow what comes back.

Commands go to the `risk` topic keyed by user, each with a fresh `seq` (and a fresh order
id for a new order) from blocks the store hands out, so ids are unique across gateways
and restarts. Every event carries the `seq` of the command that caused it, which is how
an answer finds the request that is waiting for it.

A feed thread reads every partition of `user-events` and `market-data` (a gateway serves
any user and any market) and hands each batch to the event loop, which folds it into
the views, resolves the waiting requests and tells the listeners what changed, once per
batch. All state is touched on the event loop thread only, so nothing here needs a lock.
The views are snapshotted to the store with the positions they were built up to; a
restart loads the snapshot and reads on from there.

Sends are written by a sender thread, in batches: a burst of requests costs one journal
write (group commit), not one each, and the event loop never waits on the disk.

`inline=True` starts neither thread: whoever runs the gateway calls `flush_sends` and
`poll_feed` on the event loop instead, and is told of each send by `on_send`. The
embedded exchange does that (with risk and match stepped on the same loop), so no work
is ever handed from one thread to another in its one process.
"""

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from exchange.bus.port import Bus, BusError, Consumer
from exchange.bus.port import Record as BusRecord
from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.events import (
    AccountOpened,
    CancelRejected,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
)
from exchange.core.markets import Config
from exchange.core.types import OrderType, Reject, SelfTrade, Side, TimeInForce
from exchange.services import topics
from exchange.services.readmodels import (
    Changes,
    LocalModels,
    MarketChanges,
    ReadModels,
    Record,
    UserChanges,
    fold,
)
from exchange.services.views import OrderView, Views
from exchange.services.wire import decode_event, encode
from exchange.store.port import Store, StoreError

SNAPSHOT = "gateway/views"
log = logging.getLogger(__name__)
_ID_BLOCK = 1000


class Refused(Exception):
    """The exchange refused a command; `reason` says why."""

    def __init__(self, reason: Reject) -> None:
        super().__init__(reason.name.lower())
        self.reason = reason


class NoAnswer(Exception):
    """The exchange did not answer in time; the command may still take effect."""


Listener = Callable[[dict[str, MarketChanges], dict[int, UserChanges]], None]


class _Waiter:
    __slots__ = ("answer", "future", "kinds", "open_ids")

    def __init__(self, future: "asyncio.Future[Event | None]", kinds: tuple[type, ...],
                 open_ids: set[int] | None = None) -> None:
        self.future = future
        self.kinds = kinds
        self.open_ids = open_ids  # cancel-all: the orders still to close
        self.answer: Event | None = None


class Gateway:
    def __init__(self, config: Config, bus: Bus, store: Store, *, timeout: float = 5.0,
                 clock_ns: Callable[[], int] = time.time_ns,
                 snapshot_every: float = 30.0, models: ReadModels | None = None,
                 inline: bool = False) -> None:
        self.config = config
        self.bus = bus
        self.store = store
        self.timeout = timeout
        self.clock_ns = clock_ns
        self.snapshot_every = snapshot_every
        self.views = Views(config)
        # What the REST API reads: this gateway's own fold unless told otherwise.
        self.models = models if models is not None else LocalModels(lambda: self.views)
        self.positions: dict[tuple[str, int], int] = {}
        self.listeners: list[Listener] = []
        self.inline = inline
        self.on_send: Callable[[], None] | None = None  # inline: a command is queued
        self._reader: Consumer | None = None  # inline: polled by `poll_feed`
        self._producer = bus.producer()
        self._outbox: queue.SimpleQueue[tuple[bytes, bytes] | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._waiting: dict[int, _Waiter] = {}
        self._closing: dict[int, _Waiter] = {}  # order id -> the cancel-all waiting for it
        self._next_id = self._end_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._feed: threading.Thread | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._dirty = False
        # Batches folded but not yet recorded in the read models: a snapshot taken now
        # would skip them after a restart, and the models would never get them.
        self._unrecorded = 0
        # (prepared, changes, answered, snapshot to save once recorded) per batch
        self._to_record: queue.SimpleQueue[
            tuple[Any, Changes, list[_Waiter], bytes | None] | None] = queue.SimpleQueue()
        self._snapshot_due = False
        self._recorder: threading.Thread | None = None

    # ---- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Load the views' snapshot and follow the topics from where it was taken."""
        self._loop = asyncio.get_running_loop()
        data = self.store.load_snapshot(SNAPSHOT)
        if data is not None:
            saved = orjson.loads(data)
            self.views = Views.from_state(self.config, saved["views"])
            self.positions = {(t, p): o for t, p, o in saved["positions"]}
        for topic in (topics.USER_EVENTS, topics.MARKET_DATA):
            for partition in range(self.bus.partitions(topic)):
                self.positions.setdefault((topic, partition), 0)
        reader = self.bus.reader(self.positions)
        if self.inline:
            self._reader = reader
            self._snapshot_task = asyncio.create_task(self._snapshots())
            return
        self._feed = threading.Thread(target=self._follow, args=(reader,), name="gateway-feed",
                                      daemon=True)
        self._feed.start()
        if self.models.records:
            self._recorder = threading.Thread(target=self._record_all, name="gateway-record",
                                              daemon=True)
            self._recorder.start()
        self._sender = threading.Thread(target=self._send_all, name="gateway-send", daemon=True)
        self._sender.start()
        self._snapshot_task = asyncio.create_task(self._snapshots())

    async def stop(self) -> None:
        self._stop.set()
        if self._reader is not None:
            try:
                self.flush_sends()
            except BusError as error:  # the commands are lost, as in a crash: unanswered
                log.warning("gateway: could not send the last commands: %s", error)
            self._reader.close()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        if self._feed is not None:
            await asyncio.to_thread(self._feed.join, 10)
        if self._recorder is not None:
            await asyncio.sleep(0)  # let the folds the feed handed over run first
            self._to_record.put(None)
            await asyncio.to_thread(self._recorder.join, 10)
        if self._sender is not None:
            self._outbox.put(None)
            await asyncio.to_thread(self._sender.join, 10)
        if not self._unrecorded:
            self.save_snapshot()

    def save_snapshot(self) -> None:
        self.store.save_snapshot(SNAPSHOT, self._snapshot())

    def _snapshot(self) -> bytes:
        state = {"positions": [[t, p, o] for (t, p), o in self.positions.items()],
                 "views": self.views.to_state()}
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

    def poll_feed(self) -> bool:
        """Inline: fold what the topics have now; return whether there was anything."""
        assert self._reader is not None
        records = self._reader.poll(0.0, 2000)
        if not records:
            return False
        self._take(_decoded(records))
        return True

    def _take(self, batch: list[Record]) -> None:
        """Fold a batch and answer it: at once, or once the read models recorded it."""
        if self.models.records:
            self._fold_to_record(batch)
        else:
            self._publish(*self._fold(batch))

    def _fold_to_record(self, batch: list[Record]) -> None:
        """Fold a batch and queue it for the recorder; it is answered once recorded."""
        self._unrecorded += 1
        changes, answered = self._fold(batch)
        snapshot = None
        if self._snapshot_due:
            self._snapshot_due = False
            snapshot = self._snapshot()
        self._to_record.put((self.models.prepare(changes), changes, answered, snapshot))

    def _record_all(self) -> None:
        """Recorder thread: record each folded batch in the read models, then answer it.

        Read models that keep a record of their own (in Redis) get each batch before it
        is answered: whoever was answered can read it from any gateway. Recording runs
        beside the feed, so reading and folding the next batch does not wait for it.
        """
        loop = self._loop
        assert loop is not None
        while (item := self._to_record.get()) is not None:
            prepared, changes, answered, snapshot = item
            if not self._record(prepared):
                return
            if snapshot is not None:
                try:
                    self.store.save_snapshot(SNAPSHOT, snapshot)
                except StoreError as error:  # the next one will do; replay covers the gap
                    log.warning("gateway: saving the views' snapshot failed: %s", error)
            loop.call_soon_threadsafe(self._publish_recorded, changes, answered)

    def _publish_recorded(self, changes: Changes, answered: list[_Waiter]) -> None:
        self._unrecorded -= 1
        self._publish(changes, answered)

    def _record(self, prepared: Any) -> bool:
        """Record a batch in the read models, retrying until the store takes it; return
        False if the gateway stops first.

        A batch left out would leave a gap no later batch fills, so there is no going on
        without it; answers wait meanwhile.
        """
        while True:
            try:
                self.models.write(prepared)
                return True
            except StoreError as error:
                log.warning("gateway: %s; retrying in 1 s", error)
                if self._stop.wait(1.0):
                    return False

    # ---- commands -------------------------------------------------------------------

    def new_id(self) -> int:
        """Return an id no gateway has used or will use, for orders and command numbers."""
        if self._next_id == self._end_id:
            self._next_id = self.store.allocate("ids", _ID_BLOCK)
            self._end_id = self._next_id + _ID_BLOCK
        self._next_id += 1
        return self._next_id - 1

    async def open_account(self, user: int) -> None:
        """Open the ledger account of a new user (or make sure it is open)."""
        seq = self.new_id()
        answer = await self._ask(seq, OpenAccount(seq, self.clock_ns(), user),
                                 (AccountOpened, OrderRejected))
        if isinstance(answer, OrderRejected) and answer.reason is not Reject.ACCOUNT_EXISTS:
            raise Refused(answer.reason)

    async def place(self, user: int, market: str, side: Side, kind: OrderType,
                    tif: TimeInForce, price: int, qty: int, quote_qty: int = 0,
                    client_order_id: str = "",
                    stp: SelfTrade = SelfTrade.CANCEL_TAKER) -> OrderView:
        """Place an order; return it once the exchange accepted it, with any fills so far."""
        seq = self.new_id()
        cmd = PlaceOrder(seq, self.clock_ns(), seq, user, market, side, kind, tif, price, qty,
                         quote_qty, client_order_id, stp)
        answer = await self._ask(seq, cmd, (OrderAccepted, OrderRejected))
        if isinstance(answer, OrderRejected):
            raise Refused(answer.reason)
        return self._order(user, seq)

    async def cancel(self, user: int, order_id: int = 0, client_order_id: str = "") -> OrderView:
        seq = self.new_id()
        answer = await self._ask(seq, CancelOrder(seq, self.clock_ns(), user, order_id,
                                                  client_order_id),
                                 (OrderCancelled, CancelRejected))
        if isinstance(answer, CancelRejected):
            raise Refused(answer.reason)
        assert isinstance(answer, OrderCancelled)
        return self._order(user, answer.order_id)

    async def reduce(self, user: int, order_id: int, reduce_by: int) -> OrderView:
        seq = self.new_id()
        answer = await self._ask(seq, ReduceOrder(seq, self.clock_ns(), user, order_id, reduce_by),
                                 (OrderReduced, OrderCancelled, CancelRejected))
        if isinstance(answer, CancelRejected):
            raise Refused(answer.reason)
        return self._order(user, order_id)

    async def cancel_all(self, user: int, market: str = "") -> list[int]:
        """Cancel every open order of the user (in one market); return the ids cancelled."""
        seq = self.new_id()
        ids = {o.order_id for o in self.views.open_orders(user, market)}
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(future, (), set(ids))
        for order_id in ids:
            self._closing[order_id] = waiter
        self._send(CancelAll(seq, self.clock_ns(), user, market))
        if ids:
            try:
                await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                pass  # report what closed so far; the rest may still close
            finally:
                for order_id in ids:
                    self._closing.pop(order_id, None)
        view = self.views.user(user)
        return sorted(i for i in ids if (o := view.order(i)) is not None
                      and o.status == "cancelled")

    def _order(self, user: int, order_id: int) -> OrderView:
        order = self.views.user(user).order(order_id)
        if order is None:  # pragma: no cover - the answer was folded into the views first
            raise RuntimeError(f"order {order_id} answered but not in the views")
        return order

    async def _ask(self, seq: int, cmd: Any, kinds: tuple[type, ...]) -> Event | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Event | None] = loop.create_future()
        self._waiting[seq] = _Waiter(future, kinds)
        self._send(cmd)
        # A timer on the future, not asyncio.wait_for, which wraps it in one more task.
        timer = loop.call_later(self.timeout, _expire, future, seq, self.timeout)
        try:
            return await future
        finally:
            timer.cancel()
            self._waiting.pop(seq, None)

    def _send(self, cmd: Any) -> None:
        self._outbox.put((topics.user_key(cmd.user), encode(cmd)))
        if self.on_send is not None:
            self.on_send()

    def flush_sends(self) -> bool:
        """Inline: journal the commands queued so far; return whether there were any."""
        outbox, producer = self._outbox, self._producer
        sent = False
        while True:
            try:
                item = outbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                producer.send(topics.RISK, *item)
                sent = True
        if sent:
            producer.flush()
        return sent

    def _send_all(self) -> None:
        """Sender thread: journal commands in batches, off the event loop.

        Writing waits for the bus (a disk write, and the journal's lock, which risk and
        match hold while they commit); the event loop must never wait on it. Whatever
        queues up during one write goes out in the next: one write per batch.
        """
        outbox, producer = self._outbox, self._producer
        while (item := outbox.get()) is not None:
            while item is not None:
                producer.send(topics.RISK, *item)
                try:
                    item = outbox.get_nowait()
                except queue.Empty:
                    break
            producer.flush()
            if item is None:
                return

    # ---- events ---------------------------------------------------------------------

    def _fold(self, batch: list[Record]) -> tuple[Changes, list[_Waiter]]:
        """Fold a batch into the views; return what it changed and the requests it answers."""
        changes = fold(self.views, batch)
        for read, (_, end) in changes.ranges.items():
            self.positions[read] = end
        self._dirty = True
        answered: list[_Waiter] = []
        for topic, _, _, _, event in batch:
            if topic == topics.MARKET_DATA:
                continue
            kind = event.__class__
            waiter = self._waiting.get(event.seq)
            if waiter is not None and isinstance(event, waiter.kinds) and waiter.answer is None:
                waiter.answer = event
                answered.append(waiter)
            if kind is OrderCancelled or kind is OrderDone:
                closing = self._closing.pop(event.order_id, None)  # type: ignore[union-attr]
                if closing is not None and closing.open_ids is not None:
                    closing.open_ids.discard(event.order_id)  # type: ignore[union-attr]
                    if not closing.open_ids:
                        answered.append(closing)
        return changes, answered

    def _publish(self, changes: Changes, answered: list[_Waiter]) -> None:
        """Answer the requests a batch answered, then tell the listeners what changed."""
        for waiter in answered:
            if not waiter.future.done():
                waiter.future.set_result(waiter.answer)
        for listener in self.listeners:
            listener(changes.markets, changes.users)


def _decoded(records: list[BusRecord]) -> list[Record]:
    return [(r.topic, r.partition, r.offset, r.key, decode_event(r.value)) for r in records]


def _expire(future: "asyncio.Future[Event | None]", seq: int, timeout: float) -> None:
    if not future.done():
        future.set_exception(NoAnswer(f"no answer to command {seq} within {timeout} s"))
