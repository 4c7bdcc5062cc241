"""Topic compression as Kafka does it (issue 20): a topic whose compression.type names a codec
stores every batch in that codec whatever the producer sent (recompressed on produce, with a
valid CRC), and confluent-kafka and kafka-python read every record back unchanged; a topic left
at `producer` stores batches as sent; the codec changes with IncrementalAlterConfigs; bad values
and levels are refused naming the key. The stored codec is read from a raw Fetch by kafka-python's
own record parser (MemoryRecords), which also checks each batch's CRC."""

from __future__ import annotations

import re
import urllib.request

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka.record import MemoryRecords

from harness import confluent_client, kafka_python_client, raw_kafka
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import free_port
from harness.verify import by_partition, check_roundtrip

TIMEOUT_S = 30
RECORDS = 400
CODEC_IDS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
# What the producer sends to each topic: always another codec, so every batch is rewritten.
SENT_AS = {"uncompressed": "lz4", "gzip": "none", "snappy": "zstd", "lz4": "gzip", "zstd": "snappy"}


def _records(topic: str) -> list[SentRecord]:
    first_ms = base_timestamp_ms()
    return [
        SentRecord(
            f"k{i % 7}".encode(),
            f"{topic}|{i:05d}|".encode() + b"compressible " * (i % 30),
            (("i", str(i).encode()),) if i % 3 else (),
            first_ms + i,
            0,
        )
        for i in range(RECORDS)
    ]


def _produce(bootstrap: str, topic: str, codec: str) -> tuple[list[SentRecord], list[Ack | None]]:
    sent = _records(topic)
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = confluent_client.ProducerHandle(bootstrap, acks, errors, codec)
    try:
        producer.send_all(topic, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    return sent, acks


def _stored_codecs(bootstrap: str, topic: str, end: int = RECORDS) -> list[int]:
    """The codec id of every batch of partition 0 up to `end`, each batch's CRC checked by
    kafka-python."""
    codecs: list[int] = []
    offset = 0
    while offset < end:
        error, raw = raw_kafka.fetch_raw(bootstrap, topic, 0, offset)
        assert error == 0, f"fetch at {offset}: error {error}"
        assert raw, f"no records at {offset}"
        records = MemoryRecords(raw)
        while (batch := records.next_batch()) is not None:
            assert batch.validate_crc(), f"batch at {batch.base_offset}: bad CRC"
            codecs.append(batch.compression_type)
            offset = batch.next_offset
    return codecs


def _stored_bytes(bootstrap: str, topic: str, end: int = RECORDS) -> int:
    """The stored size of partition 0's batches up to `end`, as a raw Fetch returns them."""
    total = 0
    offset = 0
    while offset < end:
        error, raw = raw_kafka.fetch_raw(bootstrap, topic, 0, offset)
        assert error == 0 and raw, f"fetch at {offset}: error {error}"
        records = MemoryRecords(raw)
        while (batch := records.next_batch()) is not None:
            total += batch.size_in_bytes
            offset = batch.next_offset
    return total


def _read_back(bootstrap: str, topic: str, sent: list[SentRecord], acks: list[Ack | None]) -> None:
    ends = {0: RECORDS}
    for client in (confluent_client, kafka_python_client):
        consumed = client.consume(bootstrap, topic, ends, 60)
        check_roundtrip(sent, acks, consumed, ends, stream_of=by_partition)


def _recompressed_batches(metrics_url: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    found = re.search(r"^skiff_produce_recompressed_batches_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_each_topic_codec_stores_every_batch_in_it(skiff_factory, store, topic_name: str) -> None:
    metrics_addr = f"127.0.0.1:{free_port()}"
    skiff = skiff_factory(store, "--metrics-addr", metrics_addr)
    recompressed = 0.0
    for codec, sent_as in SENT_AS.items():
        topic = f"{topic_name}-{codec}"
        confluent_client.create_topic(skiff.bootstrap, topic, 1, {"compression.type": codec})
        sent, acks = _produce(skiff.bootstrap, topic, sent_as)
        codecs = _stored_codecs(skiff.bootstrap, topic)
        assert codecs and set(codecs) == {CODEC_IDS[codec]}, f"{codec} topic stored codecs {codecs}"
        _read_back(skiff.bootstrap, topic, sent, acks)
        now = _recompressed_batches(f"http://{metrics_addr}/metrics")
        assert now >= recompressed + len(codecs), f"{codec}: recompressed batches {recompressed} -> {now}"
        recompressed = now


def test_producer_keeps_what_was_sent_and_an_alter_switches_the_codec(skiff, topic_name: str) -> None:
    confluent_client.create_topic(skiff.bootstrap, topic_name, 1)
    sent, acks = _produce(skiff.bootstrap, topic_name, "lz4")
    assert set(_stored_codecs(skiff.bootstrap, topic_name)) == {CODEC_IDS["lz4"]}

    admin = confluent_client.admin(skiff.bootstrap)
    entries = [
        ConfigEntry("compression.type", "gzip", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("compression.gzip.level", "9", incremental_operation=AlterConfigOpType.SET),
    ]
    resource = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=entries)
    admin.incremental_alter_configs([resource])[resource].result(timeout=TIMEOUT_S)
    described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic_name)])
    configs = next(iter(described.values())).result(timeout=TIMEOUT_S)
    assert (configs["compression.type"].value, configs["compression.gzip.level"].value) == ("gzip", "9")

    more, more_acks = _produce(skiff.bootstrap, topic_name, "lz4")
    codecs = _stored_codecs(skiff.bootstrap, topic_name, 2 * RECORDS)
    # The first batches stay as they were stored; the ones produced after the alter are gzip.
    first_gzip = codecs.index(CODEC_IDS["gzip"])
    assert set(codecs[:first_gzip]) == {CODEC_IDS["lz4"]} and set(codecs[first_gzip:]) == {CODEC_IDS["gzip"]}, codecs
    offsets_after = [a for a in more_acks if a is not None]
    assert min(a.offset for a in offsets_after) == RECORDS
    for client in (confluent_client, kafka_python_client):
        consumed = client.consume(skiff.bootstrap, topic_name, {0: 2 * RECORDS}, 60)
        assert [(r.key, r.value) for r in consumed] == [(s.key, s.value) for s in sent + more]


def test_the_zstd_level_is_honoured(skiff, topic_name: str) -> None:
    sizes = {}
    for level in ("-5", "19"):
        topic = f"{topic_name}-level{level}"
        confluent_client.create_topic(
            skiff.bootstrap, topic, 1, {"compression.type": "zstd", "compression.zstd.level": level}
        )
        sent, acks = _produce(skiff.bootstrap, topic, "none")
        assert set(_stored_codecs(skiff.bootstrap, topic)) == {CODEC_IDS["zstd"]}
        sizes[level] = _stored_bytes(skiff.bootstrap, topic)
        _read_back(skiff.bootstrap, topic, sent, acks)
    # The same records, compressed harder: zstd's level 19 against its fast level -5.
    assert sizes["19"] < sizes["-5"], sizes


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("compression.type", "brotli", "not one of gzip, lz4, producer, snappy, uncompressed, zstd"),
        ("compression.gzip.level", "0", "outside [1, 9]"),
        ("compression.zstd.level", "23", "outside [-131072, 22]"),
    ],
)
def test_bad_codecs_and_levels_are_refused_naming_the_key(skiff, topic_name: str, key: str, value: str, says: str) -> None:
    admin = confluent_client.admin(skiff.bootstrap)
    with pytest.raises(KafkaException) as raised:
        confluent_client.create_topic(skiff.bootstrap, topic_name, 1, {key: value})
    error = raised.value.args[0]
    assert error.name() == "INVALID_CONFIG", error
    assert key in error.str() and says in error.str(), error.str()
    assert topic_name not in admin.list_topics(timeout=TIMEOUT_S).topics
