"""With its local cache wiped, a restarted skiff serves everything from the object store alone:
segment footers and chunks are read back with ranged GETs, not from bytes it kept. (A file
store gets no disk cache tier, so there the restart alone empties the cache.)"""

from __future__ import annotations

import shutil
from types import ModuleType

import pytest

from harness import confluent_client
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_process import SkiffProcess
from harness.stores import StoreConfig
from harness.verify import by_partition, check_acks, check_roundtrip

RECORDS = 20_000
PARTITIONS = 3


@pytest.mark.timeout(600)
@pytest.mark.parametrize("store", ["file", "s3", "minio"], indirect=True)
def test_reads_after_the_cache_is_wiped(
    client: ModuleType, store: StoreConfig, skiff: SkiffProcess, topic_name: str
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    first_ms = base_timestamp_ms()
    sent = [
        SentRecord(f"k{i % 13}".encode(), f"{topic_name}|{i:06d}".encode() + b"." * 40, (), first_ms + i, i % 3)
        for i in range(RECORDS)
    ]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    # Many small batches, so the store holds many segments and chunks to find.
    producer = confluent_client.ProducerHandle(
        skiff.bootstrap, acks, errors, "zstd", {"linger.ms": 5, "batch.num.messages": 500}
    )
    try:
        producer.send_all(topic_name, sent, 0)
        producer.flush(120)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)

    skiff.stop()
    cache_dir = skiff.data_dir / "cache"
    if store.s3 is None:
        # A local store is its own disk tier: nothing was cached on disk, so the restart alone
        # leaves the (memory-only) cache cold.
        assert not cache_dir.exists(), f"a file store should get no disk cache, found {cache_dir}"
    else:
        assert cache_dir.is_dir(), f"expected skiff's default cache at {cache_dir}"
        shutil.rmtree(cache_dir)
    skiff.start()

    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    ends = {partition: high for partition, (_, high) in marks.items()}
    consumed = client.consume(skiff.bootstrap, topic_name, ends, 120)
    check_roundtrip(sent, acks, consumed, ends, stream_of=by_partition)
