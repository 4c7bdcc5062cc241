"""SIGKILL during an archive (issue 15), 3 controllers + 2 brokers on LocalStack S3:

- the broker running a topic's archive pass is killed mid-pass (after the job started, before it
  committed): its lease lapses, the other broker archives the topic;
- the controller leader is killed at the archive's commit (the broker logs that it wrote the pass
  and proposes it): the commit applied or it did not, and the archive completes under the new
  leader.

Either way, once `skiff archive status` says the topic is archived, the table (copied out of the
bucket, read by DuckDB offline) holds every acknowledged offset exactly once with its value."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness.archive_table import copy_table_from_s3, duckdb_offline, offsets_once
from harness.cluster import Cluster
from harness.deadlines import DeadlineExceeded, wait_until
from harness.server_process import ANSI_ESCAPE, ServerProcess
from harness.skiff_cli import cli_ok, run_cli

PARTITIONS = 2
WAIT_S = 90.0
ARCHIVE_ARGS = ["--archive-interval-ms", "300", "--job-lease-ms", "3000"]

ARCHIVE_STARTED = re.compile(r'job started.*kind="?archive')
ARCHIVE_WRITTEN = re.compile(r"archive pass written; committing it")
ARCHIVE_COMMITTED = re.compile(r"archive committed")


def _log_text(path: Path) -> str:
    try:
        return ANSI_ESCAPE.sub("", path.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


def _produce(bootstrap: str, topic: str, count: int, value_bytes: int) -> dict[tuple[int, int], bytes]:
    """`count` records of incompressible values (so a pass takes a while), acknowledged ones by
    (partition, offset)."""
    acked: dict[tuple[int, int], bytes] = {}
    errors: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "message.max.bytes": 4 << 20})

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        if err is not None:
            errors.append(str(err))
        else:
            acked[(msg.partition(), msg.offset())] = msg.value()

    for n in range(count):
        producer.produce(topic, value=os.urandom(value_bytes), key=b"k%d" % n, partition=n % PARTITIONS,
                         on_delivery=on_delivery)  # fmt: skip
        producer.poll(0)
    assert producer.flush(120) == 0, "records left unacknowledged"
    assert errors == []
    assert len(acked) == count
    return acked


def _archived(skiff_bin: Path, bootstrap: str, topic: str, count: int) -> dict | None:
    # Until its session lapses, the killed broker is still in the metadata the command follows.
    result = run_cli(skiff_bin, bootstrap, "archive", "status", topic, "--json")
    if result.returncode != 0:
        return None
    status = json.loads(result.stdout)
    (state,) = status["topics"]
    ends = sum(p["end_offset"] or 0 for p in state["partitions"])
    return state if state["lag_records"] == 0 and ends == count else None


def _first_broker_logging(cluster: Cluster, pattern: re.Pattern[str], deadline: float, what: str) -> ServerProcess:
    while True:
        for broker in cluster.brokers:
            if pattern.search(_log_text(broker.log_path)):
                return broker
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"no {what} within {WAIT_S:.0f} s")
        time.sleep(0.005)


def _check_table(cluster: Cluster, tmp_path: Path, topic: str, acked: dict[tuple[int, int], bytes]) -> None:
    assert cluster.store.s3 is not None
    table = copy_table_from_s3(cluster.store.s3, cluster.object_prefix, topic, tmp_path / "table-copy")
    rows = offsets_once(duckdb_offline(), table, moved=True)
    assert sorted(rows) == sorted(acked), "an offset is missing from the table or was never produced"
    assert rows == acked


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cluster", [{"controller_args": ARCHIVE_ARGS}], indirect=True)
def test_a_broker_killed_mid_archive_pass_leaves_every_offset_archived_once(
    cluster: Cluster, skiff_bin: Path, topic_name: str, tmp_path: Path
) -> None:
    # Archiving starts only once everything is stored, so the first pass is long (24 MiB).
    cli_ok(skiff_bin, cluster.bootstrap, "topic", "create", topic_name, "--partitions", str(PARTITIONS))
    acked = _produce(cluster.bootstrap, topic_name, 96, 256 * 1024)
    cli_ok(skiff_bin, cluster.bootstrap, "topic", "alter-config", topic_name, "--set", "skiff.archive.enable=true")

    deadline = time.monotonic() + WAIT_S
    victim = _first_broker_logging(cluster, ARCHIVE_STARTED, deadline, "archive job")
    # Mid-pass: the first partition's Parquet file is in the bucket, nothing is committed yet.
    assert cluster.store.s3 is not None
    client = cluster.store.s3.minio_client()
    data = f"{cluster.object_prefix}/archive/{topic_name}/data/"
    while not any(True for _ in client.list_objects(cluster.store.s3.bucket, prefix=data, recursive=True)):
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"no Parquet file written within {WAIT_S:.0f} s")
        time.sleep(0.005)
    victim.kill()
    assert not ARCHIVE_COMMITTED.search(_log_text(victim.log_path)), "the pass committed before the kill"
    survivor = next(b for b in cluster.brokers if b is not victim)
    survivor_addr = cluster.broker_addrs[cluster.brokers.index(survivor)]

    # The survivor takes the job once the victim's lease lapses and archives everything.
    status = wait_until(lambda: _archived(skiff_bin, survivor_addr, topic_name, len(acked)), WAIT_S,
                        "the survivor to archive the topic", interval_s=0.2)  # fmt: skip
    assert ARCHIVE_COMMITTED.search(_log_text(survivor.log_path))
    cluster.stop()
    _check_table(cluster, tmp_path, topic_name, acked)
    print(f"\narchive pass killed on {victim.name}; {survivor.name} committed v{status['metadata_version']}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cluster", [{"controller_args": ARCHIVE_ARGS}], indirect=True)
def test_a_leader_killed_at_the_archive_commit_leaves_every_offset_archived_once(
    cluster: Cluster, skiff_bin: Path, topic_name: str, tmp_path: Path
) -> None:
    cli_ok(skiff_bin, cluster.bootstrap, "topic", "create", topic_name, "--partitions", str(PARTITIONS))
    acked = _produce(cluster.bootstrap, topic_name, 48, 64 * 1024)
    leader = cluster.leader_id()
    cli_ok(skiff_bin, cluster.bootstrap, "topic", "alter-config", topic_name, "--set", "skiff.archive.enable=true")

    # Kill the leader as soon as a broker has written its pass and proposes the commit.
    deadline = time.monotonic() + WAIT_S
    committer = _first_broker_logging(cluster, ARCHIVE_WRITTEN, deadline, "archive commit")
    cluster.controllers[leader - 1].kill()
    new_leader = cluster.leader_id(timeout_s=30)
    assert new_leader != leader

    # Then more records, archived by later passes under the new leader.
    acked |= _produce(cluster.bootstrap, topic_name, 10, 1024)
    wait_until(lambda: _archived(skiff_bin, cluster.bootstrap, topic_name, len(acked)), WAIT_S,
               "the archive to complete under the new leader", interval_s=0.2)  # fmt: skip
    first_commit = "applied" if ARCHIVE_COMMITTED.search(_log_text(committer.log_path)) else "lost or unanswered"
    cluster.stop()
    _check_table(cluster, tmp_path, topic_name, acked)
    print(f"\nleader {leader} killed at {committer.name}'s archive commit ({first_commit}); node {new_leader} led")
