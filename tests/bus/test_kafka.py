"""The bus contract against a real Kafka broker, plus what only Kafka shows: transactions.

Every test gets a namespace of its own on the session's broker (`kafka_bootstrap`).
"""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Producer as KafkaProducer
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from exchange.bus import kafka
from exchange.bus.kafka import KafkaBus
from exchange.bus.port import Bus, BusError, Outgoing, Record, Start, partition_for
from tests.bus.contract import BusContract, drain


class TestKafkaBus(BusContract):
    @pytest.fixture(autouse=True)
    def _cluster(self, kafka_bootstrap: str) -> None:
        self.bootstrap = kafka_bootstrap
        self.namespace = f"test-{uuid.uuid4().hex[:12]}."

    def make_bus(self) -> Bus:
        return KafkaBus(self.bootstrap, self.namespace)

    def reopen(self, bus: Bus) -> Bus:
        bus.close()  # consumers leave without committing, as a crash leaves them
        return KafkaBus(self.bootstrap, self.namespace)


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}."


@pytest.fixture
def bus(kafka_bootstrap: str, namespace: str) -> Iterator[KafkaBus]:
    bus = KafkaBus(kafka_bootstrap, namespace)
    yield bus
    bus.close()


def uncommitted(bootstrap: str, topic: str, want: int) -> list[bytes]:
    """Read a topic as a read_uncommitted client does: open and aborted records too."""
    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                              "isolation.level": "read_uncommitted", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    for _ in range(50):
        values += [m.value() or b"" for m in consumer.consume(100, 0.1) if m.error() is None]
        if len(values) >= want:
            break
    consumer.close()
    return values


def with_input(bus: KafkaBus, *values: bytes) -> None:
    bus.create_topic("in", 1)
    bus.create_topic("out", 1)
    producer = bus.producer()
    for value in values:
        producer.send("in", b"k", value)
    producer.flush()


class Crash(Exception):
    """The process dies inside commit: after the outputs are written, before commit."""


def test_topics_get_their_partitions_in_the_namespace(kafka_bootstrap: str, bus: KafkaBus,
                                                      namespace: str) -> None:
    bus.create_topic("t", 3)
    topic = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(
        namespace + "t", timeout=10).topics[namespace + "t"]
    assert len(topic.partitions) == 3
    assert all(len(p.replicas) == 1 for p in topic.partitions.values())
    other = KafkaBus(kafka_bootstrap, namespace + "other.")
    with pytest.raises(BusError):
        other.partitions("t")
    other.create_topic("t", 5)
    assert (bus.partitions("t"), other.partitions("t")) == (3, 5)
    other.close()


def test_more_replicas_than_brokers_is_refused(kafka_bootstrap: str, namespace: str) -> None:
    bus = KafkaBus(kafka_bootstrap, namespace, replication=3)
    with pytest.raises(BusError, match="INVALID_REPLICATION_FACTOR"):
        bus.create_topic("t", 1)
    bus.close()


def test_outputs_are_invisible_until_the_transaction_commits(
        kafka_bootstrap: str, bus: KafkaBus, namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_input(bus, b"x")
    reached, release = threading.Event(), threading.Event()

    class HeldCommit(KafkaProducer):
        def commit_transaction(self, timeout: float = -1) -> None:
            reached.set()
            release.wait(10)
            super().commit_transaction(timeout)

    monkeypatch.setattr(kafka, "KafkaProducer", HeldCommit)
    worker = bus.consumer("w", ["in"], transactional_id="w-0")
    assert len(drain(worker, 1)) == 1
    committing = threading.Thread(target=worker.commit, args=([Outgoing("out", b"k", b"1")],))
    committing.start()
    assert reached.wait(10)
    # The output is in the log, but neither it nor the group's position is visible yet.
    assert uncommitted(kafka_bootstrap, namespace + "out", 1) == [b"1"]
    reader = bus.reader({("out", 0): 0})
    assert reader.poll(0.5) == []
    answers: list[int | None] = []
    asking = threading.Thread(target=lambda: answers.append(bus.committed("w", "in", 0)))
    asking.start()
    asking.join(0.5)
    assert answers == []  # the group's position waits for the transaction to settle
    release.set()
    committing.join(10)
    asking.join(10)
    assert answers == [1]
    assert [r.value for r in drain(reader, 1)] == [b"1"]


def test_a_crash_inside_commit_never_shows_its_outputs_and_redelivers_its_input(
        kafka_bootstrap: str, bus: KafkaBus, namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_input(bus, b"x")

    class DiesInCommit(KafkaProducer):
        def commit_transaction(self, timeout: float = -1) -> None:
            self.flush(timeout)
            raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(kafka, "KafkaProducer", DiesInCommit)
        zombie = bus.consumer("w", ["in"], transactional_id="w-0")
    assert len(drain(zombie, 1)) == 1
    with pytest.raises(Crash):
        zombie.commit([Outgoing("out", b"k", b"lost")])
    zombie._consumer.close()  # type: ignore[attr-defined]  # it leaves the group; its transaction stays open

    again = KafkaBus(kafka_bootstrap, namespace)
    worker = again.consumer("w", ["in"], transactional_id="w-0")  # aborts the open one
    assert [r.value for r in drain(worker, 1, timeout=20)] == [b"x"]
    worker.commit([Outgoing("out", b"k", b"done")])
    assert [r.value for r in drain(again.reader({("out", 0): 0}), 2, timeout=2)] == [b"done"]
    assert uncommitted(kafka_bootstrap, namespace + "out", 2) == [b"lost", b"done"]
    assert again.committed("w", "in", 0) == 1
    again.close()


def test_a_second_consumer_with_the_same_transactional_id_fences_the_first(
        bus: KafkaBus) -> None:
    with_input(bus)
    first = bus.consumer("w", ["in"], transactional_id="w-0")
    first.commit([Outgoing("out", b"k", b"1")])
    second = bus.consumer("w", ["in"], transactional_id="w-0")
    with pytest.raises(BusError, match="FENCED"):
        first.commit([Outgoing("out", b"k", b"2")])
    with pytest.raises(BusError):
        first.commit([Outgoing("out", b"k", b"2")])
    second.commit([Outgoing("out", b"k", b"3")])
    assert [r.value for r in drain(bus.reader({("out", 0): 0}), 3, timeout=2)] == [b"1", b"3"]


def test_a_reader_asked_for_offsets_past_the_end_fails(bus: KafkaBus) -> None:
    with_input(bus, b"x")
    reader = bus.reader({("in", 0): 5})
    with pytest.raises(BusError):
        drain(reader, 1, timeout=5)


def test_records_polled_but_not_committed_go_to_the_next_owner(bus: KafkaBus) -> None:
    bus.create_topic("t", 2)
    producer = bus.producer()
    for i in range(10):
        producer.send("t", b"%d" % i, b"%d" % i)
    producer.flush()
    one = bus.consumer("g", ["t"])
    assert len(drain(one, 10)) == 10  # read, never committed
    two = bus.consumer("g", ["t"])
    got: dict[str, list[Record]] = {"one": [], "two": []}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (one.assignment() and two.assignment()
                                               and len(got["one"]) + len(got["two"]) == 10):
        got["one"] += one.poll(0.1)
        got["two"] += two.poll(0.1)
    # A rebalance revokes everything (eager): each now reads its partition from the start.
    for name, consumer in (("one", one), ("two", two)):
        [(_, partition)] = consumer.assignment()
        assert [r.offset for r in got[name]] == list(range(len(got[name])))
        assert {r.partition for r in got[name]} == {partition}
    one.commit()
    two.commit()
    for _, partition in one.assignment() + two.assignment():
        assert bus.committed("g", "t", partition) == sum(
            1 for i in range(10) if partition_for(b"%d" % i, 2) == partition)


def test_a_failed_commit_is_aborted_and_its_input_delivered_again(bus: KafkaBus) -> None:
    with_input(bus, b"x")
    worker = bus.consumer("w", ["in"], transactional_id="w-0")
    assert [r.value for r in drain(worker, 1)] == [b"x"]
    too_big = Outgoing("out", b"k", b"x" * 2_000_000)  # over the 1 MB message limit
    with pytest.raises(BusError, match="aborted"):
        worker.commit([Outgoing("out", b"k", b"first"), too_big])
    assert [r.value for r in drain(worker, 1)] == [b"x"]
    with pytest.raises(BusError, match="unknown topic"):
        worker.commit([Outgoing("nope", b"k", b"v")])
    assert [r.value for r in drain(worker, 1)] == [b"x"]
    worker.commit([Outgoing("out", b"k", b"done")])
    assert [r.value for r in drain(bus.reader({("out", 0): 0}), 2, timeout=2)] == [b"done"]
    assert bus.committed("w", "in", 0) == 1


def test_latest_starts_where_the_topic_ended_when_the_consumer_was_made(bus: KafkaBus) -> None:
    bus.create_topic("t", 1)
    producer = bus.producer()
    producer.send("t", b"k", b"old")
    producer.flush()
    consumer = bus.consumer("g", ["t"], Start.LATEST)
    producer.send("t", b"k", b"new")  # before the group has formed and assigned anything
    producer.flush()
    assert [r.value for r in drain(consumer, 1)] == [b"new"]


def test_settings_go_to_the_clients_they_name() -> None:
    common, producer, consumer = kafka._split({
        "client_id": "x", "socket.timeout.ms": 5000, "producer_linger_ms": 0,
        "consumer.session.timeout.ms": 10_000})
    assert common == {"client.id": "x", "socket.timeout.ms": 5000}
    assert producer == {"linger.ms": 0}
    assert consumer == {"session.timeout.ms": 10_000}
