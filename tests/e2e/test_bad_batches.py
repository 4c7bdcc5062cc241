"""Issue 23, findings 1-3 with stock consumers: batches whose CRC is right but whose records are
not are refused for their partition with Kafka's code, and confluent-kafka and kafka-python then
read every record written before and after them, in order, without a seek."""

from __future__ import annotations

from types import ModuleType

import zstandard

from harness import raw_kafka
from harness.records import base_timestamp_ms
from harness.skiff_process import SkiffProcess

CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_RECORD = 87
GZIP = 1
ZSTD = 4


def _bad_batches() -> list[tuple[str, bytes, int]]:
    plain = raw_kafka.record(0, b"k", b"gzip in name only") + raw_kafka.record(1, b"k", b"still plain")
    noise = bytes((i * 2_654_435_761 >> 9) & 0xFF | 1 for i in range(300))
    # 40 MiB of zeros packed into a few KiB: past `skiff dev`'s 32 x max.message.bytes default.
    bomb = zstandard.ZstdCompressor().compress(raw_kafka.record(0, None, bytes(40 << 20)))
    assert len(bomb) < 64 * 1024
    return [
        ("garbage records under a valid CRC", raw_kafka.batch(noise, 5, 4), CORRUPT_MESSAGE),
        ("gzip flag over plain records", raw_kafka.batch(plain, 2, 1, codec=GZIP), CORRUPT_MESSAGE),
        ("claims 2^31-1 records, holds one", raw_kafka.batch(raw_kafka.record(0, None, b"x"), 2**31 - 1, 2**31 - 2), INVALID_RECORD),
        ("zstd decompression bomb", raw_kafka.batch(bomb, 1, 0, codec=ZSTD), MESSAGE_TOO_LARGE),
    ]  # fmt: skip


def test_refused_batches_leave_the_partition_readable(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1)
    now = base_timestamp_ms()
    before = raw_kafka.produce(skiff.bootstrap, topic_name, 0, raw_kafka.values_batch([b"before-0", b"before-1"], now))
    assert (before.error_code, before.base_offset) == (0, 0)
    for name, bad, expected in _bad_batches():
        refused = raw_kafka.produce(skiff.bootstrap, topic_name, 0, bad)
        assert refused.error_code == expected, f"{name}: {refused}"
        assert refused.error_message, f"{name}: no message"
    after = raw_kafka.produce(skiff.bootstrap, topic_name, 0, raw_kafka.values_batch([b"after-0", b"after-1"], now))
    assert (after.error_code, after.base_offset) == (0, 2), "refused batches took no offsets"

    consumed = client.consume(skiff.bootstrap, topic_name, {0: 4}, 60)
    assert [(r.offset, r.value) for r in consumed] == [
        (0, b"before-0"),
        (1, b"before-1"),
        (2, b"after-0"),
        (3, b"after-1"),
    ]
    assert client.watermarks(skiff.bootstrap, topic_name, [0]) == {0: (0, 4)}


def test_compacted_topics_refuse_keyless_records_one_by_one(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 1, {"cleanup.policy": "compact"})
    records = b"".join(raw_kafka.record(i, None if i % 2 else b"k%d" % i, b"v") for i in range(4))
    refused = raw_kafka.produce(skiff.bootstrap, topic_name, 0, raw_kafka.batch(records, 4, 3, timestamp_ms=base_timestamp_ms()))
    assert refused.error_code == INVALID_RECORD, refused
    assert [index for index, _ in refused.record_errors] == [1, 3], refused
    keyed = raw_kafka.produce(skiff.bootstrap, topic_name, 0, raw_kafka.values_batch([b"a", b"b"], base_timestamp_ms()))
    assert (keyed.error_code, keyed.base_offset) == (0, 0)
    consumed = client.consume(skiff.bootstrap, topic_name, {0: 2}, 60)
    assert [(r.key, r.value) for r in consumed] == [(b"k0", b"a"), (b"k1", b"b")]
