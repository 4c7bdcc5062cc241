"""A crash (SIGKILL, no flush, no goodbye) must not lose anything that was acknowledged:
acks=all means "in object storage and committed", so a restarted skiff serves all of it and the
same producers carry on."""

from __future__ import annotations

from types import ModuleType

import pytest

from harness.deadlines import wait_until
from harness.records import CODECS, Ack, SentRecord, base_timestamp_ms, keyed_records
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE, StoreConfig
from harness.verify import by_partition, check_acks, check_roundtrip

PARTITIONS = 3
BEFORE_CRASH = 6_000
AFTER_CRASH = 2_000
IN_FLIGHT_RECORDS = 20_000


@pytest.mark.timeout(600)
@pytest.mark.parametrize("store", ["file", "s3"], indirect=True)
def test_acknowledged_records_survive_sigkill(
    client: ModuleType, store: StoreConfig, skiff: SkiffProcess, topic_name: str
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    codec = CODECS[len(topic_name) % len(CODECS)]
    first_ms = base_timestamp_ms()
    sent: list[SentRecord] = keyed_records(topic_name, codec, 0, BEFORE_CRASH + AFTER_CRASH, first_ms, keys=20)
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []

    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, codec)
    try:
        producer.send_all(topic_name, sent[:BEFORE_CRASH], 0)
        producer.flush(120)
        assert errors == [], f"delivery errors before the crash: {errors[:10]}"
        check_acks(sent[:BEFORE_CRASH], acks[:BEFORE_CRASH])

        skiff.kill()
        skiff.start()

        # Everything acknowledged before the crash is there, before anything new is written.
        marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
        assert sum(high for _, high in marks.values()) == BEFORE_CRASH, f"watermarks after the crash: {marks}"

        producer.send_all(topic_name, sent[BEFORE_CRASH:], BEFORE_CRASH)
        producer.flush(120)
    finally:
        producer.close()
    assert errors == [], f"delivery errors after the crash: {errors[:10]}"

    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    consumed = client.consume(skiff.bootstrap, topic_name, high_watermarks, 120)
    check_roundtrip(sent, acks, consumed, high_watermarks)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_stop_with_records_in_flight_loses_and_duplicates_nothing(
    client: ModuleType, how: str, skiff_factory, topic_name: str
) -> None:
    """The broker goes away while produce requests are on the wire. The idempotent producer
    retries them against the restarted broker, which must neither lose nor duplicate any."""
    # After a retry kafka-python sends one request at a time; a short flush interval keeps
    # each acks=all round trip (one flush) short.
    skiff = skiff_factory(FILE_STORE, "--flush-interval-ms", "10")
    client.create_topic(skiff.bootstrap, topic_name, 2)
    first_ms = base_timestamp_ms()
    sent = [
        SentRecord(
            f"k{i % 11}".encode(), f"{topic_name}|{i:06d}".encode(), (("i", str(i).encode()),), first_ms + i, i % 2
        )
        for i in range(IN_FLIGHT_RECORDS)
    ]
    half = IN_FLIGHT_RECORDS // 2
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []

    def acked() -> int:
        producer.serve_callbacks()
        return sum(ack is not None for ack in acks)

    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, "lz4", client.SMALL_BATCHES)
    try:
        producer.send_all(topic_name, sent[:half], 0)
        # Interrupt once acks are flowing, while most of the first half is still on its way.
        wait_until(lambda: acked() >= half // 8, 60, "the first acks", interval_s=0.005)
        acked_before_stop = acked()
        if how == "sigint":
            skiff.stop()
        else:
            skiff.kill()
        skiff.start()
        producer.send_all(topic_name, sent[half:], half)
        producer.flush(180)
    finally:
        producer.close()
    assert acked_before_stop < half, "every record was acked before the stop: nothing was in flight"
    assert errors == [], f"{len(errors)} delivery errors: {errors[:10]}"

    marks = client.watermarks(skiff.bootstrap, topic_name, range(2))
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    consumed = client.consume(skiff.bootstrap, topic_name, high_watermarks, 120)
    check_roundtrip(sent, acks, consumed, high_watermarks, stream_of=by_partition)
