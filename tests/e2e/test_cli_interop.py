"""`skiff produce` and `skiff consume` interoperate with a stock client (confluent-kafka /
librdkafka): what one writes the other reads, keys, headers and codecs included, and keyed
records land in the partitions librdkafka's Java-compatible partitioner picks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness import confluent_client
from harness.records import CODECS
from harness.skiff_cli import cli_json_lines, cli_ok
from harness.skiff_process import SkiffProcess

PARTITIONS = 3
RECORDS = 300


@pytest.mark.parametrize("codec", ("none", *CODECS))
def test_confluent_reads_what_skiff_produce_wrote(
    codec: str, skiff: SkiffProcess, skiff_bin: Path, topic_name: str
) -> None:
    cli_ok(skiff_bin, skiff.bootstrap, "topic", "create", topic_name, "--partitions", str(PARTITIONS))
    lines = b"".join(f"key-{i}:value {i} via {codec}\n".encode() for i in range(RECORDS))
    summary = cli_ok(
        skiff_bin, skiff.bootstrap,
        "produce", topic_name, "--key-separator", ":", "--compression", codec,
        "--header", "origin=skiff-cli", "--json",
        stdin=lines,
    )
    assert b'"records": 300' in summary, summary

    marks = confluent_client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    ends = {partition: high for partition, (_, high) in marks.items()}
    assert sum(ends.values()) == RECORDS
    consumed = confluent_client.consume(skiff.bootstrap, topic_name, ends, 60)

    got = {record.key: record for record in consumed}
    assert len(got) == RECORDS
    for i in range(RECORDS):
        record = got[f"key-{i}".encode()]
        assert record.value == f"value {i} via {codec}".encode()
        assert record.headers == (("origin", b"skiff-cli"),)
        assert record.timestamp_type == "create"

    # librdkafka's murmur2_random partitioner is the Java client's: same key, same partition.
    placements: dict[bytes, int] = {}
    producer = Producer({"bootstrap.servers": skiff.bootstrap, "partitioner": "murmur2_random"})

    def on_delivery(error, message) -> None:
        assert error is None, error
        placements[message.key()] = message.partition()

    for i in range(0, RECORDS, 10):
        producer.produce(topic_name, key=f"key-{i}".encode(), value=b"probe", on_delivery=on_delivery)
    assert producer.flush(60) == 0
    for key, partition in placements.items():
        assert got[key].partition == partition, key


def test_skiff_consume_reads_what_confluent_wrote(skiff: SkiffProcess, skiff_bin: Path, topic_name: str) -> None:
    confluent_client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    producer = Producer({"bootstrap.servers": skiff.bootstrap, "compression.type": "lz4", "linger.ms": 5})
    sent = []
    for i in range(RECORDS):
        key = f"k{i}".encode()
        value = bytes([i % 256, 0xFF]) if i % 10 == 0 else f"text {i}".encode()
        headers = [("n", str(i).encode()), ("bin", b"\x00\xfe")]
        producer.produce(topic_name, key=key, value=value, headers=headers, partition=i % PARTITIONS)
        sent.append((key, value, i % PARTITIONS))
    assert producer.flush(60) == 0

    records = cli_json_lines(skiff_bin, skiff.bootstrap, "consume", topic_name, "--format", "json")
    assert len(records) == RECORDS

    def raw(record: dict, field: str) -> bytes:
        if record.get(f"{field}_encoding") == "base64":
            return base64.b64decode(record[field])
        return record[field].encode()

    by_key = {raw(r, "key"): r for r in records}
    for key, value, partition in sent:
        record = by_key[key]
        assert raw(record, "value") == value
        assert record["partition"] == partition
        assert record["topic"] == topic_name
        assert record["headers"][0] == {"key": "n", "value": key.decode()[1:]}
        assert record["headers"][1] == {"key": "bin", "value": "AP4=", "value_encoding": "base64"}
    # Each partition's offsets come back dense and in order.
    for partition in range(PARTITIONS):
        offsets = [r["offset"] for r in records if r["partition"] == partition]
        assert offsets == list(range(len(offsets)))

    # The offsets `skiff topic describe` reports are the watermarks librdkafka sees.
    described = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "topic", "describe", topic_name, "--json"))
    marks = confluent_client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    assert {p["partition"]: (p["start_offset"], p["end_offset"]) for p in described["partitions"]} == marks
