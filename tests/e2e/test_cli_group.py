"""`skiff consume --group` and `skiff group describe` with a stock consumer (confluent-kafka /
librdkafka) in the same group: the two split a topic's partitions whichever of them leads the
group (and so runs the range assignor), read no record twice, and the lag `skiff group
describe` reports is what was produced minus what the stock consumer committed."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from harness import confluent_client
from harness.confluent_client import TRANSIENT_CLIENT_ERRORS
from harness.deadlines import DeadlineExceeded
from harness.skiff_cli import cli_ok
from harness.skiff_group_consumer import (
    SkiffGroupConsumer,
    assigned_partitions,
    describe_group,
    try_describe_group,
)
from harness.stores import FILE_STORE

PARTITIONS = 4
PER_PARTITION = 50
WAIT_S = 60.0
# Rebalance at once when members are in, instead of the 3 s a new group waits by default.
NO_REBALANCE_DELAY = ("--group-initial-rebalance-delay-ms", "0")


def _group_consumer(bootstrap: str, group: str, extra: dict | None = None) -> Consumer:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 500,
        "session.timeout.ms": 10_000,
        "check.crcs": True,
    }
    config.update(extra or {})
    return Consumer(config)


def _poll_records(consumer: Consumer, into: list, timeout_s: float) -> None:
    for message in consumer.consume(num_messages=1000, timeout=timeout_s):
        error = message.error()
        if error is not None:
            if message.topic() is None and error.code() in TRANSIENT_CLIENT_ERRORS:
                continue
            raise KafkaException(error)
        into.append((message.partition(), message.offset(), message.value()))


def _until(condition, what: str, consumer: Consumer, polled: list) -> object:
    """Polls the stock consumer (it only takes part in rebalances while polled) until
    `condition()` returns something truthy."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"timed out after {WAIT_S:.0f} s waiting for {what}")
        _poll_records(consumer, polled, 0.2)


@pytest.mark.parametrize("leader", ("skiff", "confluent"))
def test_skiff_and_confluent_consumers_split_a_topic_in_one_group(
    leader: str, skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    skiff = skiff_factory(FILE_STORE, *NO_REBALANCE_DELAY)
    confluent_client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"mixed-{uuid.uuid4().hex[:8]}"
    stock = _group_consumer(skiff.bootstrap, group)
    stock_records: list = []
    ours: SkiffGroupConsumer | None = None
    try:
        def members_with(counts: list[int]):
            described = try_describe_group(skiff_bin, skiff.bootstrap, group)
            if described is None or described["state"] != "Stable":
                return None
            got = sorted(len(assigned_partitions(m)) for m in described["members"])
            return described if got == counts else None

        if leader == "skiff":
            ours = SkiffGroupConsumer(skiff_bin, skiff.bootstrap, topic_name, group, "--from-beginning")
            _until(lambda: members_with([PARTITIONS]), "the skiff consumer to own every partition", stock, stock_records)
            stock.subscribe([topic_name])
        else:
            stock.subscribe([topic_name])
            _until(lambda: len(stock.assignment()) == PARTITIONS, "librdkafka to own every partition", stock, stock_records)
            ours = SkiffGroupConsumer(skiff_bin, skiff.bootstrap, topic_name, group, "--from-beginning")
        described = _until(lambda: members_with([2, 2]), "the two consumers to split the partitions", stock, stock_records)
        assert described["protocol"] == "range"
        stock_id = next(m["member_id"] for m in described["members"] if m["client_id"] != "skiff-cli")
        skiff_member = next(m for m in described["members"] if m["client_id"] == "skiff-cli")
        skiff_partitions = assigned_partitions(skiff_member)
        stock_partitions = {tp.partition for tp in _until(stock.assignment, "librdkafka's assignment", stock, stock_records)}
        assert stock_id != skiff_member["member_id"]
        assert skiff_partitions | stock_partitions == set(range(PARTITIONS))
        assert not skiff_partitions & stock_partitions
        assert stock_records == [], "records arrived before any were produced"

        producer = Producer({"bootstrap.servers": skiff.bootstrap, "linger.ms": 5})
        for i in range(PARTITIONS * PER_PARTITION):
            producer.produce(topic_name, value=f"r{i}".encode(), partition=i % PARTITIONS)
        assert producer.flush(WAIT_S) == 0

        skiff_records: list = []

        def everything_arrived() -> bool:
            skiff_records.extend((r["partition"], r["offset"], r["value"].encode()) for r in ours.drain())
            assert ours.exited() is None, "skiff consume exited early"
            return len(skiff_records) + len(stock_records) >= PARTITIONS * PER_PARTITION

        _until(everything_arrived, "every record to be read by one of the two", stock, stock_records)
        read = [(p, o) for p, o, _ in skiff_records + stock_records]
        assert len(read) == len(set(read)), "a record was read twice"
        assert set(read) == {(p, o) for p in range(PARTITIONS) for o in range(PER_PARTITION)}
        assert {p for p, _, _ in skiff_records} == skiff_partitions
        assert {p for p, _, _ in stock_records} == stock_partitions
        for partition, offset, value in skiff_records + stock_records:
            assert value == f"r{offset * PARTITIONS + partition}".encode()
    finally:
        stock.close()
        if ours is not None:
            code, stderr = ours.stop()
            assert code == 0, stderr

    # Both committed what they read before leaving: nothing is left to read.
    described = describe_group(skiff_bin, skiff.bootstrap, group)
    assert described["state"] == "Empty"
    assert {p["partition"]: p["committed_offset"] for p in described["partitions"]} == {
        p: PER_PARTITION for p in range(PARTITIONS)
    }
    assert described["total_lag"] == 0


def test_group_describe_lag_is_produced_minus_what_a_stock_consumer_committed(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    skiff = skiff_factory(FILE_STORE, *NO_REBALANCE_DELAY)
    produced = {0: 30, 1: 20, 2: 10}
    confluent_client.create_topic(skiff.bootstrap, topic_name, len(produced))
    producer = Producer({"bootstrap.servers": skiff.bootstrap, "linger.ms": 5})
    for partition, count in produced.items():
        for i in range(count):
            producer.produce(topic_name, value=f"{partition}-{i}".encode(), partition=partition)
    assert producer.flush(WAIT_S) == 0

    group = f"lagging-{uuid.uuid4().hex[:8]}"
    stock = _group_consumer(skiff.bootstrap, group, {"enable.auto.commit": False})
    read: dict[int, int] = {}
    try:
        stock.subscribe([topic_name])
        deadline = time.monotonic() + WAIT_S
        while sum(read.values()) < 25:
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(f"the stock consumer read only {read} in {WAIT_S:.0f} s")
            message = stock.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                if message.topic() is None and message.error().code() in TRANSIENT_CLIENT_ERRORS:
                    continue
                raise KafkaException(message.error())
            read[message.partition()] = read.get(message.partition(), 0) + 1
        stock.commit(asynchronous=False)
        committed = {
            tp.partition: tp.offset
            for tp in stock.committed([TopicPartition(topic_name, p) for p in produced], timeout=WAIT_S)
        }
    finally:
        stock.close()
    # What librdkafka committed is the next offset after what it read, per partition.
    assert {p: o for p, o in committed.items() if o >= 0} == read

    described = describe_group(skiff_bin, skiff.bootstrap, group)
    assert described["state"] == "Empty"
    rows = {p["partition"]: p for p in described["partitions"]}
    assert set(rows) == set(read)
    for partition, row in rows.items():
        assert row["end_offset"] == produced[partition]
        assert row["committed_offset"] == read[partition]
        assert row["lag"] == produced[partition] - read[partition]
    assert described["total_lag"] == sum(produced[p] - read[p] for p in read)

    # The text view says the same.
    text = cli_ok(skiff_bin, skiff.bootstrap, "group", "describe", group).decode()
    assert f"total lag {described['total_lag']}" in text
