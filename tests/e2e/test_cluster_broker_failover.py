"""SIGKILL a broker during sustained acks=all produce from two idempotent producers, each
bootstrapped with both brokers: once the dead broker's lease lapses, Metadata names the survivor
for its partitions, the producers move there, and nothing acknowledged is lost or duplicated."""

from __future__ import annotations

import time

import pytest

from harness.cluster import Cluster
from harness.cluster_load import ProducerLoad, partition_leaders, read_back, wait_for_acks, wait_for_new_writes
from harness.confluent_client import create_topic
from harness.consistency import check_consistency
from harness.deadlines import wait_until

PARTITIONS = 4
RECORDS_PER_S = 500  # per producer
# Broker lease (5 s default) + metadata refresh + retries: failover must fit well inside this.
FAILOVER_TIMEOUT_S = 45
NEW_ACKS_AFTER_FAILOVER = 500


@pytest.mark.timeout(150)
def test_producers_fail_over_when_a_broker_is_killed(cluster: Cluster, topic_name: str) -> None:
    create_topic(cluster.bootstrap, topic_name, PARTITIONS)
    loads = [ProducerLoad(f"p{n}", cluster.bootstrap, topic_name, PARTITIONS, RECORDS_PER_S) for n in (1, 2)]
    try:
        for load in loads:
            load.start()
        wait_for_acks(loads, 500, 30, "before the kill")

        leaders = partition_leaders(cluster.bootstrap, topic_name)
        assert set(leaders.values()) <= {1, 2}, f"Metadata names unknown leaders: {leaders}"
        # Kill the broker that leads the most partitions (the spread is by hashing; one may lead all).
        victim = max((1, 2), key=lambda broker_id: sum(leader == broker_id for leader in leaders.values()))
        survivor = 3 - victim
        moved = {partition for partition, leader in leaders.items() if leader == victim}
        killed_at = time.monotonic()
        cluster.brokers[victim - 1].kill()  # returns once the process is gone
        # Records sent from now on to the victim's partitions can only be acknowledged by the
        # survivor (acks of earlier ones may be answers the victim wrote just before it died).
        firsts = [load.sent() for load in loads]

        def first_new_ack_on_moved_partitions() -> float | None:
            times = [
                t
                for load, first in zip(loads, firsts, strict=True)
                for (partition, _, t) in load.acks_from(first)
                if partition in moved
            ]
            return min(times) if times else None

        first_ack = wait_until(first_new_ack_on_moved_partitions, FAILOVER_TIMEOUT_S, "an ack via the surviving broker")
        failover_s = first_ack - killed_at
        # Producing carries on through the survivor alone.
        wait_for_new_writes(loads, NEW_ACKS_AFTER_FAILOVER, 60, "after the failover")
        for load in loads:
            load.stop(flush_timeout_s=60)
    finally:
        for load in loads:
            load.close()

    for load in loads:
        assert load.log.failures == [], f"{load.log.name}: {len(load.log.failures)} failed: {load.log.failures[:5]}"
        assert load.fatal_errors == [], f"{load.log.name}: fatal client errors {load.fatal_errors}"
        assert len(load.log.acks) == len(load.log.values), f"{load.log.name}: not every record acknowledged"

    after = partition_leaders(cluster.broker_addrs[survivor - 1], topic_name)
    assert set(after.values()) == {survivor}, f"after broker {victim} died, Metadata still names {after}"

    records, high_watermarks = read_back(cluster.broker_addrs[survivor - 1], topic_name, PARTITIONS, 90)
    summary = check_consistency([load.log for load in loads], records, high_watermarks)
    print(
        f"\nbroker failover: killed broker {victim} (led partitions {sorted(moved)}); first ack via broker "
        f"{survivor} {failover_s:.2f} s after the kill; {summary}"
    )
