"""The core scenario: 100,000 keyed records over four codecs through a clean restart, read back
with the same stock client, checked field by field, on every object store."""

from __future__ import annotations

from types import ModuleType

import pytest

from harness.records import CODECS, Ack, SentRecord, base_timestamp_ms, keyed_records
from harness.skiff_process import SkiffProcess
from harness.stores import StoreConfig
from harness.verify import check_acks, check_roundtrip

TOTAL_RECORDS = 100_000
PARTITIONS = 4
PER_CODEC = TOTAL_RECORDS // len(CODECS)
HALF = PER_CODEC // 2
FLUSH_TIMEOUT_S = 180
CONSUME_TIMEOUT_S = 240


@pytest.mark.timeout(900)
@pytest.mark.parametrize("store", ["file", "s3", "minio"], indirect=True)
def test_records_survive_a_restart_and_read_back_exactly(
    client: ModuleType, store: StoreConfig, skiff: SkiffProcess, topic_name: str
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)

    first_timestamp = base_timestamp_ms()
    records_by_codec: dict[str, list[SentRecord]] = {}
    first_index: dict[str, int] = {}
    for number, codec in enumerate(CODECS):
        first_index[codec] = number * PER_CODEC
        records_by_codec[codec] = keyed_records(
            topic_name, codec, 0, PER_CODEC, first_timestamp_ms=first_timestamp + number * PER_CODEC
        )
    sent = [record for codec in CODECS for record in records_by_codec[codec]]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []

    # One producer per codec, kept alive across the broker restart: they must reconnect, and the
    # idempotent ones must carry on with their producer id and sequences.
    producers = {codec: client.ProducerHandle(skiff.bootstrap, acks, errors, codec) for codec in CODECS}
    try:
        for codec in CODECS:
            producers[codec].send_all(topic_name, records_by_codec[codec][:HALF], first_index[codec])
        for codec in CODECS:
            producers[codec].flush(FLUSH_TIMEOUT_S)
        assert errors == [], f"{len(errors)} delivery errors before the restart: {errors[:10]}"
        acked_before_restart = sum(ack is not None for ack in acks)
        assert acked_before_restart == len(CODECS) * HALF

        skiff.restart()

        for codec in CODECS:
            producers[codec].send_all(topic_name, records_by_codec[codec][HALF:], first_index[codec] + HALF)
        for codec in CODECS:
            producers[codec].flush(FLUSH_TIMEOUT_S)
    finally:
        for producer in producers.values():
            producer.close()
    assert errors == [], f"{len(errors)} delivery errors after the restart: {errors[:10]}"
    check_acks(sent, acks)

    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    assert {partition: low for partition, (low, _) in marks.items()} == dict.fromkeys(range(PARTITIONS), 0)
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    assert all(high > 0 for high in high_watermarks.values()), f"a partition got no records: {high_watermarks}"

    consumed = client.consume(skiff.bootstrap, topic_name, high_watermarks, CONSUME_TIMEOUT_S)
    check_roundtrip(sent, acks, consumed, high_watermarks)

    # The records really went through the store under test, not only through a cache.
    segments = store.segment_objects(skiff.data_dir, skiff.object_prefix)
    assert segments, f"no segment objects found in the {store.kind} store"
