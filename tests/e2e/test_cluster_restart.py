"""Stop the whole cluster (all five processes, SIGTERM, each must exit cleanly) and start it
again on the same data dirs and ports: topics, records and committed group offsets are all
still there, and new writes continue the same partitions without a gap."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from harness.cluster import Cluster
from harness.cluster_load import ProducerLoad, partition_leaders, read_back, wait_for_acks
from harness.confluent_client import ADMIN_TIMEOUT_S, create_topic
from harness.consistency import check_consistency

PARTITIONS = 3
RECORDS_PER_S = 500  # per producer
ACKS_PER_PHASE = 1_000


def _group_consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})


@pytest.mark.timeout(150)
def test_everything_survives_a_full_cluster_restart(cluster: Cluster, topic_name: str) -> None:
    create_topic(cluster.bootstrap, topic_name, PARTITIONS)
    before = [ProducerLoad(f"before{n}", cluster.bootstrap, topic_name, PARTITIONS, RECORDS_PER_S) for n in (1, 2)]
    try:
        for load in before:
            load.start()
        wait_for_acks(before, ACKS_PER_PHASE, 30, "before the restart")
        for load in before:
            load.stop(flush_timeout_s=60)
    finally:
        for load in before:
            load.close()

    # A committed group offset per partition, through the group coordinator, to find again later.
    group = f"restart-{uuid.uuid4().hex[:8]}"
    committed = [TopicPartition(topic_name, partition, 10 + partition) for partition in range(PARTITIONS)]
    consumer = _group_consumer(cluster.bootstrap, group)
    try:
        consumer.commit(offsets=committed, asynchronous=False)
    finally:
        consumer.close()
    _, watermarks_before = read_back(cluster.bootstrap, topic_name, PARTITIONS, 60)

    cluster.stop()  # SIGTERM; each process must exit 0 after logging "stopped"
    cluster.start()

    assert len(partition_leaders(cluster.bootstrap, topic_name)) == PARTITIONS, "the topic lost partitions"
    consumer = _group_consumer(cluster.bootstrap, group)
    try:
        found = consumer.committed(
            [TopicPartition(topic_name, partition) for partition in range(PARTITIONS)], timeout=ADMIN_TIMEOUT_S
        )
    finally:
        consumer.close()
    assert {(tp.partition, tp.offset) for tp in found} == {(tp.partition, tp.offset) for tp in committed}

    after = ProducerLoad("after", cluster.bootstrap, topic_name, PARTITIONS, RECORDS_PER_S)
    try:
        after.start()
        wait_for_acks([after], ACKS_PER_PHASE // 2, 60, "after the restart")
        after.stop(flush_timeout_s=60)
    finally:
        after.close()

    loads = [*before, after]
    for load in loads:
        assert load.log.failures == [], f"{load.log.name}: {len(load.log.failures)} failed: {load.log.failures[:5]}"
        assert len(load.log.acks) == len(load.log.values), f"{load.log.name}: not every record acknowledged"
    # New writes continue each partition right after what was there before the restart.
    for partition in range(PARTITIONS):
        first_new = min(o for (p, o, _) in after.acks_snapshot() if p == partition)
        assert first_new == watermarks_before[partition], (
            f"partition {partition}: high watermark {watermarks_before[partition]} before the restart, "
            f"first offset after it {first_new}"
        )
    records, high_watermarks = read_back(cluster.bootstrap, topic_name, PARTITIONS, 90)
    summary = check_consistency([load.log for load in loads], records, high_watermarks)
    print(f"\nfull restart: {summary}")
