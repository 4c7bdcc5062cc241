"""The storage lifecycle through stock clients: DeleteRecords (AdminClient.delete_records) moves
a partition's log start, ListOffsets earliest follows, a fetch below it is OFFSET_OUT_OF_RANGE and
a group member whose committed offset lies below it resets as configured; retention by time and
by size on a skiff whose leader checks every 100 ms, after which the collector deletes the
objects nothing references, on the file store and on S3."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

from harness import confluent_client
from harness.deadlines import DeadlineExceeded
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import free_port
from harness.skiff_cli import cli_ok, run_cli
from harness.skiff_process import SkiffProcess
from harness.stores import StoreConfig
from harness.verify import check_acks

PER_ROUND = 10
WAIT_S = 60.0
# The leader looks for expired data and garbage every 100 ms; objects become garbage one second
# after nothing references them (long enough for a broker's upload-then-commit).
FAST_LIFECYCLE = (
    "--retention-check-interval-ms",
    "100",
    "--gc-interval-ms",
    "100",
    "--gc-grace-ms",
    "1000",
)


def _metric(metrics_url: str, series: str) -> float:
    """One series of skiff's /metrics, e.g. `skiff_objects_deleted_total{kind="unreferenced"}`."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {series} in\n{text[:3000]}"
    return float(match.group(1))


def _records(topic: str, partition: int, first: int, count: int, timestamp_ms: int) -> list[SentRecord]:
    return [
        SentRecord(f"k{n}".encode(), f"{topic}|{partition}|{n}".encode(), (), timestamp_ms + n, partition)
        for n in range(first, first + count)
    ]


def _produce_rounds(client: ModuleType, bootstrap: str, topic: str, rounds: list[list[SentRecord]]) -> None:
    """Each round acknowledged before the next is sent, so rounds land in different segments."""
    for records in rounds:
        acks: list[Ack | None] = [None] * len(records)
        errors: list[str] = []
        producer = client.ProducerHandle(bootstrap, acks, errors, None)
        try:
            producer.send_all(topic, records, 0)
            producer.flush(60)
        finally:
            producer.close()
        assert errors == [], f"delivery errors: {errors[:10]}"
        check_acks(records, acks)


def _wait_for_low_watermark(client: ModuleType, bootstrap: str, topic: str, partition: int, above: int) -> int:
    deadline = time.monotonic() + WAIT_S
    while True:
        low, _ = client.watermarks(bootstrap, topic, [partition])[partition]
        if low > above:
            return low
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{topic}/{partition} still starts at {low} after {WAIT_S:.0f} s")
        time.sleep(0.1)


def test_delete_records_moves_the_log_start(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, 2)
    stamp = base_timestamp_ms()
    rounds = [_records(topic_name, p, r * PER_ROUND, PER_ROUND, stamp) for r in range(3) for p in (0, 1)]
    _produce_rounds(client, skiff.bootstrap, topic_name, rounds)
    end = 3 * PER_ROUND

    assert client.delete_records(skiff.bootstrap, topic_name, {0: 15, 1: -1}) == {0: 15, 1: end}
    assert client.watermarks(skiff.bootstrap, topic_name, [0, 1]) == {0: (15, end), 1: (end, end)}
    # Backwards is a no-op that answers the current start.
    assert client.delete_records(skiff.bootstrap, topic_name, {0: 3}) == {0: 15}
    beyond = client.delete_records(skiff.bootstrap, topic_name, {0: end + 1})
    assert beyond[0] in ("OFFSET_OUT_OF_RANGE", "OffsetOutOfRangeError"), beyond

    assert client.fetch_error_at(skiff.bootstrap, topic_name, 0, 5, 30) == "OFFSET_OUT_OF_RANGE"
    consumed = client.consume(skiff.bootstrap, topic_name, {0: end}, 60, start_offsets={0: 15})
    assert [r.offset for r in consumed] == list(range(15, end))
    assert [r.value for r in consumed] == [f"{topic_name}|0|{n}".encode() for n in range(15, end)]
    # A group member whose committed offset was deleted starts over at the log start.
    assert client.first_offset_after_reset(skiff.bootstrap, topic_name, 0, 3, 60) == 15


def test_delete_records_from_the_cli(skiff_bin: Path, skiff: SkiffProcess, topic_name: str) -> None:
    confluent_client.create_topic(skiff.bootstrap, topic_name, 2)
    stamp = base_timestamp_ms()
    _produce_rounds(confluent_client, skiff.bootstrap, topic_name, [_records(topic_name, 0, 0, PER_ROUND, stamp)])
    done = json.loads(
        cli_ok(skiff_bin, skiff.bootstrap, "topic", "delete-records", topic_name, "-p", "0", "--offset", "4", "--json")
    )
    assert done == {"topic": topic_name, "partitions": [{"partition": 0, "log_start_offset": 4}]}
    described = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "topic", "describe", topic_name, "--json"))
    partitions = {p["partition"]: p for p in described["partitions"]}
    assert (partitions[0]["start_offset"], partitions[0]["end_offset"]) == (4, PER_ROUND)
    assert partitions[0]["stored_bytes"] > 0 and partitions[0]["objects"] == 1
    assert (partitions[1]["stored_bytes"], partitions[1]["objects"]) == (0, 0)

    # By time: everything before the first record stamped at or after it (stamp + n for offset n).
    by_time = json.loads(
        cli_ok(
            skiff_bin, skiff.bootstrap, "topic", "delete-records", topic_name, "-p", "0",
            "--before-time", str(stamp + 7), "--json",
        )
    )
    assert by_time["partitions"] == [{"partition": 0, "log_start_offset": 7}]

    # Beyond the end: a per-partition error, said in words, and nothing moves.
    beyond = run_cli(skiff_bin, skiff.bootstrap, "topic", "delete-records", topic_name, "-p", "0", "--offset", "99")
    assert beyond.returncode != 0
    assert b"out of range" in beyond.stderr.lower(), beyond.stderr
    assert confluent_client.watermarks(skiff.bootstrap, topic_name, [0]) == {0: (7, PER_ROUND)}


@pytest.mark.parametrize("store", ["file", "s3"], indirect=True)
def test_retention_by_time_and_size_then_collection(
    skiff_factory, store: StoreConfig, topic_name: str
) -> None:
    metrics_addr = f"127.0.0.1:{free_port()}"
    metrics_url = f"http://{metrics_addr}/metrics"
    skiff = skiff_factory(store, *FAST_LIFECYCLE, "--metrics-addr", metrics_addr)
    by_time, by_size = f"{topic_name}-time", f"{topic_name}-size"
    # An hour old is past a 10-minute retention.ms; records stamped now are not.
    confluent_client.create_topic(skiff.bootstrap, by_time, 1, {"retention.ms": "600000"})
    now = int(time.time() * 1000)
    _produce_rounds(
        confluent_client, skiff.bootstrap, by_time, [_records(by_time, 0, 0, PER_ROUND, base_timestamp_ms())]
    )
    old_objects = set(store.segment_objects(skiff.data_dir, skiff.object_prefix))
    assert old_objects, f"no segment objects in the {store.kind} store"
    _produce_rounds(confluent_client, skiff.bootstrap, by_time, [_records(by_time, 0, PER_ROUND, PER_ROUND, now)])
    assert _wait_for_low_watermark(confluent_client, skiff.bootstrap, by_time, 0, 0) == PER_ROUND
    consumed = confluent_client.consume(skiff.bootstrap, by_time, {0: 2 * PER_ROUND}, 60, start_offsets={0: PER_ROUND})
    assert [r.offset for r in consumed] == list(range(PER_ROUND, 2 * PER_ROUND))
    assert confluent_client.fetch_error_at(skiff.bootstrap, by_time, 0, 0, 30) == "OFFSET_OUT_OF_RANGE"

    # retention.bytes=1 keeps the newest index entry only: the last round (one flush) stays.
    confluent_client.create_topic(skiff.bootstrap, by_size, 1, {"retention.bytes": "1"})
    rounds = [_records(by_size, 0, r * PER_ROUND, PER_ROUND, now) for r in range(3)]
    _produce_rounds(confluent_client, skiff.bootstrap, by_size, rounds)
    low = _wait_for_low_watermark(confluent_client, skiff.bootstrap, by_size, 0, PER_ROUND)
    assert 2 * PER_ROUND <= low < 3 * PER_ROUND
    consumed = confluent_client.consume(skiff.bootstrap, by_size, {0: 3 * PER_ROUND}, 60, start_offsets={0: low})
    assert [r.value for r in consumed] == [r.value for r in rounds[2][low - 2 * PER_ROUND :]]

    # The objects that held only the expired records go from the store; the rest stay readable.
    deadline = time.monotonic() + WAIT_S
    while old_objects & set(store.segment_objects(skiff.data_dir, skiff.object_prefix)):
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"expired objects still in the {store.kind} store after {WAIT_S:.0f} s")
        time.sleep(0.1)
    # What the leader did shows in /metrics: at least one entry of the time topic and two of the
    # size topic dropped, and every expired object deleted as unreferenced.
    assert _metric(metrics_url, "skiff_retention_deleted_entries_total") >= 3
    assert _metric(metrics_url, 'skiff_objects_deleted_total{kind="unreferenced"}') >= len(old_objects)
    again = confluent_client.consume(skiff.bootstrap, by_time, {0: 2 * PER_ROUND}, 60, start_offsets={0: PER_ROUND})
    assert [r.value for r in again] == [f"{by_time}|0|{n}".encode() for n in range(PER_ROUND, 2 * PER_ROUND)]
