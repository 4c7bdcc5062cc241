"""confluent-kafka (librdkafka) behind the small interface every e2e test uses."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, MutableSequence, Sequence

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from .deadlines import DeadlineExceeded
from .records import CREATE_TIME, LOG_APPEND_TIME, Ack, ConsumedRecord, RangeRead, SentRecord

NAME = "confluent"
ADMIN_TIMEOUT_S = 30.0
# librdkafka reports these while a broker restarts; they are noise, not failures.
TRANSIENT_CLIENT_ERRORS = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}

_TIMESTAMP_TYPES = {
    confluent_kafka.TIMESTAMP_CREATE_TIME: CREATE_TIME,
    confluent_kafka.TIMESTAMP_LOG_APPEND_TIME: LOG_APPEND_TIME,
    confluent_kafka.TIMESTAMP_NOT_AVAILABLE: "none",
}


# Producer settings that keep many small requests in flight (for tests that interrupt them).
SMALL_BATCHES = {"batch.num.messages": 200, "linger.ms": 1}


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int, configs: Mapping[str, str] | None = None) -> None:
    # The AdminClient must outlive its futures: destroying it fails them with _DESTROY.
    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(configs or {}))],
        operation_timeout=ADMIN_TIMEOUT_S,
    )
    futures[name].result(timeout=ADMIN_TIMEOUT_S)


class ProducerHandle:
    """One librdkafka producer; acks land in `acks[index]`, failures in `errors`."""

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
        # Client-level errors that are not delivery failures (e.g. brokers down during a restart).
        self.client_events: list[str] = []
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap,
            "compression.type": codec or "none",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "message.timeout.ms": 120_000,
            "queue.buffering.max.messages": 200_000,
            "error_cb": self._on_client_error,
        }
        config.update(extra_config or {})
        self._producer = Producer(config)

    def _on_client_error(self, error: KafkaError) -> None:
        if error.fatal() or error.code() not in TRANSIENT_CLIENT_ERRORS:
            self.errors.append(f"client error: {error}")
        else:
            self.client_events.append(str(error))

    def _on_delivery(self, index: int, error: KafkaError | None, message) -> None:
        if error is not None:
            self.errors.append(f"record #{index} failed: {error}")
        else:
            self.acks[index] = Ack(message.partition(), message.offset())

    def send(self, topic: str, record: SentRecord, index: int) -> None:
        kwargs = {
            "key": record.key,
            "value": record.value,
            "headers": list(record.headers),
            "timestamp": record.timestamp_ms,
            "on_delivery": lambda error, message, index=index: self._on_delivery(index, error, message),
        }
        if record.partition is not None:
            kwargs["partition"] = record.partition
        deadline = time.monotonic() + 60
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                break
            except BufferError:
                # Local queue full: serve delivery reports until there is room (bounded wait).
                if time.monotonic() >= deadline:
                    raise DeadlineExceeded("librdkafka's queue stayed full for 60 s") from None
                self._producer.poll(0.05)
        if index % 1000 == 0:
            self._producer.poll(0)

    def send_all(self, topic: str, records: Sequence[SentRecord], first_index: int) -> None:
        for offset, record in enumerate(records):
            self.send(topic, record, first_index + offset)

    def flush(self, timeout_s: float) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise DeadlineExceeded(f"{remaining} records still unacknowledged after {timeout_s:.0f} s")

    def serve_callbacks(self) -> None:
        """Delivers pending acks to `acks` (librdkafka only calls back from poll/flush)."""
        self._producer.poll(0)

    def in_flight(self) -> int:
        self._producer.poll(0)
        return len(self._producer)

    def close(self) -> None:
        # close() flushes without a deadline: drop whatever a short flush could not deliver first
        # (a test that cared has already flushed and checked its acks).
        self._producer.flush(10)
        self._producer.purge()
        self._producer.close()


def new_consumer(bootstrap: str, extra_config: Mapping[str, object] | None = None) -> Consumer:
    config = {
        "bootstrap.servers": bootstrap,
        # librdkafka insists on a group id; nothing is committed and assign() is used, so skiff's
        # missing group coordinator should not matter.
        "group.id": f"skiff-e2e-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # An out-of-range start must surface as an error, not jump silently.
        "auto.offset.reset": "error",
        "fetch.max.bytes": 16 * 1024 * 1024,
        "max.partition.fetch.bytes": 4 * 1024 * 1024,
        # Verify every batch's CRC32C (off by default in librdkafka): skiff patches base offsets
        # in place and must never touch the checksummed bytes.
        "check.crcs": True,
    }
    config.update(extra_config or {})
    return Consumer(config)


def _to_consumed(message) -> ConsumedRecord:
    timestamp_type, timestamp = message.timestamp()
    return ConsumedRecord(
        partition=message.partition(),
        offset=message.offset(),
        key=message.key(),
        value=message.value(),
        headers=tuple(message.headers() or ()),
        timestamp_ms=timestamp,
        timestamp_type=_TIMESTAMP_TYPES.get(timestamp_type, str(timestamp_type)),
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
    read = RangeRead("confluent consumer", end_offsets, timeout_s, start_offsets)
    consumer = new_consumer(bootstrap)
    try:
        consumer.assign([TopicPartition(topic, partition, read.starts[partition]) for partition in read.wanted])
        for _ in read.polls():
            for message in consumer.consume(num_messages=10_000, timeout=0.5):
                error = message.error()
                if error is not None:
                    if message.topic() is None and error.code() in TRANSIENT_CLIENT_ERRORS:
                        continue
                    raise KafkaException(error)
                read.add(_to_consumed(message))
    finally:
        consumer.close()
    return read.records


def watermarks(bootstrap: str, topic: str, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
    consumer = new_consumer(bootstrap)
    try:
        return {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=ADMIN_TIMEOUT_S)
            for partition in partitions
        }
    finally:
        consumer.close()


def offsets_for_times(bootstrap: str, topic: str, lookups: Sequence[Mapping[int, int]]) -> list[dict[int, int | None]]:
    """ListOffsets by timestamp, one request per {partition: target} map, on one consumer;
    None where no record has a timestamp >= the target."""
    consumer = new_consumer(bootstrap)
    results: list[dict[int, int | None]] = []
    try:
        for targets in lookups:
            found = consumer.offsets_for_times(
                [TopicPartition(topic, partition, target) for partition, target in targets.items()],
                timeout=ADMIN_TIMEOUT_S,
            )
            result: dict[int, int | None] = {}
            for tp in found:
                if tp.error is not None:
                    raise KafkaException(tp.error)
                # librdkafka reports "no such record" as OFFSET_END (-1).
                result[tp.partition] = None if tp.offset == confluent_kafka.OFFSET_END else tp.offset
            results.append(result)
    finally:
        consumer.close()
    return results


def fetch_error_at(bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float) -> str:
    """The error a fetch from `offset` ends in, as a Kafka error name ("OFFSET_OUT_OF_RANGE")."""
    consumer = new_consumer(bootstrap)
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in consumer.consume(num_messages=100, timeout=0.5):
                error = message.error()
                if error is None:
                    raise AssertionError(f"read offset {message.offset()} where an error was expected")
                if message.topic() is None and error.code() in TRANSIENT_CLIENT_ERRORS:
                    continue
                # With auto.offset.reset=error librdkafka wraps the broker's answer in _AUTO_OFFSET_RESET.
                if error.code() == KafkaError._AUTO_OFFSET_RESET and "Offset out of range" in error.str():
                    return "OFFSET_OUT_OF_RANGE"
                return error.name()
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
    consumer = new_consumer(bootstrap, {"fetch.wait.max.ms": fetch_wait_ms})
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        empty_polls = 0
        while time.monotonic() < deadline:
            message = consumer.poll(0.25)
            if message is None:
                empty_polls += 1
                if empty_polls >= 4:
                    polling.set()
                continue
            if message.error() is not None:
                if message.topic() is None and message.error().code() in TRANSIENT_CLIENT_ERRORS:
                    continue
                raise KafkaException(message.error())
            return _to_consumed(message), time.monotonic()
    finally:
        polling.set()
        consumer.close()
    raise DeadlineExceeded(f"no record arrived within {timeout_s:.0f} s")


def delete_records(bootstrap: str, topic: str, offsets: Mapping[int, int]) -> dict[int, int | str]:
    """AdminClient.delete_records: each partition's new low watermark, or its error's name."""
    # The client must outlive its futures: one collected early never completes them.
    client = admin(bootstrap)
    futures = client.delete_records(
        [TopicPartition(topic, partition, offset) for partition, offset in offsets.items()],
        request_timeout=ADMIN_TIMEOUT_S,
    )
    results: dict[int, int | str] = {}
    for tp, future in futures.items():
        try:
            results[tp.partition] = future.result(timeout=ADMIN_TIMEOUT_S).low_watermark
        except KafkaException as error:
            results[tp.partition] = error.args[0].name()
    return results


def first_offset_after_reset(bootstrap: str, topic: str, partition: int, committed: int, timeout_s: float) -> int:
    """A group member whose committed offset is `committed` (below the log start) starts, with
    auto.offset.reset=earliest: the offset of the first record it reads."""
    group = f"skiff-e2e-reset-{uuid.uuid4().hex[:8]}"
    consumer = new_consumer(bootstrap, {"group.id": group, "auto.offset.reset": "earliest"})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, committed)], asynchronous=False)
        consumer.assign([TopicPartition(topic, partition)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1, timeout=0.5):
                error = message.error()
                if error is not None:
                    if message.topic() is None and error.code() in TRANSIENT_CLIENT_ERRORS:
                        continue
                    raise KafkaException(error)
                return message.offset()
    finally:
        consumer.close()
    raise DeadlineExceeded(f"no record within {timeout_s:.0f} s after committing {committed} in {topic}/{partition}")
