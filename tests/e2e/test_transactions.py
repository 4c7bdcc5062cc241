"""Kafka transactions (issue 19) with confluent-kafka (librdkafka): a consume-transform-produce
transaction committed with the group's offsets, one aborted, read_committed and
read_uncommitted consumers, a zombie producer fenced by a newer instance, and a producer that
stops mid-transaction aborted by the controller leader after its timeout."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from harness import confluent_client
from harness.deadlines import wait_until
from harness.server_process import free_port
from harness.skiff_cli import cli_ok
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE

TIMEOUT_S = 30.0


def _producer(bootstrap: str, transactional_id: str, **extra: object) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5, **extra})


def _read_all(bootstrap: str, topic: str, partitions: int, isolation: str) -> dict[int, list[str]]:
    """Every record of `topic` a consumer at `isolation` reads, per partition, up to the end it
    sees (the LSO for read_committed, the high watermark otherwise)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        records: dict[int, list[str]] = {p: [] for p in range(partitions)}
        at_end: set[int] = set()
        deadline = time.monotonic() + TIMEOUT_S
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"{isolation} read of {topic} did not reach the end: {records}"
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise KafkaException(message.error())
            records[message.partition()].append(message.value().decode())
        return records
    finally:
        consumer.close()


def _produce_plain(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(topic, value=f"in-{i}".encode(), partition=0)
    assert producer.flush(TIMEOUT_S) == 0


def _consume_in_group(bootstrap: str, topic: str, group: str, count: int) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + TIMEOUT_S
    while seen < count:
        assert time.monotonic() < deadline, f"the group consumer read {seen} of {count} input records"
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        seen += 1
    return consumer


def _produce_both(producer: Producer, topic: str, prefix: str, count: int) -> None:
    for partition in (0, 1):
        for i in range(count):
            producer.produce(topic, value=f"{prefix}-{partition}-{i}".encode(), partition=partition)


def test_consume_transform_produce_commit_and_abort(skiff: SkiffProcess, topic_name: str) -> None:
    bootstrap = skiff.bootstrap
    source, sink, group = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-group"
    confluent_client.create_topic(bootstrap, source, 1)
    confluent_client.create_topic(bootstrap, sink, 2)
    _produce_plain(bootstrap, source, 10)
    consumer = _consume_in_group(bootstrap, source, group, 10)
    producer = _producer(bootstrap, f"{topic_name}-txn")
    try:
        producer.init_transactions(TIMEOUT_S)

        producer.begin_transaction()
        _produce_both(producer, sink, "first", 10)
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), TIMEOUT_S
        )
        producer.commit_transaction(TIMEOUT_S)

        producer.begin_transaction()
        _produce_both(producer, sink, "aborted", 5)
        assert producer.flush(TIMEOUT_S) == 0
        producer.abort_transaction(TIMEOUT_S)

        producer.begin_transaction()
        _produce_both(producer, sink, "second", 3)
        producer.commit_transaction(TIMEOUT_S)
    finally:
        consumer.close()

    expected_committed = {
        p: [f"first-{p}-{i}" for i in range(10)] + [f"second-{p}-{i}" for i in range(3)] for p in (0, 1)
    }
    assert _read_all(bootstrap, sink, 2, "read_committed") == expected_committed
    expected_all = {
        p: [f"first-{p}-{i}" for i in range(10)]
        + [f"aborted-{p}-{i}" for i in range(5)]
        + [f"second-{p}-{i}" for i in range(3)]
        for p in (0, 1)
    }
    assert _read_all(bootstrap, sink, 2, "read_uncommitted") == expected_all

    # The group's offsets were committed with the first transaction.
    checker = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        [position] = checker.committed([TopicPartition(source, 0)], TIMEOUT_S)
        assert position.offset == 10
    finally:
        checker.close()


def test_a_second_instance_fences_the_first(skiff: SkiffProcess, topic_name: str) -> None:
    bootstrap = skiff.bootstrap
    confluent_client.create_topic(bootstrap, topic_name, 2)
    transactional_id = f"{topic_name}-txn"
    zombie = _producer(bootstrap, transactional_id)
    zombie.init_transactions(TIMEOUT_S)
    zombie.begin_transaction()
    _produce_both(zombie, topic_name, "zombie", 4)
    assert zombie.flush(TIMEOUT_S) == 0

    newer = _producer(bootstrap, transactional_id)
    newer.init_transactions(TIMEOUT_S)

    with pytest.raises(KafkaException) as raised:
        zombie.commit_transaction(TIMEOUT_S)
    error = raised.value.args[0]
    assert error.fatal() or error.code() in (KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH), error

    newer.begin_transaction()
    _produce_both(newer, topic_name, "newer", 2)
    newer.commit_transaction(TIMEOUT_S)

    # The zombie's transaction was aborted by the newer instance's InitProducerId.
    expected = {p: [f"newer-{p}-{i}" for i in range(2)] for p in (0, 1)}
    assert _read_all(bootstrap, topic_name, 2, "read_committed") == expected


def test_a_transaction_left_open_is_aborted_after_its_timeout(skiff_factory, topic_name: str) -> None:
    skiff = skiff_factory(FILE_STORE, "--transaction-abort-check-interval-ms", "100")
    bootstrap = skiff.bootstrap
    confluent_client.create_topic(bootstrap, topic_name, 1)
    stalled = _producer(bootstrap, f"{topic_name}-stalled", **{"transaction.timeout.ms": 2000})
    stalled.init_transactions(TIMEOUT_S)
    stalled.begin_transaction()
    stalled.produce(topic_name, value=b"never-committed", partition=0)
    assert stalled.flush(TIMEOUT_S) == 0

    other = _producer(bootstrap, f"{topic_name}-other")
    other.init_transactions(TIMEOUT_S)
    other.begin_transaction()
    other.produce(topic_name, value=b"committed", partition=0)
    other.commit_transaction(TIMEOUT_S)

    # Until the stalled transaction is aborted the LSO stays at its first record; then
    # read_committed readers get past it and see only the committed record.
    def lso_moved() -> bool:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"w-{uuid.uuid4().hex[:6]}"})
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic_name, 0), TIMEOUT_S)
            return high >= 3
        finally:
            consumer.close()

    wait_until(lso_moved, TIMEOUT_S, "the stalled transaction to be aborted (LSO past it)")
    assert _read_all(bootstrap, topic_name, 1, "read_committed") == {0: ["committed"]}
    assert _read_all(bootstrap, topic_name, 1, "read_uncommitted") == {0: ["never-committed", "committed"]}


def test_kafkajs_transactions(skiff: SkiffProcess, topic_name: str) -> None:
    script = os.environ.get("SKIFF_TEST_KAFKAJS")
    if not script:
        message = "kafkajs is not installed (tests/run installs it with npm ci into tests/e2e/kafkajs)"
        if os.environ.get("SKIFF_REQUIRE_KAFKAJS"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    settings = {
        "brokers": [skiff.bootstrap],
        "topic": topic_name,
        "source": f"{topic_name}-in",
        "group": f"{topic_name}-group",
        "transactionalId": f"{topic_name}-txn",
    }
    transactions = Path(script).with_name("transactions.js")
    result = subprocess.run(["node", str(transactions), json.dumps(settings)], capture_output=True, text=True,
                            timeout=150, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    committed = {p: [f"first-{p}-{i}" for i in range(10)] + [f"second-{p}-{i}" for i in range(3)] for p in (0, 1)}
    assert {int(p): values for p, values in out["committed"].items()} == committed
    everything = {
        p: [f"first-{p}-{i}" for i in range(10)]
        + [f"aborted-{p}-{i}" for i in range(5)]
        + [f"second-{p}-{i}" for i in range(3)]
        for p in (0, 1)
    }
    assert {int(p): values for p, values in out["uncommitted"].items()} == everything
    [source] = out["offsets"]
    assert [(p["partition"], p["offset"]) for p in source["partitions"]] == [(0, "7")]
    assert out["fenced"] in ("KafkaJSProducerFenced", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"), out["fenced"]
    # The zombie's record was aborted by the newer instance: read_committed never shows it.
    assert_records = _read_all(skiff.bootstrap, topic_name, 2, "read_committed")
    assert "zombie" not in assert_records[0] and assert_records[1][-1] == "newer"


def test_merges_keep_markers_and_aborted_lists(skiff_factory, skiff_bin: Path, topic_name: str) -> None:
    """Transactions committed and aborted in small flushes, then merged (markers written into
    the merged object as control batches): both isolation levels read the same records after
    the merge as before it."""
    metrics_addr = f"127.0.0.1:{free_port()}"
    skiff = skiff_factory(
        FILE_STORE,
        "--cleaner-backoff-ms",
        "100",
        "--merge-min-age-ms",
        "2000",
        "--metrics-addr",
        metrics_addr,
    )
    bootstrap = skiff.bootstrap
    confluent_client.create_topic(bootstrap, topic_name, 2)
    producer = _producer(bootstrap, f"{topic_name}-txn")
    producer.init_transactions(TIMEOUT_S)
    outcomes = [("c0", True), ("a1", False), ("c2", True), ("a3", False), ("c4", True)]
    for prefix, commit in outcomes:
        producer.begin_transaction()
        _produce_both(producer, topic_name, prefix, 3)
        assert producer.flush(TIMEOUT_S) == 0
        if commit:
            producer.commit_transaction(TIMEOUT_S)
        else:
            producer.abort_transaction(TIMEOUT_S)

    def expected(only_committed: bool) -> dict[int, list[str]]:
        return {
            p: [f"{prefix}-{p}-{i}" for prefix, commit in outcomes if commit or not only_committed for i in range(3)]
            for p in (0, 1)
        }

    assert _read_all(bootstrap, topic_name, 2, "read_committed") == expected(True)
    assert _read_all(bootstrap, topic_name, 2, "read_uncommitted") == expected(False)

    def merged() -> bool:
        described = json.loads(cli_ok(skiff_bin, bootstrap, "topic", "describe", topic_name, "--json"))
        return all(p["objects"] == 1 for p in described["partitions"])

    wait_until(merged, 60.0, "each partition merged into one object")
    with urllib.request.urlopen(f"http://{metrics_addr}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    replaced = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("skiff_merged_entries_total")
    )
    # Each partition had five data entries and five markers.
    assert replaced >= 2 * 10, metrics
    assert _read_all(bootstrap, topic_name, 2, "read_committed") == expected(True)
    assert _read_all(bootstrap, topic_name, 2, "read_uncommitted") == expected(False)
