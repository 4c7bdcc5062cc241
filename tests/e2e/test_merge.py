"""Merge through a stock client: many small multi-partition flushes, acknowledged one at a time,
are rewritten by the controller's merge jobs into one per-partition object each; confluent-kafka
reads back every record unchanged (offset, key, value, headers, timestamp) before and after; the
old flush objects leave the store after the grace period; /metrics counts the merged entries and
the job durations. On the file store and on LocalStack S3."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from harness import confluent_client
from harness.deadlines import DeadlineExceeded
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import free_port
from harness.skiff_cli import cli_ok
from harness.stores import StoreConfig
from harness.verify import check_acks

PARTITIONS = 3
FLUSHES = 12
PER_FLUSH = 5
WAIT_S = 60.0
# Entries become mergeable 4 s after their flush: the produce below (about 0.2 s a flush) is
# done by then, so one merge per partition takes every flush.
MIN_AGE_MS = 4000
FAST_MERGE = (
    "--cleaner-backoff-ms",
    "100",
    "--merge-min-age-ms",
    str(MIN_AGE_MS),
    "--gc-interval-ms",
    "100",
    "--gc-grace-ms",
    "2000",
)


def _metric_values(metrics_url: str, name: str) -> dict[str, float]:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(rf"^({re.escape(name)}(?:\{{[^}}]*\}})?) (\S+)$", text, re.MULTILINE)
    }


def _objects_per_partition(skiff_bin: Path, bootstrap: str, topic: str) -> list[int]:
    described = json.loads(cli_ok(skiff_bin, bootstrap, "topic", "describe", topic, "--json"))
    return [p["objects"] for p in sorted(described["partitions"], key=lambda p: p["partition"])]


@pytest.mark.parametrize("store", ["file", "s3"], indirect=True)
def test_merge_rewrites_small_flushes_into_one_object_per_partition(
    skiff_factory, skiff_bin: Path, store: StoreConfig, topic_name: str
) -> None:
    metrics_addr = f"127.0.0.1:{free_port()}"
    metrics_url = f"http://{metrics_addr}/metrics"
    skiff = skiff_factory(store, *FAST_MERGE, "--metrics-addr", metrics_addr)
    confluent_client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    stamp = base_timestamp_ms()

    # Each flush holds every partition and is acknowledged before the next is sent.
    acks: list[Ack | None] = [None] * (FLUSHES * PARTITIONS * PER_FLUSH)
    errors: list[str] = []
    producer = confluent_client.ProducerHandle(skiff.bootstrap, acks, errors, None)
    sent: list[SentRecord] = []
    started = time.monotonic()
    try:
        for flush in range(FLUSHES):
            records = [
                SentRecord(
                    f"k{flush}-{n}".encode(),
                    f"{topic_name}|{p}|{flush}|{n}".encode() * (n + 1),
                    (("h", f"{flush}".encode()),) if n % 2 else (),
                    stamp + flush * PER_FLUSH + n,
                    p,
                )
                for p in range(PARTITIONS)
                for n in range(PER_FLUSH)
            ]
            producer.send_all(topic_name, records, len(sent))
            producer.flush(60)
            sent.extend(records)
    finally:
        producer.close()
    produce_s = time.monotonic() - started
    old_objects = set(store.segment_objects(skiff.data_dir, skiff.object_prefix))
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)
    if produce_s < MIN_AGE_MS / 1000:
        # Listed before any entry was old enough to merge. Each flush is acknowledged before the
        # next is sent, so no object holds two flushes; group commit may seal one flush's
        # produce requests into more than one object when they arrive apart.
        assert len(old_objects) >= FLUSHES, old_objects
    ends = {p: FLUSHES * PER_FLUSH for p in range(PARTITIONS)}
    before = confluent_client.consume(skiff.bootstrap, topic_name, ends, 60)
    assert len(before) == len(sent)

    deadline = time.monotonic() + WAIT_S
    while (objects := _objects_per_partition(skiff_bin, skiff.bootstrap, topic_name)) != [1] * PARTITIONS:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"objects per partition still {objects} after {WAIT_S:.0f} s")
        time.sleep(0.2)
    merged_s = time.monotonic() - started

    after = confluent_client.consume(skiff.bootstrap, topic_name, ends, 60)
    assert after == before, "records changed in the merge"
    assert sorted((r.partition, r.offset) for r in after) == [
        (p, o) for p in range(PARTITIONS) for o in range(FLUSHES * PER_FLUSH)
    ]
    # Each record where it was acknowledged, as it was sent.
    at = {(r.partition, r.offset): r for r in after}
    for record, ack in zip(sent, acks, strict=True):
        assert ack is not None
        got = at[(ack.partition, ack.offset)]
        assert (got.key, got.value, got.headers, got.timestamp_ms) == (
            record.key,
            record.value,
            record.headers,
            record.timestamp_ms,
        )

    # The flush objects leave the store after the grace period; the merged ones stay.
    deadline = time.monotonic() + WAIT_S
    while old_objects & set(store.segment_objects(skiff.data_dir, skiff.object_prefix)):
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"flush objects still in the {store.kind} store after {WAIT_S:.0f} s")
        time.sleep(0.1)
    # The broker merged every partition together: one bundle object holds them all.
    assert len(set(store.segment_objects(skiff.data_dir, skiff.object_prefix))) == 1
    assert confluent_client.consume(skiff.bootstrap, topic_name, ends, 60) == before

    # At least one entry per flush and partition (a round's records can straddle two flushes)
    # went in, and each partition ended with one entry; a partition may have been merged twice
    # (the first flushes before the last were old enough, then the merged entry with the rest).
    merged = _metric_values(metrics_url, "skiff_merged_entries_total")["skiff_merged_entries_total"]
    written = _metric_values(metrics_url, "skiff_merge_output_entries_total")["skiff_merge_output_entries_total"]
    jobs = _metric_values(metrics_url, "skiff_job_seconds_count")
    committed = jobs.pop('skiff_job_seconds_count{kind="merge",outcome="committed"}')
    assert merged >= FLUSHES * PARTITIONS
    # Small runs: each merge wrote one entry in place of many, and a bundle commits the merges
    # of several partitions at once (the duration histogram counts bundles).
    assert PARTITIONS <= written < merged
    assert 1 <= committed <= written
    assert jobs == {}, f"jobs that did not commit: {jobs}"
    print(f"{FLUSHES} entries per partition merged into 1; produce {produce_s:.1f} s, merged at {merged_s:.1f} s")
