"""Records written by one stock client are read correctly by the other: the bytes skiff stores and
serves are plain Kafka record batches, whoever produced them."""

from __future__ import annotations

import pytest

from harness.clients import CLIENTS
from harness.records import CODECS, Ack, assorted_records, base_timestamp_ms
from harness.skiff_process import SkiffProcess
from harness.verify import by_partition, check_roundtrip

RECORDS = 8_000
PARTITIONS = 3


@pytest.mark.parametrize(
    ("producer_name", "consumer_name"),
    [("confluent", "kafka-python"), ("kafka-python", "confluent")],
    ids=["confluent-to-kafka-python", "kafka-python-to-confluent"],
)
def test_one_client_reads_what_the_other_wrote(
    producer_name: str, consumer_name: str, skiff: SkiffProcess, topic_name: str
) -> None:
    producing, consuming = CLIENTS[producer_name], CLIENTS[consumer_name]
    producing.create_topic(skiff.bootstrap, topic_name, PARTITIONS)

    sent = assorted_records(topic_name, RECORDS, PARTITIONS, base_timestamp_ms())
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    share = RECORDS // len(CODECS)
    # One producer per codec, each with its own slice of the records.
    slices = [(codec, number * share, (number + 1) * share) for number, codec in enumerate(CODECS)]
    slices[-1] = (slices[-1][0], slices[-1][1], RECORDS)
    producers = [producing.ProducerHandle(skiff.bootstrap, acks, errors, codec) for codec, _, _ in slices]
    try:
        for producer, (_, start, end) in zip(producers, slices, strict=True):
            producer.send_all(topic_name, sent[start:end], start)
        for producer in producers:
            producer.flush(120)
    finally:
        for producer in producers:
            producer.close()
    assert errors == [], f"{len(errors)} delivery errors: {errors[:10]}"

    marks = consuming.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    consumed = consuming.consume(skiff.bootstrap, topic_name, high_watermarks, 120)

    # Each producer keeps its own order per partition; producers interleave freely.
    def producer_and_partition(index: int, record) -> tuple[int, int | None]:
        producer = next(number for number, (_, start, end) in enumerate(slices) if start <= index < end)
        return producer, record.partition

    check_roundtrip(sent, acks, consumed, high_watermarks, stream_of=producer_and_partition)


@pytest.mark.parametrize(
    ("producer_name", "consumer_name"),
    [("confluent", "kafka-python"), ("kafka-python", "confluent")],
    ids=["confluent-to-kafka-python", "kafka-python-to-confluent"],
)
def test_uncompressed_records_cross_over(
    producer_name: str, consumer_name: str, skiff: SkiffProcess, topic_name: str
) -> None:
    producing, consuming = CLIENTS[producer_name], CLIENTS[consumer_name]
    producing.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    sent = assorted_records(topic_name, 700, PARTITIONS, base_timestamp_ms())
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = producing.ProducerHandle(skiff.bootstrap, acks, errors, None)
    try:
        producer.send_all(topic_name, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"{len(errors)} delivery errors: {errors[:10]}"

    marks = consuming.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    consumed = consuming.consume(skiff.bootstrap, topic_name, high_watermarks, 60)
    check_roundtrip(sent, acks, consumed, high_watermarks, stream_of=by_partition)
