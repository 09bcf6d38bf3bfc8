"""The bus contract, written once and run against every implementation of the port."""

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

import pytest

from exchange.bus.port import Bus, BusError, Outgoing, Record, Start, partition_for


def drain(consumer: object, want: int, timeout: float = 10.0) -> list[Record]:
    """Poll until `want` records arrived or the time is up."""
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(records) < want and time.monotonic() < deadline:
        records += consumer.poll(0.2)  # type: ignore[attr-defined]
    return records


class BusContract(ABC):
    """Subclass per implementation and provide `make_bus` (a fresh bus each time)."""

    @abstractmethod
    def make_bus(self) -> Bus: ...

    @abstractmethod
    def reopen(self, bus: Bus) -> Bus:
        """Close `bus` as a crash would leave it and open the same store again."""

    @pytest.fixture
    def bus(self) -> Iterator[Bus]:
        bus = self.make_bus()
        yield bus
        bus.close()

    def test_topics_are_created_once(self, bus: Bus) -> None:
        bus.create_topic("t", 3)
        bus.create_topic("t", 3)
        assert bus.partitions("t") == 3
        with pytest.raises(BusError):
            bus.create_topic("t", 4)
        with pytest.raises(BusError):
            bus.partitions("nope")

    def test_a_key_always_lands_on_its_partition_in_order(self, bus: Bus) -> None:
        bus.create_topic("t", 4)
        producer = bus.producer()
        keys = [f"user-{i}".encode() for i in range(20)]
        for n in range(3):
            for key in keys:
                producer.send("t", key, b"%d" % n)
        producer.flush()
        records = drain(bus.consumer("g", ["t"]), 60)
        assert len(records) == 60
        for record in records:
            assert record.partition == partition_for(record.key, 4)
        for key in keys:
            assert [r.value for r in records if r.key == key] == [b"0", b"1", b"2"]
        per_partition: dict[int, list[int]] = {}
        for record in records:
            per_partition.setdefault(record.partition, []).append(record.offset)
        for offsets in per_partition.values():
            assert offsets == list(range(len(offsets)))

    def test_a_group_resumes_after_its_committed_position(self, bus: Bus) -> None:
        bus.create_topic("t", 1)
        producer = bus.producer()
        for i in range(5):
            producer.send("t", b"k", b"%d" % i)
        producer.flush()
        first = bus.consumer("g", ["t"])
        assert [r.value for r in drain(first, 5)] == [b"0", b"1", b"2", b"3", b"4"]
        first.commit()
        first.close()
        producer.send("t", b"k", b"5")
        producer.flush()
        second = bus.consumer("g", ["t"])
        assert [r.value for r in drain(second, 1)] == [b"5"]

    def test_what_was_not_committed_is_delivered_again(self, bus: Bus) -> None:
        bus.create_topic("t", 1)
        producer = bus.producer()
        producer.send("t", b"k", b"a")
        producer.flush()
        first = bus.consumer("g", ["t"])
        assert len(drain(first, 1)) == 1
        first.close()
        assert [r.value for r in drain(bus.consumer("g", ["t"]), 1)] == [b"a"]

    def test_latest_skips_what_came_before(self, bus: Bus) -> None:
        bus.create_topic("t", 2)
        producer = bus.producer()
        producer.send("t", b"old", b"old")
        producer.flush()
        consumer = bus.consumer("fresh", ["t"], Start.LATEST)
        assert consumer.poll(0.3) == []
        producer.send("t", b"new", b"new")
        producer.flush()
        assert [r.value for r in drain(consumer, 1)] == [b"new"]

    def test_commit_publishes_outputs_and_positions_together(self, bus: Bus) -> None:
        bus.create_topic("in", 1)
        bus.create_topic("out", 2)
        producer = bus.producer()
        producer.send("in", b"k", b"x")
        producer.flush()
        worker = bus.consumer("worker", ["in"], transactional_id="worker-0")
        watcher = bus.consumer("watcher", ["out"])
        assert len(drain(worker, 1)) == 1
        assert watcher.poll(0.3) == []  # nothing is visible before the commit
        worker.commit([Outgoing("out", b"a", b"1"), Outgoing("out", b"b", b"2")])
        assert sorted(r.value for r in drain(watcher, 2)) == [b"1", b"2"]

    def test_a_crash_before_commit_loses_outputs_and_redelivers_input(self, bus: Bus) -> None:
        bus.create_topic("in", 1)
        bus.create_topic("out", 1)
        producer = bus.producer()
        producer.send("in", b"k", b"x")
        producer.flush()
        worker = bus.consumer("worker", ["in"], transactional_id="worker-0")
        assert len(drain(worker, 1)) == 1
        worker.commit([Outgoing("out", b"k", b"done")])
        producer.send("in", b"k", b"y")
        producer.flush()
        assert [r.value for r in drain(worker, 1)] == [b"y"]
        # Killed here: "y" was read and processed, but nothing of it committed.
        bus = self.reopen(bus)
        worker = bus.consumer("worker", ["in"], transactional_id="worker-0")
        assert [r.value for r in drain(worker, 1)] == [b"y"]
        assert [r.value for r in drain(bus.consumer("audit", ["out"]), 1)] == [b"done"]
        bus.close()

    def test_a_group_shares_partitions_and_takes_over_when_one_leaves(self, bus: Bus) -> None:
        bus.create_topic("t", 4)
        one = bus.consumer("g", ["t"])
        two = bus.consumer("g", ["t"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            one.poll(0.1)
            two.poll(0.1)
            # Either may join first: wait until the group has settled with both in it.
            if len(one.assignment()) + len(two.assignment()) == 4 and one.assignment() \
                    and two.assignment():
                break
        assert sorted(one.assignment() + two.assignment()) == [("t", p) for p in range(4)]
        assert one.assignment() and two.assignment()
        two.close()
        while time.monotonic() < deadline and len(one.assignment()) < 4:
            one.poll(0.1)
        assert one.assignment() == [("t", p) for p in range(4)]

    def test_revoked_reports_partitions_taken_even_once_given_back(self, bus: Bus) -> None:
        bus.create_topic("t", 4)
        one = bus.consumer("g", ["t"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(one.assignment()) < 4:
            one.poll(0.1)
        one.revoked()  # whatever joining took
        two = bus.consumer("g", ["t"])
        while time.monotonic() < deadline and not two.assignment():
            one.poll(0.1)
            two.poll(0.1)
        taken = set(two.assignment())
        assert taken and not taken & set(one.assignment())
        two.close()
        while time.monotonic() < deadline and len(one.assignment()) < 4:
            one.poll(0.1)
        # All four are back with `one`, as before; what `two` held was taken meanwhile.
        assert one.assignment() == [("t", p) for p in range(4)]
        assert taken <= one.revoked()
        assert bus.reader({("t", 0): 0}).revoked() == set()

    def test_poll_wakes_when_a_record_arrives(self, bus: Bus) -> None:
        bus.create_topic("t", 1)
        consumer = bus.consumer("g", ["t"], Start.LATEST)
        assert consumer.poll(0.2) == []
        producer = bus.producer()

        def later() -> None:
            time.sleep(0.3)
            producer.send("t", b"k", b"v")
            producer.flush()

        threading.Thread(target=later).start()
        started = time.monotonic()
        records = drain(consumer, 1, timeout=10)
        assert [r.value for r in records] == [b"v"]
        assert time.monotonic() - started < 5

    def test_committed_positions_can_be_read(self, bus: Bus) -> None:
        bus.create_topic("t", 1)
        producer = bus.producer()
        producer.send("t", b"k", b"v")
        producer.send("t", b"k", b"w")
        producer.flush()
        assert bus.committed("g", "t", 0) is None
        consumer = bus.consumer("g", ["t"])
        assert len(drain(consumer, 2)) == 2
        consumer.commit()
        assert bus.committed("g", "t", 0) == 2

    def test_a_reader_reads_from_given_offsets_in_no_group(self, bus: Bus) -> None:
        bus.create_topic("t", 2)
        bus.create_topic("u", 1)
        producer = bus.producer()
        keys = [k for k in (b"a", b"b", b"c", b"d", b"e") if partition_for(k, 2) == 1][:1]
        for n in range(4):
            producer.send("t", keys[0], b"t%d" % n)
            producer.send("u", b"x", b"u%d" % n)
        producer.flush()
        reader = bus.reader({("t", 1): 2, ("u", 0): 3})
        records = drain(reader, 3)
        assert sorted(r.value for r in records) == [b"t2", b"t3", b"u3"]
        with pytest.raises(BusError):
            reader.commit()
        reader.close()
        assert bus.committed("", "t", 1) is None
        with pytest.raises(BusError):
            bus.reader({("t", 2): 0})
