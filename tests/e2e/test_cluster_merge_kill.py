"""SIGKILL the broker running a merge job, mid-job: its lease lapses, the controller leader takes
the job back and leases it again, the surviving broker does it, and a stock client reads back
every acknowledged record unchanged. 3 controllers + 2 brokers on LocalStack S3."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from harness import confluent_client
from harness.cluster import Cluster
from harness.deadlines import DeadlineExceeded
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import ANSI_ESCAPE
from harness.skiff_cli import cli_ok
from harness.verify import check_acks

FLUSHES = 16
# Large records make the merge long enough (tens of MB through S3) to be killed in the middle.
VALUE_BYTES = 512 * 1024
PER_FLUSH = 4
MIN_AGE_MS = 3000
JOB_LEASE_MS = 3000
WAIT_S = 90.0

MERGE_ARGS = [
    "--cleaner-backoff-ms", "100",
    "--merge-min-age-ms", str(MIN_AGE_MS),
    "--job-lease-ms", str(JOB_LEASE_MS),
]  # fmt: skip

JOB_STARTED = re.compile(r"merge bundle started.*\bmerges=(\d+)")


def _log_text(path: Path) -> str:
    try:
        return ANSI_ESCAPE.sub("", path.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


@pytest.mark.timeout(240)
@pytest.mark.parametrize("cluster", [{"controller_args": MERGE_ARGS}], indirect=True)
def test_a_merge_killed_mid_job_is_redone_by_the_other_broker(
    cluster: Cluster, skiff_bin: Path, topic_name: str
) -> None:
    confluent_client.create_topic(cluster.bootstrap, topic_name, 1)
    stamp = base_timestamp_ms()
    acks: list[Ack | None] = [None] * (FLUSHES * PER_FLUSH)
    errors: list[str] = []
    sent: list[SentRecord] = []
    producer = confluent_client.ProducerHandle(cluster.bootstrap, acks, errors, None)
    try:
        for flush in range(FLUSHES):
            records = [
                SentRecord(
                    f"k{flush}-{n}".encode(),
                    bytes([flush * PER_FLUSH + n & 0xFF]) * VALUE_BYTES,
                    (),
                    stamp + flush * PER_FLUSH + n,
                    0,
                )
                for n in range(PER_FLUSH)
            ]
            producer.send_all(topic_name, records, len(sent))
            producer.flush(60)
            sent.extend(records)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)

    # Kill whichever broker starts the merge as soon as its log says so.
    deadline = time.monotonic() + WAIT_S
    victim = None
    while victim is None:
        for broker in cluster.brokers:
            if JOB_STARTED.search(_log_text(broker.log_path)):
                broker.kill()
                victim = broker
                break
        else:
            if time.monotonic() > deadline:
                raise DeadlineExceeded(f"no merge started within {WAIT_S:.0f} s")
            time.sleep(0.01)
    job = JOB_STARTED.search(_log_text(victim.log_path))
    assert job is not None
    victim_log = _log_text(victim.log_path)
    assert "merge bundle committed" not in victim_log, "the merge finished before the kill; nothing was tested"
    survivor = next(b for b in cluster.brokers if b is not victim)
    survivor_addr = cluster.broker_addrs[cluster.brokers.index(survivor)]

    # The survivor commits the merge once the victim's lease lapsed: one object left.
    while True:
        described = json.loads(cli_ok(skiff_bin, survivor_addr, "topic", "describe", topic_name, "--json"))
        objects = described["partitions"][0]["objects"]
        if objects == 1 and "merge bundle committed" in _log_text(survivor.log_path):
            break
        if time.monotonic() > deadline + WAIT_S:
            raise DeadlineExceeded(f"still {objects} objects after the kill")
        time.sleep(0.2)

    read = confluent_client.consume(survivor_addr, topic_name, {0: len(sent)}, 120)
    assert [r.offset for r in read] == list(range(len(sent)))
    for record, ack, got in zip(sent, acks, read, strict=True):
        assert ack is not None and ack.offset == got.offset
        assert (got.key, got.value, got.timestamp_ms) == (record.key, record.value, record.timestamp_ms)
    print(f"\nmerge bundle of {job.group(1)} killed on {victim.name}, redone by {survivor.name}")
