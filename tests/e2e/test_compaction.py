"""Key compaction through stock clients (issue 13): confluent-kafka writes 100 keys, their
updates and tombstones to a compacted topic; the controller's compaction job rewrites the
partition; confluent-kafka and kafka-python then read from the beginning exactly the latest
record of each key, tombstones included (delete.retention.ms has not passed), at the offsets
it was acknowledged at. A record without a key is refused with INVALID_RECORD and a
per-record error while the other partition of the same request is written; bad compaction
configs are refused with INVALID_CONFIG."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from harness import confluent_client, kafka_python_client, raw_kafka
from harness.deadlines import DeadlineExceeded
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_cli import cli_ok
from harness.stores import FILE_STORE
from harness.verify import check_acks

KEYS = 100
INVALID_RECORD = 87
WAIT_S = 30.0
FAST_COMPACTION = ("--cleaner-backoff-ms", "100")


def _objects(skiff_bin: Path, bootstrap: str, topic: str) -> int:
    described = json.loads(cli_ok(skiff_bin, bootstrap, "topic", "describe", topic, "--json"))
    return described["partitions"][0]["objects"]


def test_a_compacted_topic_reads_back_the_latest_record_per_key_at_its_offset(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    skiff = skiff_factory(FILE_STORE, *FAST_COMPACTION)
    # Any dirty byte makes the partition due, so what is written last is compacted too.
    configs = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}
    confluent_client.create_topic(skiff.bootstrap, topic_name, 1, configs)
    stamp = base_timestamp_ms()

    def rec(n: int, value: bytes | None) -> SentRecord:
        return SentRecord(f"key-{n:03d}".encode(), value, (), stamp + n, 0)

    rounds = [
        [rec(n, b"v0-%d" % n) for n in range(KEYS)],
        [rec(n, b"v1-%d" % n) for n in range(0, KEYS, 2)],
        [rec(n, b"v2-%d" % n) for n in range(0, KEYS, 3)],
        [rec(n, None) for n in range(90, KEYS)],
        [rec(95, b"v3-95"), rec(3, b"v3-3")],
    ]
    sent: list[SentRecord] = [r for batch in rounds for r in batch]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = confluent_client.ProducerHandle(skiff.bootstrap, acks, errors, None)
    try:
        at = 0
        # One acknowledged round at a time: several flushes, compacted as they come.
        for batch in rounds:
            producer.send_all(topic_name, batch, at)
            producer.flush(60)
            at += len(batch)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)

    latest: dict[bytes | None, tuple[int, bytes | None]] = {}
    for record, ack in zip(sent, acks, strict=True):
        assert ack is not None
        latest[record.key] = (ack.offset, record.value)
    expected = sorted((offset, key, value) for key, (offset, value) in latest.items())
    assert len(expected) == KEYS and sum(value is None for _, _, value in expected) == 9
    ends = {0: expected[-1][0] + 1}

    # Compacted into one object once every flush was taken in.
    started = time.monotonic()
    deadline = started + WAIT_S
    while (objects := _objects(skiff_bin, skiff.bootstrap, topic_name)) != 1:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"still {objects} objects after {WAIT_S:.0f} s")
        time.sleep(0.1)
    print(f"\n{len(sent)} records compacted to {KEYS} keys within {time.monotonic() - started:.1f} s")
    for client in (confluent_client, kafka_python_client):
        read = client.consume(skiff.bootstrap, topic_name, ends, 60)
        got = [(r.offset, r.key, r.value) for r in read]
        assert got == expected, f"{client.__name__}: not exactly the latest record per key"
    assert confluent_client.watermarks(skiff.bootstrap, topic_name, [0]) == {0: (0, len(sent))}

    # A keyless record is refused for its partition only, one error per keyless record.
    two = f"{topic_name}-2"
    confluent_client.create_topic(skiff.bootstrap, two, 2, {"cleanup.policy": "compact"})
    keyless = b"".join(raw_kafka.record(i, None if i == 1 else b"k%d" % i, b"v") for i in range(3))
    results = raw_kafka.produce_partitions(
        skiff.bootstrap,
        two,
        {0: raw_kafka.batch(keyless, 3, 2, timestamp_ms=stamp), 1: raw_kafka.values_batch([b"a", b"b"], stamp)},
    )
    assert results[0].error_code == INVALID_RECORD, results[0]
    assert [index for index, _ in results[0].record_errors] == [1], results[0]
    assert all(message for _, message in results[0].record_errors), results[0]
    assert (results[1].error_code, results[1].base_offset) == (0, 0), results[1]
    assert confluent_client.watermarks(skiff.bootstrap, two, [0, 1]) == {0: (0, 0), 1: (0, 2)}

    # Bad compaction configs are refused with INVALID_CONFIG naming the key.
    for configs, key in [
        ({"cleanup.policy": "compact,shred"}, "cleanup.policy"),
        ({"min.cleanable.dirty.ratio": "1.5"}, "min.cleanable.dirty.ratio"),
        ({"min.compaction.lag.ms": "5000", "max.compaction.lag.ms": "1000"}, "min.compaction.lag.ms"),
    ]:
        with pytest.raises(KafkaException) as refused:
            confluent_client.create_topic(skiff.bootstrap, f"{topic_name}-bad", 1, configs)
        error = refused.value.args[0]
        assert error.code() == KafkaError.INVALID_CONFIG and key in error.str(), error
