"""The Kafka bus: the port on Apache Kafka through confluent-kafka (librdkafka).

Names
    Every topic, group and transactional id is prefixed with the bus's `namespace` (say
    "x1."), so several exchanges, and every test, share one cluster without seeing each
    other. The port's API takes and returns names without the prefix.

Producing
    Producers are idempotent (retries neither duplicate nor reorder) and use librdkafka's
    `murmur2_random` partitioner: it hashes a key as Kafka's Java clients do, so a record
    lands on `port.partition_for(key, partitions)` and every client agrees (librdkafka's
    default, CRC32, would not). `flush` waits until every queued record is acknowledged
    (acks=all) and raises `BusError` if any failed.

The atomic commit
    Consumers read with `isolation.level=read_committed` and never commit on their own.
    With a `transactional_id`, `commit(outputs)` is one Kafka transaction holding the
    outputs and the group's new positions for every partition polled since the last
    commit (`send_offsets_to_transaction`); read_committed readers see its outputs only
    once it commits, and the group's position moves at the same instant. If it fails
    before committing it is aborted, `BusError` is raised and the consumer rewinds, so
    those records are polled again. Starting a consumer with a transactional id fences
    every older producer with that id and aborts the transaction it left open: the
    zombie's next commit raises `BusError`, as does every commit after a fatal error or a
    commit whose outcome is unknown; such a consumer must be closed and made again.
    Without a transactional id `commit` flushes the outputs, then commits the positions
    synchronously: at-least-once, since a crash in between publishes the outputs again.

Rebalances
    Eager (`range`), with the classic group protocol: a member gives up all its partitions
    before the group reassigns them. Revocation runs inside `poll`, never between a poll
    and its commit; it drops the positions of the lost partitions, so records polled from
    them and not committed go to the next owner, from the group's committed position.

Crashes
    A crash before `commit` loses nothing: the group's positions still point at the first
    uncommitted record and no output of the batch is visible. A crash inside `commit` can
    leave a transaction open: its outputs are never shown, but read_committed readers of
    the partitions it wrote stall at it until the consumer with the same transactional id
    starts again (aborting it) or the broker aborts it after `transaction.timeout.ms`
    (10 s here). `committed` waits for such a transaction to settle in the same way.

Readers
    A reader assigns itself the partitions and offsets it is given, under a throwaway
    group id it never commits with. An offset outside the partition's records raises
    `BusError` rather than silently starting elsewhere.

Settings
    Keyword settings are librdkafka properties, for every client; underscores may stand
    for dots (`socket_timeout_ms`), and a `consumer.` or `producer.` prefix (`consumer_`,
    `producer_`) sends one to that kind of client only. The defaults below are for low
    latency and quick tests: 1 ms linger, 6 s sessions. A fetch is answered as soon as a
    record is readable (also when a transaction's commit makes records readable), so the
    fetch wait only bounds how often an idle consumer asks: 100 ms, not librdkafka's
    500 ms; 5 ms made an idle broker spend a fifth of a core and was no faster.

Cost and known limits
    On loopback (2 busy cores) a commit of one record took about 4 ms at the median and
    25-70 ms at p99, and its output reached a reader 5 ms after the input was polled; a
    batch of 500 inputs and 500 outputs commits in 4-16 ms, so commit per batch. A consumer
    with `Start.LATEST` takes the end as it is when the consumer is made (the last stable
    offset), not when its partitions are assigned. Partition counts are read once and
    cached: topics are never grown. On one broker `acks=all` means `acks=1`.
"""

import threading
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress

from confluent_kafka import Producer as KafkaProducer

from exchange.bus.kafka_admin import TIMEOUT, Admin, Setting, driver
from exchange.bus.kafka_clients import KafkaBusConsumer, KafkaBusProducer
from exchange.bus.port import Bus, BusError, Consumer, Producer, Start

_PRODUCER: dict[str, Setting] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "linger.ms": 1,
}
# A transaction that starts while the previous one's markers are still being written is
# refused (CONCURRENT_TRANSACTIONS) and retried after retry.backoff.ms: 100 ms by default.
_TRANSACTIONAL: dict[str, Setting] = {"transaction.timeout.ms": 10_000, "retry.backoff.ms": 5,
                                      "retry.backoff.max.ms": 100}
_CONSUMER: dict[str, Setting] = {
    "isolation.level": "read_committed",
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": False,
    "fetch.wait.max.ms": 100,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "partition.assignment.strategy": "range",
}


class KafkaBus(Bus):
    def __init__(self, bootstrap: str, namespace: str = "", replication: int = 1,
                 **settings: Setting) -> None:
        common, producer, consumer = _split(settings)
        common["bootstrap.servers"] = bootstrap
        self.namespace = namespace
        self._replication = replication
        self._producer_config = {**common, **_PRODUCER, **producer}
        self._transactional_config = {**common, **_PRODUCER, **_TRANSACTIONAL, **producer}
        self._consumer_config = {**common, **_CONSUMER, **consumer}
        self._admin = Admin(common)
        self._partitions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._clients: set[KafkaBusProducer | KafkaBusConsumer] = set()

    # ---- topics ---------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int) -> None:
        if partitions < 1:
            raise BusError(f"expected at least 1 partition, got {partitions}")
        existing = self._admin.create_topic(self.namespace + name, partitions, self._replication)
        if existing != partitions:
            raise BusError(f"topic {name} has {existing} partitions, not {partitions}")
        self._partitions[name] = partitions

    def partitions(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = self._admin.partitions(self.namespace + topic)
            if count is None:
                raise BusError(f"unknown topic {topic}")
            self._partitions[topic] = count
        return count

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        if not self.namespace + group:
            return None
        # A transaction left open by a crash holds the group's offsets until the broker
        # aborts it: up to its timeout plus the broker's 10 s sweep for expired ones.
        patience = float(self._transactional_config["transaction.timeout.ms"]) / 1000 + 15
        return self._admin.committed(self.namespace + group, self.namespace + topic, partition,
                                     patience)

    # ---- clients --------------------------------------------------------------------

    def producer(self) -> Producer:
        producer = KafkaBusProducer(self, self._producer_config)
        self._register(producer)
        return producer

    def consumer(self, group: str, topics: Sequence[str], start: Start = Start.EARLIEST,
                 transactional_id: str = "") -> Consumer:
        pairs = [(self.namespace + t, p) for t in topics for p in range(self.partitions(t))]
        ends = self._admin.ends(pairs) if start is Start.LATEST else None
        config = {**self._consumer_config, "group.id": self.namespace + group,
                  "auto.offset.reset": "earliest" if start is Start.EARLIEST else "latest"}
        # The producer comes first: init_transactions fences the previous instance and
        # aborts its open transaction, so the group's offsets are settled when we join.
        transactional = self._transactional(transactional_id) if transactional_id else None
        try:
            consumer = KafkaBusConsumer(self, config, transactional=transactional,
                                        plain=self._producer_config, ends=ends)
            with driver(f"joining group {group}"):
                consumer.subscribe([self.namespace + t for t in topics])
        except BaseException:
            if transactional is not None:
                transactional.close()
            raise
        self._register(consumer)
        return consumer

    def reader(self, positions: Mapping[tuple[str, int], int]) -> Consumer:
        for topic, partition in positions:
            if not 0 <= partition < self.partitions(topic):
                raise BusError(f"topic {topic} has no partition {partition}")
        config = {**self._consumer_config, "auto.offset.reset": "error",
                  "group.id": f"{self.namespace}reader-{uuid.uuid4().hex}"}
        reader = KafkaBusConsumer(self, config, grouped=False)
        with driver("starting a reader"):
            reader.place(positions)
        self._register(reader)
        return reader

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients), set()
        for client in clients:
            with suppress(BusError):
                client.close()

    # ---- internals ------------------------------------------------------------------

    def _transactional(self, transactional_id: str) -> KafkaProducer:
        config = {**self._transactional_config,
                  "transactional.id": self.namespace + transactional_id}
        with driver(f"starting transactional producer {transactional_id}"):
            producer = KafkaProducer(config)
        try:
            with driver(f"initialising transactions of {transactional_id}"):
                producer.init_transactions(TIMEOUT)
        except BusError:
            producer.close()
            raise
        return producer

    def _register(self, client: KafkaBusProducer | KafkaBusConsumer) -> None:
        with self._lock:
            self._clients.add(client)

    def forget(self, client: KafkaBusProducer | KafkaBusConsumer) -> None:
        """Stop tracking a client that closed itself."""
        with self._lock:
            self._clients.discard(client)


def _split(settings: Mapping[str, Setting]) -> tuple[dict[str, Setting], ...]:
    """Sort settings into those for every client, for producers and for consumers."""
    common: dict[str, Setting] = {}
    producer: dict[str, Setting] = {}
    consumer: dict[str, Setting] = {}
    for key, value in settings.items():
        name = key if "." in key else key.replace("_", ".")
        role, _, rest = name.partition(".")
        if role == "producer" and rest:
            producer[rest] = value
        elif role == "consumer" and rest:
            consumer[rest] = value
        else:
            common[name] = value
    return common, producer, consumer
