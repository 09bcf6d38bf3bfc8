"""The bus contract against the embedded SQLite bus, plus what only it promises."""

from pathlib import Path

import pytest

from exchange.bus.port import Bus, murmur2, partition_for
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
