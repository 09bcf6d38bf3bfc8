"""The bus contract against the embedded SQLite bus, plus what only it promises."""

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from exchange.bus.port import Bus, BusError, Outgoing, murmur2, partition_for
from exchange.bus.sqlite import SqliteBus
from tests.bus.contract import BusContract, drain


class TestSqliteBus(BusContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "bus.sqlite"

    def make_bus(self) -> Bus:
        return SqliteBus(self.path)

    def reopen(self, bus: Bus) -> Bus:
        bus.close()
        return SqliteBus(self.path)


def test_records_and_positions_survive_a_restart(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "b.sqlite")
    bus.create_topic("t", 2)
    producer = bus.producer()
    for i in range(10):
        producer.send("t", b"%d" % i, b"v%d" % i)
    producer.flush()
    consumer = bus.consumer("g", ["t"])
    assert len(drain(consumer, 10)) == 10
    consumer.commit()
    bus.close()
    again = SqliteBus(tmp_path / "b.sqlite")
    assert again.partitions("t") == 2
    assert again.consumer("g", ["t"]).poll(0.2) == []
    assert len(drain(again.consumer("other", ["t"]), 10)) == 10
    producer = again.producer()
    producer.send("t", b"0", b"next")
    producer.flush()
    records = drain(again.consumer("third", ["t"]), 11)
    partition = partition_for(b"0", 2)
    before = sum(1 for i in range(10) if partition_for(b"%d" % i, 2) == partition)
    assert [r.offset for r in records if r.value == b"next"] == [before]
    again.close()


def test_a_reader_far_behind_reads_from_the_journal(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "b.sqlite")
    bus.create_topic("t", 1)
    producer = bus.producer()
    for i in range(60_000):  # more than the in-memory tail keeps
        producer.send("t", b"k", i.to_bytes(4, "big"))
    producer.flush()
    records = drain(bus.consumer("g", ["t"]), 60_000, timeout=60)
    assert [int.from_bytes(r.value, "big") for r in records] == list(range(60_000))
    bus.close()


def test_murmur2_matches_kafkas_own_test_vectors() -> None:
    vectors = {b"21": -973932308, b"foobar": -790332482,
               b"a-little-bit-long-string": -985981536,
               b"a-little-bit-longer-string": -1486304829,
               b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
               b"abc": 479470107}
    assert {k: murmur2(k) for k in vectors} == vectors


def journaled(path: Path) -> int:
    """Count the records another connection sees: what is durable."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        count: int = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return count


def test_a_transaction_shows_records_at_once_and_journals_them_together(
        tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    bus = SqliteBus(path)
    bus.create_topic("in", 1)
    bus.create_topic("out", 1)
    producer = bus.producer()
    consumer = bus.consumer("g", ["in"])
    with bus.transaction():
        producer.send("in", b"k", b"a")
        producer.flush()
        [record] = consumer.poll(0)  # visible in this thread before it is durable
        consumer.commit([Outgoing("out", b"k", b"b:" + record.value)])
        assert journaled(path) == 0
        assert bus.committed("g", "in", 0) == 1  # this connection sees its own writes
    assert journaled(path) == 2
    bus.close()
    again = SqliteBus(path)
    assert [r.value for r in drain(again.consumer("h", ["out"]), 1)] == [b"b:a"]
    assert again.committed("g", "in", 0) == 1
    again.close()


def test_a_failed_transaction_journals_nothing_and_the_bus_refuses_more(
        tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    bus = SqliteBus(path)
    bus.create_topic("in", 1)
    producer = bus.producer()
    producer.send("in", b"k", b"before")
    producer.flush()
    consumer = bus.consumer("g", ["in"])
    with pytest.raises(ZeroDivisionError), bus.transaction():
        producer.send("in", b"k", b"lost")
        producer.flush()
        assert len(consumer.poll(0)) == 2
        consumer.commit()
        1 / 0  # noqa: B018 - a processor failing mid-pass
    assert journaled(path) == 1
    # Memory ran ahead of the journal: nothing more may be written on top of it.
    producer.send("in", b"k", b"after")
    with pytest.raises(BusError, match="restart"):
        producer.flush()
    bus.close()
    again = SqliteBus(path)
    assert [r.value for r in drain(again.consumer("g", ["in"]), 1)] == [b"before"]
    again.close()


def test_transactions_do_not_nest(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "b.sqlite")
    with pytest.raises(BusError, match="nest"), bus.transaction(), bus.transaction():
        pass
    bus.close()


def test_the_checkpointer_copies_the_log_into_the_database_and_stops_on_close(
        tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    bus = SqliteBus(path, checkpoint_every=0.01)
    bus.create_topic("t", 1)
    producer = bus.producer()
    for i in range(200):
        producer.send("t", b"k", b"x" * 1000 + b"%d" % i)
        producer.flush()
    size = path.stat().st_size
    deadline = time.monotonic() + 10
    while path.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size > 200 * 1000  # the pages reached the database file
    bus.close()
    assert not bus._checkpointer.is_alive()
