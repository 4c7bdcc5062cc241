"""Produce beyond the default path: acks=0 and acks=1 without idempotence, and the per-topic
max.message.bytes limit."""

from __future__ import annotations

import random
from types import ModuleType

import pytest

from harness.deadlines import wait_until
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_process import SkiffProcess
from harness.verify import by_partition, check_roundtrip

RECORDS = 3_000
PARTITIONS = 2

# Per client: how to ask for acks=0 / acks=1 with idempotence off.
ACKS_CONFIG = {
    "confluent": {
        "0": {"acks": 0, "enable.idempotence": False},
        "1": {"acks": 1, "enable.idempotence": False},
    },
    "kafka-python": {
        "0": {"acks": 0, "enable_idempotence": False},
        "1": {"acks": 1, "enable_idempotence": False, "max_in_flight_requests_per_connection": 1},
    },
}


def _records(topic: str) -> list[SentRecord]:
    first_ms = base_timestamp_ms()
    return [
        SentRecord(f"k{i % 5}".encode(), f"{topic}|{i:05d}".encode(), (("i", str(i).encode()),), first_ms + i, i % 2)
        for i in range(RECORDS)
    ]


def test_acks_1_without_idempotence(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    sent = _records(topic_name)
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, "lz4", ACKS_CONFIG[client.NAME]["1"])
    try:
        producer.send_all(topic_name, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    ends = {partition: high for partition, (_, high) in marks.items()}
    consumed = client.consume(skiff.bootstrap, topic_name, ends, 60)
    check_roundtrip(sent, acks, consumed, ends, stream_of=by_partition)


def test_acks_0_records_arrive_without_responses(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    sent = _records(topic_name)
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, "gzip", ACKS_CONFIG[client.NAME]["0"])
    try:
        producer.send_all(topic_name, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"

    # No response means no offsets: wait for the broker's own flush to make them visible.
    expected = {p: sum(1 for r in sent if r.partition == p) for p in range(PARTITIONS)}

    def high_watermarks() -> dict[int, int] | None:
        marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
        ends = {partition: high for partition, (_, high) in marks.items()}
        return ends if ends == expected else None

    ends = wait_until(high_watermarks, 30, f"high watermarks {expected}")
    consumed = client.consume(skiff.bootstrap, topic_name, ends, 60)
    # With a single connection and no retries, each partition holds its records in send order.
    for partition in range(PARTITIONS):
        want = [(r.key, r.value, r.headers, r.timestamp_ms) for r in sent if r.partition == partition]
        got = [(r.key, r.value, r.headers, r.timestamp_ms) for r in consumed if r.partition == partition]
        assert got == want, f"partition {partition}: acks=0 records differ from what was sent"


@pytest.mark.parametrize("codec", [None, "zstd"], ids=["none", "zstd"])
def test_topic_max_message_bytes_is_enforced(
    client: ModuleType, codec: str | None, skiff: SkiffProcess, topic_name: str
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1, {"max.message.bytes": "2000"})
    small = SentRecord(b"k", b"s" * 200, (), base_timestamp_ms(), 0)
    # Random bytes: compression cannot shrink the batch under the limit (Kafka checks the batch
    # as sent, i.e. compressed).
    large = SentRecord(b"k", random.Random(7).randbytes(6_000), (), base_timestamp_ms(), 0)
    acks: list[Ack | None] = [None, None]
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, codec, {})
    try:
        producer.send(topic_name, small, 0)
        producer.flush(30)
        producer.send(topic_name, large, 1)
        producer.flush(30)
    finally:
        producer.close()
    assert acks[0] == Ack(0, 0), f"the small record was not accepted: {errors}"
    assert acks[1] is None and len(errors) == 1, f"the large record was not refused: acks {acks}, errors {errors}"
    assert "MSG_SIZE_TOO_LARGE" in errors[0] or "MessageSizeTooLarge" in errors[0], errors[0]
    assert client.watermarks(skiff.bootstrap, topic_name, [0]) == {0: (0, 1)}
