"""assign() consumers with a group id but no subscribe(): they commit and read committed offsets
without joining the group ("standalone" commits, generation -1 and no member id). Each call uses
one consumer in the calling thread and closes it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import ModuleType

import confluent_kafka
import kafka
from confluent_kafka import KafkaException, TopicPartition
from kafka.errors import CommitFailedError
from kafka.errors import KafkaError as KafkaPythonError
from kafka.structs import OffsetAndMetadata

from . import confluent_client, kafka_python_client
from .deadlines import DeadlineExceeded
from .group_admin import CommittedOffset, kafka_error_name

TIMEOUT_S = 30.0
# kafka-python retries commits that fail with a retriable error (UNKNOWN_TOPIC_OR_PARTITION is
# one) until this runs out.
KAFKA_PYTHON_COMMIT_TIMEOUT_MS = 3_000


def _confluent(bootstrap: str, group: str) -> confluent_kafka.Consumer:
    # "error": a partition without a committed offset must fail, not silently start elsewhere.
    return confluent_client.new_consumer(bootstrap, {"group.id": group, "auto.offset.reset": "error"})


def _kafka_python(bootstrap: str, group: str) -> kafka.KafkaConsumer:
    return kafka_python_client.new_consumer(bootstrap, {"group_id": group, "auto_offset_reset": "none"})


def commit(
    client: ModuleType, bootstrap: str, group: str, topic: str, offsets: Mapping[int, tuple[int, str]]
) -> str | None:
    """Commits {partition: (offset, metadata)} from an assign() consumer; the Kafka error name of
    the first failure, or None when all were stored."""
    if client.NAME == confluent_client.NAME:
        consumer = _confluent(bootstrap, group)
        try:
            consumer.assign([TopicPartition(topic, p) for p in offsets])
            wanted = [TopicPartition(topic, p, o, m) for p, (o, m) in sorted(offsets.items())]
            try:
                results = consumer.commit(offsets=wanted, asynchronous=False)
            except KafkaException as error:
                code = error.args[0].code()
                return kafka_error_name(code) if code > 0 else error.args[0].name()
            failed = [tp.error for tp in results or () if tp.error is not None]
            return kafka_error_name(failed[0].code()) if failed else None
        finally:
            consumer.close()
    consumer = _kafka_python(bootstrap, group)
    try:
        partitions = {kafka.TopicPartition(topic, p): OffsetAndMetadata(o, m, -1) for p, (o, m) in offsets.items()}
        consumer.assign(list(partitions))
        try:
            consumer.commit(partitions, timeout_ms=KAFKA_PYTHON_COMMIT_TIMEOUT_MS)
        except CommitFailedError as error:
            # kafka-python wraps the broker's answer (e.g. UNKNOWN_MEMBER_ID) in CommitFailedError.
            cause = error.args[0] if error.args else None
            return cause.message if isinstance(cause, KafkaPythonError) else "CommitFailedError"
        except KafkaPythonError as error:
            return getattr(error, "message", type(error).__name__)
        return None
    finally:
        consumer.close(autocommit=False)


def committed(
    client: ModuleType, bootstrap: str, group: str, topic: str, partitions: range
) -> dict[int, CommittedOffset]:
    """The committed offsets and metadata the consumer API reports (partitions without: left out)."""
    if client.NAME == confluent_client.NAME:
        consumer = _confluent(bootstrap, group)
        try:
            found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=TIMEOUT_S)
        finally:
            consumer.close()
        for tp in found:
            if tp.error is not None:
                raise KafkaException(tp.error)
        return {tp.partition: CommittedOffset(tp.offset, tp.metadata or "") for tp in found if tp.offset >= 0}
    consumer = _kafka_python(bootstrap, group)
    try:
        result = {}
        for p in partitions:
            found = consumer.committed(kafka.TopicPartition(topic, p), metadata=True, timeout_ms=int(TIMEOUT_S * 1000))
            if found is not None and found.offset >= 0:
                result[p] = CommittedOffset(found.offset, found.metadata or "")
        return result
    finally:
        consumer.close(autocommit=False)


def read_from_committed(
    client: ModuleType, bootstrap: str, group: str, topic: str, ends: Mapping[int, int], timeout_s: float
) -> dict[int, list[int]]:
    """assign() without positions, so each partition starts at the group's committed offset;
    reads up to `ends` (each above its committed offset) and returns the offsets read per partition."""
    read: dict[int, list[int]] = {p: [] for p in ends}

    def done() -> bool:
        return all((offsets[-1] + 1 if offsets else -1) >= ends[p] for p, offsets in read.items())

    deadline = time.monotonic() + timeout_s
    if client.NAME == confluent_client.NAME:
        consumer = _confluent(bootstrap, group)
        try:
            consumer.assign([TopicPartition(topic, p) for p in ends])
            while not done() and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=1000, timeout=0.2):
                    if message.error() is not None:
                        raise KafkaException(message.error())
                    read[message.partition()].append(message.offset())
        finally:
            consumer.close()
    else:
        consumer = _kafka_python(bootstrap, group)
        try:
            consumer.assign([kafka.TopicPartition(topic, p) for p in ends])
            while not done() and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    for message in batch:
                        read[message.partition].append(message.offset)
        finally:
            consumer.close(autocommit=False)
    if not done():
        raise DeadlineExceeded(
            f"read {read} from the committed offsets, wanted up to {dict(ends)} in {timeout_s:.0f} s"
        )
    return read
