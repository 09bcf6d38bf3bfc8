"""The loop risk and match share: consume a batch, process it, commit outputs and positions.

Exactly once: a batch's outputs and the group's new positions are committed together
(`Consumer.commit`). A processor's state is a function of its input partitions alone, so
on start it is rebuilt by loading each partition's latest snapshot (the state and the
offset it was taken at) and replaying the journal from that offset up to the group's
committed position with outputs thrown away (they were published before). Snapshots are
taken after a commit, so a snapshot's offset is never past the committed position.
"""

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import orjson

from exchange.bus.port import Bus, Outgoing, Record
from exchange.store.port import Store


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
    """Restore, replay, then process the topic until `stop` is set; snapshot as it goes."""
    partitions = range(bus.partitions(processor.topic))
    starts = restore(store, processor, partitions) if store else dict.fromkeys(partitions, 0)
    positions = replay(bus, processor, starts)
    consumer = bus.consumer(processor.group, [processor.topic],
                            transactional_id=f"{processor.group}-{instance}")
    since_snapshot = sum(positions[p] - starts[p] for p in partitions)
    try:
        out: list[Outgoing] = []
        while not stop.is_set():
            records = consumer.poll(idle, batch)
            if not records:
                continue
            for record in records:
                processor.handle(record, out)
            consumer.commit(out)
            out = []
            for record in records:
                positions[record.partition] = record.offset + 1
            since_snapshot += len(records)
            if store and since_snapshot >= snapshot_every:
                save(store, processor, _mine(consumer.assignment(), positions))
                since_snapshot = 0
        if store and since_snapshot:
            save(store, processor, _mine(consumer.assignment(), positions))
    finally:
        consumer.close()


def _mine(assignment: list[tuple[str, int]], positions: dict[int, int]) -> dict[int, int]:
    """Keep the positions of the partitions this instance owns: only it may snapshot them."""
    return {p: positions[p] for _, p in assignment}
