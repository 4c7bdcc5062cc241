"""kafka-python (pure Python) behind the small interface every e2e test uses."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, MutableSequence, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError
from kafka.structs import OffsetAndMetadata

from .deadlines import DeadlineExceeded
from .records import CREATE_TIME, LOG_APPEND_TIME, Ack, ConsumedRecord, RangeRead, SentRecord

NAME = "kafka-python"
REQUEST_TIMEOUT_MS = 30_000

_TIMESTAMP_TYPES = {0: CREATE_TIME, 1: LOG_APPEND_TIME}


# Producer settings that keep many small requests in flight (for tests that interrupt them).
SMALL_BATCHES = {"batch_size": 4096, "linger_ms": 1}


def admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)


def create_topic(bootstrap: str, name: str, partitions: int, configs: Mapping[str, str] | None = None) -> None:
    client = admin(bootstrap)
    try:
        client.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1, "configs": dict(configs or {})}},
            timeout_ms=REQUEST_TIMEOUT_MS,
        )
    finally:
        client.close()


class ProducerHandle:
    """One KafkaProducer; acks land in `acks[index]`, failures in `errors`."""

    def __init__(
        self,
        bootstrap: str,
        acks: MutableSequence[Ack | None],
        errors: list[str],
        codec: str | None,
        extra_config: Mapping[str, object] | None = None,
    ) -> None:
        self.acks = acks
        self.errors = errors
        self.client_events: list[str] = []
        config: dict[str, object] = {
            "bootstrap_servers": bootstrap,
            "compression_type": codec,
            "acks": "all",
            "enable_idempotence": True,
            # kafka-python is slow per record; big batches and some linger keep it moving.
            "linger_ms": 20,
            "batch_size": 512 * 1024,
            "metrics_enabled": False,
            "max_request_size": 16 * 1024 * 1024,
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
        }
        config.update(extra_config or {})
        self._producer = KafkaProducer(**config)

    def _on_ack(self, index: int, metadata) -> None:
        self.acks[index] = Ack(metadata.partition, metadata.offset)

    def _on_error(self, index: int, error: Exception) -> None:
        self.errors.append(f"record #{index} failed: {type(error).__name__}: {error}")

    def send(self, topic: str, record: SentRecord, index: int) -> None:
        future = self._producer.send(
            topic,
            key=record.key,
            value=record.value,
            headers=list(record.headers),
            partition=record.partition,
            timestamp_ms=record.timestamp_ms,
        )
        future.add_callback(self._on_ack, index)
        future.add_errback(self._on_error, index)

    def send_all(self, topic: str, records: Sequence[SentRecord], first_index: int) -> None:
        for offset, record in enumerate(records):
            self.send(topic, record, first_index + offset)

    def flush(self, timeout_s: float) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except Exception as error:  # kafka-python raises KafkaTimeoutError; keep the type in the message
            raise DeadlineExceeded(f"kafka-python flush did not finish in {timeout_s:.0f} s: {error!r}") from error

    def serve_callbacks(self) -> None:
        """Nothing to do: kafka-python calls back from its own I/O thread."""

    def close(self) -> None:
        self._producer.close(timeout=30)


def new_consumer(bootstrap: str, extra_config: Mapping[str, object] | None = None) -> KafkaConsumer:
    config: dict[str, object] = dict(
        bootstrap_servers=bootstrap,
        # No group: kafka-python then never looks for a coordinator (skiff has none yet).
        group_id=None,
        enable_auto_commit=False,
        # An out-of-range start must raise, not jump silently.
        auto_offset_reset="none",
        max_poll_records=20_000,
        metrics_enabled=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    config.update(extra_config or {})
    return KafkaConsumer(**config)


def _to_consumed(record) -> ConsumedRecord:
    return ConsumedRecord(
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        timestamp_ms=record.timestamp,
        timestamp_type=_TIMESTAMP_TYPES.get(record.timestamp_type, str(record.timestamp_type)),
    )


def consume(
    bootstrap: str,
    topic: str,
    end_offsets: Mapping[int, int],
    timeout_s: float,
    start_offsets: Mapping[int, int] | None = None,
) -> list[ConsumedRecord]:
    """Reads every partition from its start offset (default 0) up to, excluding, its end offset,
    via assign()."""
    read = RangeRead("kafka-python consumer", end_offsets, timeout_s, start_offsets)
    consumer = new_consumer(bootstrap)
    try:
        partitions = [TopicPartition(topic, partition) for partition in read.wanted]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, read.starts[tp.partition])
        for _ in read.polls():
            for batch in consumer.poll(timeout_ms=500).values():
                for message in batch:
                    read.add(_to_consumed(message))
    finally:
        consumer.close()
    return read.records


def watermarks(bootstrap: str, topic: str, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
    consumer = new_consumer(bootstrap)
    try:
        tps = [TopicPartition(topic, partition) for partition in partitions]
        low = consumer.beginning_offsets(tps, timeout_ms=REQUEST_TIMEOUT_MS)
        high = consumer.end_offsets(tps, timeout_ms=REQUEST_TIMEOUT_MS)
    finally:
        consumer.close()
    return {tp.partition: (low[tp], high[tp]) for tp in tps}


def offsets_for_times(bootstrap: str, topic: str, lookups: Sequence[Mapping[int, int]]) -> list[dict[int, int | None]]:
    """ListOffsets by timestamp, one request per {partition: target} map, on one consumer;
    None where no record has a timestamp >= the target."""
    consumer = new_consumer(bootstrap)
    results: list[dict[int, int | None]] = []
    try:
        for targets in lookups:
            found = consumer.offsets_for_times(
                {TopicPartition(topic, partition): target for partition, target in targets.items()},
                timeout_ms=REQUEST_TIMEOUT_MS,
            )
            results.append({tp.partition: (None if hit is None else hit.offset) for tp, hit in found.items()})
    finally:
        consumer.close()
    return results


def fetch_error_at(bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float) -> str:
    """The error a fetch from `offset` ends in, as a Kafka error name ("OFFSET_OUT_OF_RANGE")."""
    consumer = new_consumer(bootstrap)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                batches = consumer.poll(timeout_ms=500)
            except OffsetOutOfRangeError:
                return "OFFSET_OUT_OF_RANGE"
            for batch in batches.values():
                raise AssertionError(f"read offset {batch[0].offset} where an error was expected")
    finally:
        consumer.close()
    raise DeadlineExceeded(f"no error and no record within {timeout_s:.0f} s fetching {topic}/{partition} at {offset}")


def next_record_when_it_comes(
    bootstrap: str,
    topic: str,
    partition: int,
    offset: int,
    fetch_wait_ms: int,
    polling: threading.Event,
    timeout_s: float,
) -> tuple[ConsumedRecord, float]:
    """Tails a partition from `offset` with long fetch waits; sets `polling` once fetches are
    parked on the broker, returns the first record and the monotonic time it arrived."""
    consumer = new_consumer(bootstrap, {"fetch_max_wait_ms": fetch_wait_ms})
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        empty_polls = 0
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=250, max_records=1)
            for batch in batches.values():
                return _to_consumed(batch[0]), time.monotonic()
            empty_polls += 1
            if empty_polls >= 4:
                polling.set()
    finally:
        polling.set()
        consumer.close()
    raise DeadlineExceeded(f"no record arrived within {timeout_s:.0f} s")


def delete_records(bootstrap: str, topic: str, offsets: Mapping[int, int]) -> dict[int, int | str]:
    """KafkaAdminClient.delete_records: each partition's new low watermark, or its error's name
    (kafka-python raises on the first failed partition, so an error is reported for all)."""
    client = admin(bootstrap)
    try:
        found = client.delete_records({TopicPartition(topic, p): o for p, o in offsets.items()})
    except KafkaError as error:
        return {partition: type(error).__name__ for partition in offsets}
    finally:
        client.close()
    return {tp.partition: result["low_watermark"] for tp, result in found.items()}


def first_offset_after_reset(bootstrap: str, topic: str, partition: int, committed: int, timeout_s: float) -> int:
    """A group member whose committed offset is `committed` (below the log start) starts, with
    auto_offset_reset=earliest: the offset of the first record it reads."""
    group = f"skiff-e2e-reset-{uuid.uuid4().hex[:8]}"
    consumer = new_consumer(bootstrap, {"group_id": group, "auto_offset_reset": "earliest"})
    try:
        tp = TopicPartition(topic, partition)
        consumer.commit({tp: OffsetAndMetadata(committed, None, -1)})
        consumer.assign([tp])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=1).values():
                return batch[0].offset
    finally:
        consumer.close()
    raise DeadlineExceeded(f"no record within {timeout_s:.0f} s after committing {committed} in {topic}/{partition}")
