"""Partitions moving between instances of one group: the new owner rebuilds the same state.

Over the embedded bus, whose group hands partitions over inside `poll` as Kafka does.
"""

import random
import threading
import time
from pathlib import Path
from typing import Any

from exchange.bus.port import Bus, Outgoing, Record
from exchange.bus.sqlite import SqliteBus
from exchange.core.commands import OpenAccount, PlaceOrder
from exchange.core.types import Side
from exchange.services import topics
from exchange.services.match import MatchService
from exchange.services.processor import Owned, Processor, replay, run
from exchange.services.risk import RiskService
from exchange.store.sqlite import SqliteStore
from tests.services.test_pipeline import CONFIG, place, send

PARTITIONS = 4


class Instance:
    """One `processor.run` in a thread, as one process of a cluster would run it."""

    def __init__(self, bus: Bus, processor: Processor, store: SqliteStore, name: str) -> None:
        self.processor = processor
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run, args=(bus, processor, self.stop, store),
                                       kwargs={"instance": name, "snapshot_every": 7},
                                       daemon=True)
        self.thread.start()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def orders(rng: random.Random, users: range, count: int, first_id: int) -> list[PlaceOrder]:
    return [place(first_id + i, rng.choice(users), rng.choice((Side.BUY, Side.SELL)),
                  rng.randint(90, 110), rng.randint(1, 5) * 10_000) for i in range(count)]


def settle(bus: Bus, timeout: float = 20.0) -> None:
    """Wait until risk and match have committed everything in their topics."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        positions = {(t, p): bus.committed(g, t, p) or 0
                     for g, t in (("risk", topics.RISK), ("match", topics.MATCH))
                     for p in range(PARTITIONS)}
        reader = bus.reader(positions)
        try:
            if not reader.poll(0.05):
                return
        finally:
            reader.close()
        time.sleep(0.05)
    raise AssertionError("the services did not catch up")


def assert_same_as_journal(bus: Bus, *instances: Instance) -> None:
    """Each partition is held by exactly one instance, in the state the journal gives."""
    reference = RiskService(CONFIG)
    replay(bus, reference, dict.fromkeys(range(PARTITIONS), 0))
    held: list[int] = []
    for instance in instances:
        risk = instance.processor
        assert isinstance(risk, RiskService)
        for partition in risk.ledgers:
            assert risk.dump(partition) == reference.dump(partition), partition
        held += risk.ledgers
    assert sorted(held) == list(range(PARTITIONS))


def test_a_partition_handed_over_gives_identical_state(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    topics.create_topics(bus, PARTITIONS)
    store = SqliteStore(tmp_path / "store.sqlite")
    rng = random.Random(7)
    users = range(1, 41)
    match = Instance(bus, MatchService(CONFIG, bus), store, "m")
    one = Instance(bus, RiskService(CONFIG), store, "one")
    try:
        send(bus, *(OpenAccount(0, 0, user) for user in users))
        send(bus, *orders(rng, users, 300, 1000))
        settle(bus)
        assert_same_as_journal(bus, one)

        two = Instance(bus, RiskService(CONFIG), store, "two")  # takes half the partitions
        for chunk in range(5):  # and trades go on while it joins
            send(bus, *orders(rng, users, 60, 2000 + 100 * chunk))
        settle(bus)
        assert isinstance(two.processor, RiskService)
        deadline = time.monotonic() + 10
        while not two.processor.ledgers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert two.processor.ledgers and len(one.processor.ledgers) < PARTITIONS  # type: ignore[attr-defined]
        assert_same_as_journal(bus, one, two)

        two.end()  # snapshots its partitions and leaves: one takes them back
        send(bus, *orders(rng, users, 300, 3000))
        settle(bus)
        assert_same_as_journal(bus, one)
    finally:
        one.end()
        match.end()
        store.close()
        bus.close()


class Counter(Processor):
    """Counts the records applied from each partition: the smallest state there is."""

    topic = "t"
    group = "g"

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.drops: list[int] = []

    def handle(self, record: Record, out: list[Outgoing]) -> None:
        self.counts[record.partition] = self.counts.get(record.partition, 0) + 1

    def dump(self, partition: int) -> Any:
        return self.counts.get(partition, 0)

    def restore(self, partition: int, state: Any) -> None:
        self.counts[partition] = state

    def drop(self, partition: int) -> None:
        self.drops.append(partition)
        self.counts.pop(partition, None)


def test_a_partition_taken_and_given_back_is_rebuilt_from_the_journal(tmp_path: Path) -> None:
    """Between two polls another member may have owned a partition and committed records
    of it: keeping the state built before would skip those. `follow` rebuilds it."""
    bus = SqliteBus(tmp_path / "bus.db")
    bus.create_topic("t", 2)
    producer = bus.producer()
    for key in (b"a", b"b", b"c", b"d"):
        producer.send("t", key, b"")
    producer.flush()
    counter = Counter()
    owned = Owned(bus, counter, None)
    owned.follow([("t", 0), ("t", 1)])
    group = bus.consumer("g", ["t"])  # the consumer `owned` follows, in the group
    first = group.poll(1.0)
    for record in first:
        assert owned.take(record)
        counter.handle(record, [])
    group.commit()
    group.close()
    # Taken and given back with no one committing meanwhile: the state is still right.
    counter.drops.clear()
    owned.follow([("t", 0), ("t", 1)], {("t", 0)})
    assert counter.drops == []
    applied = {p: sum(1 for r in first if r.partition == p) for p in (0, 1)}
    # Meanwhile partition 0 went to another member of the group, which applied and
    # committed records this one never saw ...
    for key in (b"e", b"f", b"g", b"h", b"i", b"j"):
        producer.send("t", key, b"")
    producer.flush()
    other = bus.consumer("g", ["t"])
    while other.poll(0.2):
        pass
    other.commit()
    other.close()
    assert (bus.committed("g", "t", 0) or 0) > applied[0]
    owned.follow([("t", 0), ("t", 1)], {("t", 0)})
    ends = {p: bus.committed("g", "t", p) for p in (0, 1)}
    assert owned.positions[0] == ends[0]  # rebuilt up to what the group committed
    assert counter.counts.get(0, 0) == ends[0]  # replayed from the journal (no snapshot)
    assert owned.positions[1] == applied[1]  # not taken: kept as it was
    bus.close()
