"""The bus port: named topics of partitions, keyed records, consumer groups, exactly-once.

It is shaped after Apache Kafka, which one implementation is; the embedded one keeps the
same contract in SQLite. The tests in tests/bus/contract.py run against both.

Topics and partitions
    A topic has a fixed number of partitions. A record goes to the partition its key
    hashes to (murmur2, as Kafka's Java clients do, so every client agrees), and within a
    partition records keep the order they were sent in. A record's position is its
    offset; (topic, partition, offset) names it for good.

Consumers
    A consumer belongs to a group and reads the partitions the group assigns it, from the
    group's committed position (or from the start, or the end, when the group has none).
    `commit` publishes the consumer's outputs and moves the group's positions past every
    record polled so far, in one atomic step: after a crash, a record is either processed
    with its outputs published, or neither. This is how risk and match process each
    message exactly once.

Readers
    A reader belongs to no group: it reads the partitions it is given from the offsets
    it is given, for state rebuilt from a snapshot and for gateways, which follow every
    partition.

Producers
    `send` queues a record; `flush` makes every queued record durable and visible.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


# Not frozen: a frozen dataclass sets each field through `object.__setattr__`, several
# times the cost of a plain slot, and every message on every hop makes one of these.
@dataclass(slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass(slots=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes


class Start(Enum):
    """Where a group with no committed position starts reading."""

    EARLIEST = 1
    LATEST = 2


class BusError(Exception):
    """The bus failed; the message says what the implementation reported."""


class Producer(ABC):
    @abstractmethod
    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue a record for the partition its key hashes to."""

    @abstractmethod
    def flush(self, timeout: float = 10.0) -> None:
        """Make every queued record durable and visible to consumers."""

    @abstractmethod
    def close(self) -> None: ...


class Consumer(ABC):
    @abstractmethod
    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        """Return the next records of the assigned partitions, waiting up to `timeout` s."""

    @abstractmethod
    def commit(self, outputs: Sequence[Outgoing] = ()) -> None:
        """Publish `outputs` and commit the positions of all polled records, atomically."""

    @abstractmethod
    def assignment(self) -> list[tuple[str, int]]:
        """Return the (topic, partition) pairs this consumer reads now."""

    @abstractmethod
    def revoked(self) -> set[tuple[str, int]]:
        """Return the (topic, partition) pairs taken from this consumer since the last call.

        A pair taken and given back within one `poll` is in the assignment again, yet
        another member may have processed it meanwhile: whoever kept state built from it
        must rebuild that state. A reader (no group) never loses a partition.
        """

    @abstractmethod
    def close(self) -> None: ...


class Bus(ABC):
    @abstractmethod
    def create_topic(self, name: str, partitions: int) -> None:
        """Create a topic; creating one that exists with the same partitions does nothing."""

    @abstractmethod
    def partitions(self, topic: str) -> int: ...

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def committed(self, group: str, topic: str, partition: int) -> int | None:
        """Return the group's committed position in one partition, None if it has none."""

    @abstractmethod
    def consumer(self, group: str, topics: Sequence[str], start: Start = Start.EARLIEST,
                 transactional_id: str = "") -> Consumer:
        """Join `group` to read `topics`; `transactional_id` names its fenced producer."""

    @abstractmethod
    def reader(self, positions: Mapping[tuple[str, int], int]) -> Consumer:
        """Read the given (topic, partition)s from the given offsets, in no group.

        For state that is rebuilt from a snapshot's positions and for gateways, which read
        every partition. A reader's `commit` raises `BusError`: it has no group.
        """

    @abstractmethod
    def close(self) -> None: ...


def partition_for(key: bytes, partitions: int) -> int:
    """Pick the partition of a key as Kafka's default partitioner does (murmur2)."""
    if partitions == 1:
        return 0
    return (_hash(key) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """Return the 32-bit murmur2 hash Kafka uses, as a signed int."""
    seed, m, r = 0x9747B28C, 0x5BD1E995, 24
    length = len(data)
    h = (seed ^ length) & 0xFFFFFFFF
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


# Keys are users and markets: few, and each seen again and again.
_hash = lru_cache(maxsize=1 << 16)(murmur2)
