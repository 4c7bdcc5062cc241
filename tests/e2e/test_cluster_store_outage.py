"""Freeze the object store (SIGSTOP LocalStack) for 10 s while two idempotent producers write
through both brokers: acks stop (nothing is acknowledged that is not stored), uploads fail and
producers get retriable errors which they retry (any other error would fail a delivery), and when
the store answers again writes resume with no help and nothing acknowledged is lost or duplicated.

With the default store timeouts (30 s per request) a 10 s freeze only delays uploads; the brokers
here give up on a request after 1.5 s and 2 s in all, so the freeze makes uploads fail and the
retriable-error path (upload fails, KAFKA_STORAGE_ERROR, the client retries, possibly a PUT that
lands late and is never committed) runs too."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections import Counter

import pytest

from harness.cluster import Cluster
from harness.cluster_load import ProducerLoad, longest_ack_gap, read_back, wait_for_acks, wait_for_new_writes
from harness.confluent_client import create_topic
from harness.consistency import check_consistency
from harness.deadlines import wait_until

PARTITIONS = 4
RECORDS_PER_S = 500  # per producer
PAUSE_S = 10.0
SHORT_STORE_TIMEOUTS = """
[store]
request_timeout_ms = 1500
retry_timeout_ms = 2000
max_retries = 1
"""
UPLOAD_FAILED = "segment upload failed; producers will retry"
STORAGE_ERROR = "Disk error when trying to access log file on disk"  # librdkafka's KAFKA_STORAGE_ERROR text


def _store_healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:
            return b'"s3": "running"' in response.read()
    except OSError:
        return False


@pytest.mark.exclusive
@pytest.mark.timeout(150)
@pytest.mark.parametrize("cluster", [{"broker_config": SHORT_STORE_TIMEOUTS}], indirect=True)
def test_writes_wait_out_a_frozen_store_and_resume_alone(cluster: Cluster, topic_name: str) -> None:
    s3 = cluster.store.s3
    assert s3 is not None
    if s3.server_pid is None:
        pytest.skip("SKIFF_TEST_S3_PID is unset: the outage test needs the S3 server's pid (tests/run exports it)")
    create_topic(cluster.bootstrap, topic_name, PARTITIONS)
    loads = [
        ProducerLoad(f"p{n}", cluster.bootstrap, topic_name, PARTITIONS, RECORDS_PER_S, watch_produce_errors=True)
        for n in (1, 2)
    ]
    paused = False
    try:
        for load in loads:
            load.start()
        wait_for_acks(loads, 500, 30, "before the outage")

        sent_at_pause = sum(load.sent() for load in loads)
        acked_at_pause = sum(load.acked() for load in loads)
        os.kill(s3.server_pid, signal.SIGSTOP)
        paused = True
        paused_at = time.monotonic()
        time.sleep(PAUSE_S)  # the one fixed wait: produce runs on during the outage
        sent_at_resume = sum(load.sent() for load in loads)
        acked_at_resume = sum(load.acked() for load in loads)

        os.kill(s3.server_pid, signal.SIGCONT)
        paused = False
        resumed_at = time.monotonic()
        wait_until(lambda: _store_healthy(s3.endpoint), 30, "LocalStack to answer again after SIGCONT")

        wait_for_new_writes(loads, 500, 60, "after the store came back")
        for load in loads:
            load.stop(flush_timeout_s=60)
    finally:
        if paused:
            os.kill(s3.server_pid, signal.SIGCONT)
        for load in loads:
            load.close()

    # The outage was felt: healthy, acks trail sends by a flush; frozen, most sends waited.
    sent_in_pause, acked_in_pause = sent_at_resume - sent_at_pause, acked_at_resume - acked_at_pause
    assert acked_in_pause < sent_in_pause // 2, (
        f"{acked_in_pause} of {sent_in_pause} records sent during the freeze were acked while the store was stopped"
    )
    for load in loads:
        assert load.log.failures == [], f"{load.log.name}: {len(load.log.failures)} failed: {load.log.failures[:5]}"
        assert load.fatal_errors == [], f"{load.log.name}: fatal client errors {load.fatal_errors}"
        assert len(load.log.acks) == len(load.log.values), f"{load.log.name}: not every record acknowledged"
    pause_s, _ = longest_ack_gap(loads, paused_at - 1.0, time.monotonic())
    records, high_watermarks = read_back(cluster.bootstrap, topic_name, PARTITIONS, 90)
    summary = check_consistency([load.log for load in loads], records, high_watermarks)

    # The freeze reached the producers as KAFKA_STORAGE_ERROR (retriable: librdkafka says "Disk
    # error"), which they retried: every record was delivered (checked above), none was failed.
    produce_errors = sum((load.produce_errors for load in loads), Counter())
    assert any(STORAGE_ERROR in error for error in produce_errors), (
        f"the producers never got KAFKA_STORAGE_ERROR during the freeze; produce errors: {dict(produce_errors)}"
    )
    failed_uploads = sum(broker.log_since_start().count(UPLOAD_FAILED) for broker in cluster.brokers)
    assert failed_uploads > 0, f"no broker logged {UPLOAD_FAILED!r}: the freeze never failed an upload"

    first_ack_after = min(
        (t for load in loads for (_, _, t) in load.acks_snapshot() if t >= resumed_at), default=float("nan")
    )
    print(
        f"\nstore outage: {acked_in_pause} of {sent_in_pause} records sent during the {PAUSE_S:.0f} s freeze were "
        f"acked during it; longest gap between acks {pause_s:.2f} s; first ack {first_ack_after - resumed_at:.2f} s "
        f"after SIGCONT; {failed_uploads} failed uploads; failed produce requests (all retried): "
        f"{dict(produce_errors)}; client errors {sorted({e for load in loads for e in load.client_errors})}; {summary}"
    )
