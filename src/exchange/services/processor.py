"""The loop risk and match share: consume a batch, process it, commit outputs and positions.

Exactly once: a batch's outputs and the group's new positions are committed together
(`Consumer.commit`). On start the processor rebuilds its state by replaying each of its
partitions from the beginning up to the group's committed position with outputs thrown
away (they were published before), then goes on from there.
"""

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

from exchange.bus.port import Bus, Outgoing, Record, Start


class Processor(ABC):
    """A deterministic state machine over one input topic."""

    topic: str
    group: str

    @abstractmethod
    def handle(self, record: Record, out: list[Outgoing]) -> None:
        """Apply one input record to the state and append what it produces to `out`."""


def replay(bus: Bus, processor: Processor, partitions: Sequence[int]) -> int:
    """Rebuild state from the journal up to the committed positions; return records read."""
    ends = {p: bus.committed(processor.group, processor.topic, p) or 0 for p in partitions}
    ends = {p: end for p, end in ends.items() if end}
    if not ends:
        return 0
    reader = bus.consumer(f"{processor.group}.replay", [processor.topic], Start.EARLIEST)
    discard: list[Outgoing] = []
    count = 0
    reached: set[int] = set()
    try:
        while len(reached) < len(ends):
            records = reader.poll(1.0, 1000)
            if not records:
                raise RuntimeError(f"the journal of {processor.topic} ends before {ends}")
            for record in records:
                end = ends.get(record.partition, 0)
                if record.offset >= end:
                    reached.add(record.partition)
                    continue
                processor.handle(record, discard)
                discard.clear()
                count += 1
                if record.offset == end - 1:
                    reached.add(record.partition)
    finally:
        reader.close()
    return count


def run(bus: Bus, processor: Processor, stop: threading.Event, instance: str = "0",
        batch: int = 500, idle: float = 0.05) -> None:
    """Replay, then process the topic until `stop` is set."""
    replay(bus, processor, range(bus.partitions(processor.topic)))
    consumer = bus.consumer(processor.group, [processor.topic],
                            transactional_id=f"{processor.group}-{instance}")
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
    finally:
        consumer.close()
