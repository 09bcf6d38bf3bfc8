"""The loop risk and match share: consume a batch, process it, commit outputs and positions.

Exactly once: a batch's outputs and the group's new positions are committed together
(`Consumer.commit`). A processor's state is a function of its input partitions alone, so
on start it is rebuilt by loading each partition's latest snapshot (the state and the
offset it was taken at) and replaying the journal from that offset up to the group's
committed position with outputs thrown away (they were published before). Snapshots are
taken after a commit, so a snapshot's offset is never past the committed position.
"""

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from typing import Any

import orjson

from exchange.bus.port import Bus, BusError, Consumer, Outgoing, Record
from exchange.store.port import Store

log = logging.getLogger(__name__)


class Processor(ABC):
    """A deterministic state machine over one input topic."""

    topic: str
    group: str

    @abstractmethod
    def handle(self, record: Record, out: list[Outgoing]) -> None:
        """Apply one input record to the state and append what it produces to `out`."""

    @abstractmethod
    def dump(self, partition: int) -> Any:
        """Return the state built from one input partition as plain JSON-able data."""

    @abstractmethod
    def restore(self, partition: int, state: Any) -> None:
        """Replace the state of one input partition with what `dump` returned."""

    @abstractmethod
    def drop(self, partition: int) -> None:
        """Forget the state of one input partition: as if none of its records was applied."""


def snapshot_name(processor: Processor, partition: int) -> str:
    return f"{processor.group}/{processor.topic}/{partition}"


def restore(store: Store, processor: Processor, partitions: Iterable[int]) -> dict[int, int]:
    """Load each partition's latest snapshot; return the offsets to replay from."""
    starts = {}
    for partition in partitions:
        data = store.load_snapshot(snapshot_name(processor, partition))
        if data is None:
            starts[partition] = 0
            continue
        snapshot = orjson.loads(data)
        processor.restore(partition, snapshot["state"])
        starts[partition] = snapshot["offset"]
    return starts


def save(store: Store, processor: Processor, positions: dict[int, int]) -> None:
    """Snapshot every partition at its position (all its records before it are applied)."""
    for partition, offset in positions.items():
        data = orjson.dumps({"offset": offset, "state": processor.dump(partition)})
        store.save_snapshot(snapshot_name(processor, partition), data)


def replay(bus: Bus, processor: Processor, starts: dict[int, int]) -> dict[int, int]:
    """Apply the journal from `starts` up to the committed positions; return those positions.

    Outputs are discarded: they were published when the records were first processed.
    """
    ends = {p: bus.committed(processor.group, processor.topic, p) or 0 for p in starts}
    todo = {(processor.topic, p): start for p, start in starts.items() if start < ends[p]}
    if not todo:
        return ends
    reader = bus.reader(todo)
    discard: list[Outgoing] = []
    left = set(todo)
    try:
        while left:
            records = reader.poll(1.0, 1000)
            if not records:
                raise RuntimeError(f"the journal of {processor.topic} ends before {ends}")
            for record in records:
                end = ends[record.partition]
                if record.offset >= end:
                    left.discard((record.topic, record.partition))
                    continue
                processor.handle(record, discard)
                discard.clear()
                if record.offset == end - 1:
                    left.discard((record.topic, record.partition))
    finally:
        reader.close()
    return ends


def run(bus: Bus, processor: Processor, stop: threading.Event, store: Store | None = None,
        instance: str = "0", batch: int = 500, idle: float = 0.05,
        snapshot_every: int = 200_000) -> None:
    """Join the group and process the topic until `stop` is set; snapshot as it goes.

    The partitions this instance owns may change after any poll (another instance joined
    or left the group): see `Owned`.
    """
    runner = Runner(bus, processor, store, instance, batch, snapshot_every)
    try:
        while not stop.is_set():
            runner.step(idle)
        runner.save()
    finally:
        runner.close()


class Runner:
    """One processor's consumer, one batch at a time: `step` polls, applies, commits.

    A thread calls it in a loop (`run`); the embedded exchange calls it from its event
    loop with no wait, so that no thread hands work to another. It also steps it inside
    a journal transaction that is committed only after the step: then it passes
    `autosave=False` and calls `save_if_due` itself once the transaction is committed,
    since a snapshot must never be ahead of the journal.
    """

    def __init__(self, bus: Bus, processor: Processor, store: Store | None = None,
                 instance: str = "0", batch: int = 500, snapshot_every: int = 200_000,
                 autosave: bool = True) -> None:
        self.bus = bus
        self.processor = processor
        self.store = store
        self.instance = instance
        self.batch = batch
        self.snapshot_every = snapshot_every
        self.autosave = autosave
        self.failures = 0
        self.consumer = self._join()
        self.owned = Owned(bus, processor, store)

    def _join(self) -> Consumer:
        return self.bus.consumer(self.processor.group, [self.processor.topic],
                                 transactional_id=f"{self.processor.group}-{self.instance}")

    def step(self, wait: float = 0.0) -> int:
        """Process the next batch (waiting up to `wait` s for one); return its size."""
        records = self.consumer.poll(wait, self.batch)
        owned = self.owned
        owned.follow(self.consumer.assignment(), self.consumer.revoked())
        if not records:
            return 0
        out: list[Outgoing] = []
        handle = self.processor.handle
        for record in records:
            if owned.take(record):
                handle(record, out)
        try:
            self.consumer.commit(out)
            self.failures = 0
        except BusError as error:
            # The batch was applied but not committed (or the consumer was fenced, or
            # the outcome is unknown): forget every partition and join again; they
            # are rebuilt from snapshots and the journal as they are assigned.
            self.failures += 1
            if self.failures > 5:
                raise
            log.warning("%s: commit failed (%s); joining the group again",
                        self.processor.group, error)
            owned.forget()
            self.consumer.close()
            self.consumer = self._join()
        if self.autosave:
            self.save_if_due()
        return len(records)

    def save_if_due(self) -> None:
        """Snapshot if `snapshot_every` records were applied since the last snapshot."""
        if self.store and self.owned.since_snapshot >= self.snapshot_every:
            self.owned.save()

    def save(self) -> None:
        """Snapshot what changed since the last snapshot (only between steps: a snapshot
        is never past what is committed)."""
        if self.store and self.owned.since_snapshot:
            self.owned.save()

    def close(self) -> None:
        """Leave the group."""
        self.consumer.close()


class Owned:
    """The input partitions an instance holds state for, and where each one stands.

    After each poll, `follow` compares the consumer's assignment with the partitions held:
    a partition that went away has its state dropped (its new owner rebuilds it), and so
    has one that went away and came back within the poll if the group's position moved
    meanwhile (another member applied records of it); one that arrived is restored from
    its snapshot and replayed up to the group's committed position, which is where the
    consumer reads it from. Records polled from a partition before that position (none,
    if the bus keeps its promise) are skipped, so none is applied twice; and a partition
    arrives only inside a poll, after every record polled before was committed, so none
    is skipped.
    """

    def __init__(self, bus: Bus, processor: Processor, store: Store | None) -> None:
        self.bus = bus
        self.processor = processor
        self.store = store
        self.positions: dict[int, int] = {}  # partition -> next offset to apply
        self.since_snapshot = 0
        self._followed: list[tuple[str, int]] | None = None  # the assignment last followed

    def follow(self, assignment: list[tuple[str, int]],
               revoked: Collection[tuple[str, int]] = ()) -> None:
        if not revoked and assignment == self._followed:
            return  # nearly always: nothing moved since the last poll
        self._followed = assignment
        topic, group = self.processor.topic, self.processor.group
        mine = {p for t, p in assignment if t == topic}
        # Taken and given back: still right if nobody committed anything of it meanwhile
        # (this instance commits before every poll, so its position is the group's).
        stale = {p for t, p in revoked if t == topic and p in self.positions
                 and self.bus.committed(group, topic, p) != self.positions[p]}
        for partition in [p for p in self.positions if p not in mine or p in stale]:
            self.processor.drop(partition)
            del self.positions[partition]
        new = sorted(mine - self.positions.keys())
        if not new:
            return
        for partition in new:
            self.processor.drop(partition)  # nothing stale survives a restore
        starts = (restore(self.store, self.processor, new) if self.store
                  else dict.fromkeys(new, 0))
        ends = replay(self.bus, self.processor, starts)
        self.positions.update(ends)
        self.since_snapshot += sum(ends[p] - starts[p] for p in new)

    def forget(self) -> None:
        """Drop every partition's state."""
        for partition in self.positions:
            self.processor.drop(partition)
        self.positions.clear()
        self._followed = None
        self.since_snapshot = 0

    def take(self, record: Record) -> bool:
        """Note a polled record as applied; False if it was applied already."""
        position = self.positions.get(record.partition)
        if position is None:  # committing it would lose it: the bus broke its promise
            raise RuntimeError(f"polled {record.topic}[{record.partition}], not assigned")
        if record.offset < position:
            return False
        self.positions[record.partition] = record.offset + 1
        self.since_snapshot += 1
        return True

    def save(self) -> None:
        """Snapshot the partitions held (only their owner may), then count afresh."""
        if self.store is not None:
            save(self.store, self.processor, self.positions)
        self.since_snapshot = 0
