"""The Kafka bus's clients: a producer, and a consumer that is a group member or a reader.

`KafkaBus` (exchange.bus.kafka) makes them and describes what they promise. Topic names
here are full names on the cluster; records handed to the caller carry them without the
bus's namespace.
"""

import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any, Protocol

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Producer as KafkaProducer

from exchange.bus.kafka_admin import TIMEOUT, Setting, driver, driver_error, kafka_error
from exchange.bus.port import BusError, Consumer, Outgoing, Producer, Record


class Owner(Protocol):
    """What a client needs of the bus that made it."""

    namespace: str

    def partitions(self, topic: str) -> int: ...

    def forget(self, client: "KafkaBusProducer | KafkaBusConsumer") -> None: ...


def _produce(producer: KafkaProducer, topic: str, key: bytes, value: bytes,
             on_delivery: Any = None) -> None:
    """Queue one record, waiting for deliveries to make room when the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


def _commit_transaction(producer: KafkaProducer) -> None:
    """Commit the open transaction, retrying what librdkafka says may be retried."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            producer.commit_transaction(TIMEOUT)
            return
        except KafkaException as exception:
            error = kafka_error(exception)
            if error is None or not error.retriable() or time.monotonic() > deadline:
                raise


class KafkaBusProducer(Producer):
    def __init__(self, bus: Owner, config: dict[str, Setting]) -> None:
        self._bus = bus
        self._failure: KafkaError | None = None
        self._closed = False
        with driver("starting a producer"):
            self._producer = KafkaProducer({**config, "error_cb": self._client_error})

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self._bus.partitions(topic)
        with driver(f"sending to {topic}"):
            _produce(self._producer, self._bus.namespace + topic, key, value, self._delivered)

    def flush(self, timeout: float = 10.0) -> None:
        with driver("flushing"):
            left = self._producer.flush(timeout)
        failure, self._failure = self._failure, None
        if failure is not None:
            raise driver_error("delivering a record", failure)
        if left:
            raise BusError(f"{left} records were not delivered within {timeout} s")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus.forget(self)
        try:
            self.flush()
        finally:
            self._producer.purge()  # what flush could not deliver: close would wait for it
            self._producer.close()

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None and self._failure is None:
            self._failure = error

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal() and self._failure is None:
            self._failure = error  # otherwise librdkafka recovers (reconnects, retries)


class KafkaBusConsumer(Consumer):
    """A group member (`grouped`) or a reader of fixed partitions."""

    def __init__(self, bus: Owner, config: dict[str, Setting], *, grouped: bool = True,
                 transactional: KafkaProducer | None = None,
                 plain: dict[str, Setting] | None = None,
                 ends: dict[tuple[str, int], int] | None = None) -> None:
        self._bus = bus
        self._grouped = grouped
        self._transactional = transactional
        self._plain_config = plain or {}  # for the outputs of a non-transactional commit
        self._plain: KafkaProducer | None = None
        self._ends = ends  # where a LATEST group with no committed position starts
        # (full topic, partition) -> [first, next] offsets polled since the last commit
        self._pending: dict[tuple[str, int], list[int]] = {}
        self._batch: list[Record] = []
        self._lost: set[tuple[str, int]] = set()  # (topic, partition) revoked since asked
        self._failure: BusError | None = None  # raised once, by the next call
        self._fatal: BusError | None = None  # raised by every later call
        self._closed = False
        with driver("starting a consumer"):
            self._consumer = KafkaConsumer({**config, "error_cb": self._client_error})

    def subscribe(self, topics: list[str]) -> None:
        self._consumer.subscribe(topics, on_assign=self._assigned, on_revoke=self._revoked,
                                 on_lost=self._revoked)

    def place(self, positions: Mapping[tuple[str, int], int]) -> None:
        self._consumer.assign([TopicPartition(self._bus.namespace + t, p, o)
                               for (t, p), o in positions.items()])

    def assignment(self) -> list[tuple[str, int]]:
        if self._closed:
            return []
        strip = len(self._bus.namespace)
        with driver("reading the assignment"):
            return sorted((tp.topic[strip:], tp.partition) for tp in self._consumer.assignment())

    def revoked(self) -> set[tuple[str, int]]:
        # Filled by the rebalance callbacks, which run inside poll on this thread.
        lost, self._lost = self._lost, set()
        return lost

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        if self._closed:
            return []
        self._raise_failure()
        # consume() waits for all of max_records or the whole timeout, so wait for the
        # first record with poll() and then take what has arrived with it.
        self._batch = []
        try:
            with driver("polling"):
                self._take(self._consumer.consume(max_records, 0))
                if not self._batch and timeout > 0:
                    first = self._consumer.poll(timeout)
                    if first is not None:
                        self._take([first])
                        if len(self._batch) < max_records:
                            self._take(self._consumer.consume(max_records - len(self._batch), 0))
        except BusError as error:
            if not self._batch:
                raise
            self._failure = self._failure or error  # the records taken are returned first
        batch, self._batch = self._batch, []
        if not batch:
            self._raise_failure()
        return batch

    def commit(self, outputs: Sequence[Outgoing] = ()) -> None:
        if not self._grouped:
            raise BusError("a reader belongs to no group and cannot commit")
        if self._closed:
            raise BusError("the consumer is closed")
        self._raise_failure()
        offsets = [TopicPartition(t, p, span[1]) for (t, p), span in self._pending.items()]
        if not offsets and not outputs:
            return
        try:
            for out in outputs:
                self._bus.partitions(out.topic)
            if self._transactional is None:
                self._publish(outputs)
                self._commit_offsets(offsets)
            else:
                self._transact(self._transactional, outputs, offsets)
        except BusError:
            self._rewind()
            raise
        self._pending.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus.forget(self)
        try:
            with driver("closing a consumer"), suppress(RuntimeError):  # closed already
                self._consumer.close()
        finally:
            for producer in (self._transactional, self._plain):
                if producer is not None:
                    with suppress(KafkaException):
                        producer.close()

    # ---- internals ------------------------------------------------------------------

    def _take(self, messages: list[Message]) -> None:
        strip = len(self._bus.namespace)
        for message in messages:
            error = message.error()
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if error is not None or topic is None or partition is None or offset is None:
                if error is None or error.code() != KafkaError._PARTITION_EOF:
                    # The records before it are returned; the next call raises it.
                    self._failure = self._failure or driver_error(
                        "polling", error or BusError("a record without an offset"))
                continue
            span = self._pending.setdefault((topic, partition), [offset, offset])
            span[1] = offset + 1
            self._batch.append(Record(topic[strip:], partition, offset,
                                      message.key() or b"", message.value() or b""))

    def _assigned(self, consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
        if self._ends is None:
            return  # the driver assigns them from the group's positions or the start
        # LATEST: a partition the group has no position in starts where it ended when
        # this consumer was created, not wherever it ends by the time it is assigned.
        try:
            committed = consumer.committed(partitions, TIMEOUT)
        except KafkaException as exception:
            raise driver_error("reading committed offsets", exception) from exception
        for tp in committed:
            if tp.offset < 0:
                tp.offset = self._ends.get((tp.topic, tp.partition), OFFSET_END)
        consumer.assign(committed)

    def _revoked(self, _consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
        # Positions and records polled (in this poll call) from lost partitions are
        # dropped: the new owner gets the records from the group's committed position.
        strip = len(self._bus.namespace)
        gone = {(tp.topic[strip:], tp.partition) for tp in partitions}
        self._lost |= gone
        for tp in partitions:
            self._pending.pop((tp.topic, tp.partition), None)
        self._batch = [r for r in self._batch if (r.topic, r.partition) not in gone]

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():  # otherwise librdkafka recovers (reconnects, retries)
            self._fatal = self._fatal or driver_error("consuming", error)

    def _transact(self, producer: KafkaProducer, outputs: Sequence[Outgoing],
                  offsets: list[TopicPartition]) -> None:
        committing = False
        try:
            producer.begin_transaction()
            for out in outputs:
                _produce(producer, self._bus.namespace + out.topic, out.key, out.value)
            if offsets:
                producer.send_offsets_to_transaction(
                    offsets, self._consumer.consumer_group_metadata(), TIMEOUT)
            committing = True
            _commit_transaction(producer)
        except KafkaException as exception:
            error = kafka_error(exception)
            failure = driver_error("committing a transaction", exception)
            # Abort what surely did not commit; a fenced producer, or a commit whose
            # outcome is unknown, leaves this consumer unable to go on.
            if error is not None and not error.fatal() and (
                    not committing or error.txn_requires_abort()):
                try:
                    producer.abort_transaction(TIMEOUT)
                except KafkaException as abort:
                    failure = driver_error("aborting a failed transaction", abort)
                else:
                    raise BusError(f"{failure} (aborted)") from exception
            self._fatal = BusError(f"{failure}; this consumer can no longer commit")
            # A fenced producer can neither abort nor flush, so not close: drop it.
            with suppress(KafkaException):
                producer.purge()
            self._transactional = None
            raise failure from exception

    def _publish(self, outputs: Sequence[Outgoing]) -> None:
        if not outputs:
            return
        if self._plain is None:
            with driver("starting a producer"):
                self._plain = KafkaProducer(self._plain_config)
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        with driver("sending outputs"):
            for out in outputs:
                _produce(self._plain, self._bus.namespace + out.topic, out.key, out.value,
                         delivered)
            left = self._plain.flush(TIMEOUT)
        if failures:
            raise driver_error("delivering an output", failures[0])
        if left:
            raise BusError(f"{left} outputs were not delivered within {TIMEOUT} s")

    def _commit_offsets(self, offsets: list[TopicPartition]) -> None:
        if not offsets:
            return
        with driver("committing offsets"):
            answers = self._consumer.commit(offsets=offsets, asynchronous=False)
        for tp in answers:
            if tp.error is not None:
                raise driver_error(f"committing the offset of {tp.topic}[{tp.partition}]",
                                   tp.error)

    def _rewind(self) -> None:
        """Seek back to the first record polled since the last commit, to deliver it again."""
        for (topic, partition), (first, _) in self._pending.items():
            with suppress(KafkaException):
                self._consumer.seek(TopicPartition(topic, partition, first))
        self._pending.clear()

    def _raise_failure(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
