"""SIGKILL the controller leader during sustained produce: the other two elect a new leader, the
brokers' commits reach it, and acks resume by themselves. Measures the pause the producers saw
(the longest gap between consecutive acks around the kill) and prints it. The killed node then
restarts and catches up with the log it missed."""

from __future__ import annotations

import time

import pytest

from harness.cluster import Cluster
from harness.cluster_load import ProducerLoad, longest_ack_gap, read_back, wait_for_acks, wait_for_new_writes
from harness.confluent_client import create_topic
from harness.consistency import check_consistency
from harness.deadlines import wait_until

PARTITIONS = 4
RECORDS_PER_S = 500  # per producer
NEW_ACKS_AFTER_ELECTION = 500
RESUME_TIMEOUT_S = 60


@pytest.mark.timeout(150)
def test_writes_resume_after_the_controller_leader_is_killed(cluster: Cluster, topic_name: str) -> None:
    create_topic(cluster.bootstrap, topic_name, PARTITIONS)
    loads = [ProducerLoad(f"p{n}", cluster.bootstrap, topic_name, PARTITIONS, RECORDS_PER_S) for n in (1, 2)]
    try:
        for load in loads:
            load.start()
        wait_for_acks(loads, 500, 30, "before the kill")

        old_leader = cluster.leader_id()
        killed_at = time.monotonic()
        cluster.controllers[old_leader - 1].kill()
        new_leader = cluster.leader_id(timeout_s=30)
        elected_s = time.monotonic() - killed_at
        assert new_leader != old_leader

        wait_for_new_writes(loads, NEW_ACKS_AFTER_ELECTION, RESUME_TIMEOUT_S, "after the election")
        resumed_at = time.monotonic()
        for load in loads:
            load.stop(flush_timeout_s=60)

        # The old leader comes back as a follower and applies everything committed without it.
        cluster.controllers[old_leader - 1].spawn()
        cluster.controllers[old_leader - 1].wait_ready()
        leader_status = wait_until(lambda: cluster.node_status(new_leader), 10, f"node {new_leader}'s status")
        leader_applied = leader_status["applied_index"]

        def caught_up() -> dict | None:
            status = cluster.node_status(old_leader)
            return status if status and status["applied_index"] >= leader_applied else None

        rejoined = wait_until(caught_up, 30, f"node {old_leader} to apply up to index {leader_applied}")
        assert rejoined["leader"] is not None, f"node {old_leader} caught up but knows no leader: {rejoined}"
    finally:
        for load in loads:
            load.close()

    for load in loads:
        assert load.log.failures == [], f"{load.log.name}: {len(load.log.failures)} failed: {load.log.failures[:5]}"
        assert load.fatal_errors == [], f"{load.log.name}: fatal client errors {load.fatal_errors}"
        assert len(load.log.acks) == len(load.log.values), f"{load.log.name}: not every record acknowledged"

    # From 1 s before the kill (the normal ack rhythm) to when writes had clearly resumed.
    pause_s, pause_from = longest_ack_gap(loads, killed_at - 1.0, resumed_at)
    records, high_watermarks = read_back(cluster.bootstrap, topic_name, PARTITIONS, 90)
    summary = check_consistency([load.log for load in loads], records, high_watermarks)
    print(
        f"\ncontroller failover: killed leader {old_leader}; node {new_leader} seen as leader after "
        f"{elected_s:.2f} s; longest gap between acks {pause_s:.2f} s (starting {pause_from - killed_at:+.2f} s "
        f"from the kill); {summary}"
    )
