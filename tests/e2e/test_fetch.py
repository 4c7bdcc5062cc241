"""Fetch behaviour a stock consumer relies on: starting at any offset (also inside a compressed
batch), OFFSET_OUT_OF_RANGE past the end, long-poll waking on new data, and LogAppendTime topics."""

from __future__ import annotations

import threading
import time
from types import ModuleType

import pytest

from harness import confluent_client, kafka_python_client
from harness.records import LOG_APPEND_TIME, Ack, SentRecord, base_timestamp_ms, keyed_records
from harness.skiff_process import SkiffProcess
from harness.verify import by_partition, check_acks, check_roundtrip

ROUNDS = 4
PER_ROUND = 300
# Long enough that a fetch which is not woken by new data would visibly sit it out.
FETCH_WAIT_MS = 20_000
WAKE_UP_LIMIT_S = 5.0


def _produce(
    client: ModuleType, bootstrap: str, topic: str, records: list[SentRecord], codec: str | None, rounds: int = 1
) -> list[Ack]:
    acks: list[Ack | None] = [None] * len(records)
    errors: list[str] = []
    producer = client.ProducerHandle(bootstrap, acks, errors, codec)
    per_round = -(-len(records) // rounds)
    try:
        for start in range(0, len(records), per_round):
            producer.send_all(topic, records[start : start + per_round], start)
            producer.flush(60)  # separate flushes: several batches and segment objects
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(records, acks)
    return [ack for ack in acks if ack is not None]


def test_consume_from_any_offset(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1)
    records = [
        SentRecord(r.key, r.value, r.headers, r.timestamp_ms, 0)
        for r in keyed_records(topic_name, "gzip", 0, ROUNDS * PER_ROUND, base_timestamp_ms())
    ]
    _produce(client, skiff.bootstrap, topic_name, records, "gzip", rounds=ROUNDS)
    end = len(records)

    # First record, inside the first batch, last of a batch, first of the next, the very last.
    for start in (0, 1, PER_ROUND // 2, PER_ROUND - 1, PER_ROUND, end - 1):
        consumed = client.consume(skiff.bootstrap, topic_name, {0: end}, 60, start_offsets={0: start})
        assert [r.offset for r in consumed] == list(range(start, end)), f"reading from offset {start}"
        assert [r.value for r in consumed] == [r.value for r in records[start:]], f"values from offset {start}"


def test_offset_past_the_end_is_out_of_range(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1)
    records = [SentRecord(b"k", f"v{i}".encode(), (), base_timestamp_ms() + i, 0) for i in range(20)]
    _produce(client, skiff.bootstrap, topic_name, records, "snappy")
    assert client.fetch_error_at(skiff.bootstrap, topic_name, 0, len(records) + 10, 30) == "OFFSET_OUT_OF_RANGE"


def test_long_poll_wakes_when_records_arrive(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1)
    polling = threading.Event()
    outcome: dict[str, object] = {}

    def tail() -> None:
        try:
            outcome["record"] = client.next_record_when_it_comes(
                skiff.bootstrap, topic_name, 0, 0, FETCH_WAIT_MS, polling, 60
            )
        except BaseException as error:  # handed to the test thread below
            outcome["error"] = error

    tailer = threading.Thread(target=tail, name="tailing-consumer", daemon=True)
    tailer.start()
    assert polling.wait(30), "the tailing consumer never started polling"
    assert "error" not in outcome, outcome.get("error")

    record = SentRecord(b"wake", b"up", (("h", b"1"),), base_timestamp_ms(), 0)
    _produce(client, skiff.bootstrap, topic_name, [record], None)
    acked_at = time.monotonic()
    tailer.join(60)
    assert not tailer.is_alive(), "the tailing consumer did not finish"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    consumed, arrived_at = outcome["record"]  # type: ignore[misc]
    assert (consumed.offset, consumed.key, consumed.value) == (0, b"wake", b"up")
    waited = arrived_at - acked_at
    assert waited < WAKE_UP_LIMIT_S, (
        f"the record reached the waiting consumer {waited:.1f} s after its ack: the parked fetch "
        f"(max wait {FETCH_WAIT_MS} ms) was not woken by the commit"
    )


def test_log_append_time_topic_stamps_broker_time(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1, {"message.timestamp.type": "LogAppendTime"})
    client_time = 1_000_000  # 1970: obviously not what the broker should report
    records = [SentRecord(b"k", f"v{i}".encode(), (), client_time + i, 0) for i in range(50)]
    before_ms = int(time.time() * 1000)
    _produce(client, skiff.bootstrap, topic_name, records, "zstd")
    after_ms = int(time.time() * 1000)

    consumed = client.consume(skiff.bootstrap, topic_name, {0: len(records)}, 60)
    assert [r.value for r in consumed] == [r.value for r in records]
    for record in consumed:
        assert record.timestamp_type == LOG_APPEND_TIME, record
        # A little slack for clock granularity; the point is "broker time, not the client's".
        assert before_ms - 1_000 <= record.timestamp_ms <= after_ms + 1_000, record


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd", None], ids=lambda c: c or "none")
def test_every_codec_round_trips_through_both_consumers(
    codec: str | None, skiff: SkiffProcess, topic_name: str
) -> None:
    """A compact check of each codec on its own, read by both clients."""
    confluent_client.create_topic(skiff.bootstrap, topic_name, 1)
    records = [
        SentRecord(r.key, r.value, r.headers, r.timestamp_ms, 0)
        for r in keyed_records(topic_name, codec or "none", 0, 500, base_timestamp_ms())
    ]
    _produce(confluent_client, skiff.bootstrap, topic_name, records, codec)
    for reader in (confluent_client, kafka_python_client):
        consumed = reader.consume(skiff.bootstrap, topic_name, {0: len(records)}, 60)
        got = [(r.offset, r.key, r.value, r.headers, r.timestamp_ms) for r in consumed]
        want = [(i, r.key, r.value, r.headers, r.timestamp_ms) for i, r in enumerate(records)]
        assert got == want, f"{reader.NAME} read something else"


TAILED_RECORDS = 30_000


def test_tailing_consumer_sees_every_record_while_it_is_written(
    client: ModuleType, skiff: SkiffProcess, topic_name: str
) -> None:
    """A consumer that starts before the data and follows it: every fetch races the commits
    (index updates, high watermark, cache fills), and none may skip, repeat or reorder."""
    partitions = 3
    confluent_client.create_topic(skiff.bootstrap, topic_name, partitions)
    first_ms = base_timestamp_ms()
    sent = [
        SentRecord(
            f"k{i % 13}".encode(), f"{topic_name}|{i:06d}".encode(), (("i", str(i).encode()),), first_ms + i, i % 3
        )
        for i in range(TAILED_RECORDS)
    ]
    ends = {partition: sum(1 for r in sent if r.partition == partition) for partition in range(partitions)}
    outcome: dict[str, object] = {}

    def tail() -> None:
        try:
            outcome["records"] = client.consume(skiff.bootstrap, topic_name, ends, 180)
        except BaseException as error:  # handed to the test thread below
            outcome["error"] = error

    tailer = threading.Thread(target=tail, name="tailing-consumer", daemon=True)
    tailer.start()
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    # Small, frequent batches from the other client, so the tail sees many separate commits.
    producer = confluent_client.ProducerHandle(
        skiff.bootstrap, acks, errors, "snappy", {"linger.ms": 2, "batch.num.messages": 300}
    )
    try:
        producer.send_all(topic_name, sent, 0)
        producer.flush(120)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    tailer.join(200)
    assert not tailer.is_alive(), "the tailing consumer did not finish"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    check_roundtrip(sent, acks, outcome["records"], ends, stream_of=by_partition)  # type: ignore[arg-type]
