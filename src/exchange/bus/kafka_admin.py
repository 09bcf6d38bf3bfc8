"""Cluster operations of the Kafka bus: topics, committed offsets, end offsets, driver errors.

Names here are the full names on the cluster (namespace included); `KafkaBus` strips and
adds the namespace. Every call waits for its answer and turns a driver error into a
`BusError` that names the operation.
"""

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from confluent_kafka.cimpl import NewTopic

from exchange.bus.port import BusError

Setting = str | int | float | bool
TIMEOUT = 10.0  # seconds any one cluster operation may take


def driver_error(what: str, error: BaseException | KafkaError) -> BusError:
    """Describe a driver error as a `BusError` saying what was being done."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        error = error.args[0]
    if isinstance(error, KafkaError):
        return BusError(f"{what} failed: {error.name()}: {error.str()}")
    return BusError(f"{what} failed: {error}")


def kafka_error(exception: KafkaException) -> KafkaError | None:
    """Return the `KafkaError` a driver exception carries, if it carries one."""
    first = exception.args[0] if exception.args else None
    return first if isinstance(first, KafkaError) else None


@contextmanager
def driver(what: str) -> Iterator[None]:
    """Turn driver exceptions raised inside the block into `BusError`."""
    try:
        yield
    except KafkaException as exception:
        raise driver_error(what, exception) from exception


class Admin:
    """The bus's administrative client, shared by every thread."""

    def __init__(self, config: dict[str, Setting]) -> None:
        self._client = AdminClient(config)

    def create_topic(self, topic: str, partitions: int, replication: int) -> int:
        """Create `topic` unless it exists; return its partition count once it is visible."""
        new = NewTopic(topic, num_partitions=partitions, replication_factor=replication)
        futures = self._client.create_topics([new], request_timeout=TIMEOUT,
                                             operation_timeout=TIMEOUT)
        try:
            futures[topic].result()
        except KafkaException as exception:
            error = kafka_error(exception)
            if error is None or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise driver_error(f"creating topic {topic}", exception) from exception
        deadline = time.monotonic() + TIMEOUT
        while True:
            count = self.partitions(topic)
            if count is not None:
                return count
            if time.monotonic() > deadline:
                raise BusError(f"topic {topic} was created but its metadata never appeared")
            time.sleep(0.05)

    def partitions(self, topic: str) -> int | None:
        """Return the partition count of `topic` once every partition has a leader, else None."""
        with driver(f"reading the metadata of topic {topic}"):
            metadata = self._client.list_topics(topic, timeout=TIMEOUT)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        if any(p.leader < 0 or p.error is not None for p in found.partitions.values()):
            return None
        return len(found.partitions)

    def committed(self, group: str, topic: str, partition: int, patience: float) -> int | None:
        """Return the group's stable committed offset, waiting up to `patience` s for it.

        While a transaction that commits the group's offsets is open, or committed but its
        markers are not written yet, the broker answers UNSTABLE_OFFSET_COMMIT; asking again
        once it has settled gets the offset it left.
        """
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition)])
        deadline = time.monotonic() + patience
        what = f"reading the committed offset of group {group} in {topic}[{partition}]"
        while True:
            try:
                result: Any = self._client.list_consumer_group_offsets(
                    [request], require_stable=True, request_timeout=TIMEOUT)[group].result()
                error: KafkaError | None = None
                offset = -1
                for answer in result.topic_partitions or ():
                    error, offset = answer.error, answer.offset
            except KafkaException as exception:
                error = kafka_error(exception)
                if error is None:
                    raise driver_error(what, exception) from exception
            if error is None:
                return offset if offset >= 0 else None
            if error.code() in (KafkaError.GROUP_ID_NOT_FOUND, KafkaError.INVALID_GROUP_ID):
                return None
            if not error.retriable() and error.code() != KafkaError.UNSTABLE_OFFSET_COMMIT:
                raise driver_error(what, error)
            if time.monotonic() > deadline:
                raise driver_error(what + f" (still unsettled after {patience} s)", error)
            time.sleep(0.02)

    def ends(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Return the last stable offset of each partition: where read_committed reads end."""
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(t, p): latest for t, p in pairs}
        if not request:
            return {}
        futures = self._client.list_offsets(request, isolation_level=IsolationLevel.READ_COMMITTED,
                                            request_timeout=TIMEOUT)
        ends = {}
        for asked, future in futures.items():
            with driver(f"reading the end offset of {asked.topic}[{asked.partition}]"):
                ends[(asked.topic, asked.partition)] = int(future.result().offset)
        return ends
