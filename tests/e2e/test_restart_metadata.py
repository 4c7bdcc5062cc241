"""What the controller owns survives a clean restart: topics, partition counts, configs,
deletions, offsets and the timestamp index behind ListOffsets."""

from __future__ import annotations

from types import ModuleType

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, ResourceType

from harness import confluent_client
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_process import SkiffProcess
from harness.stores import StoreConfig
from harness.verify import check_acks, expected_offset_for_time

TIMEOUT_S = 30
PARTITIONS_AFTER_GROWTH = 4
RECORDS = 60


@pytest.mark.parametrize("store", ["file", "s3"], indirect=True)
def test_metadata_and_offsets_survive_a_restart(
    client: ModuleType, store: StoreConfig, skiff: SkiffProcess, topic_name: str
) -> None:
    kept, deleted = f"{topic_name}-kept", f"{topic_name}-deleted"
    client.create_topic(skiff.bootstrap, kept, 2, {"retention.ms": "123456789"})
    client.create_topic(skiff.bootstrap, deleted, 1)
    admin = confluent_client.admin(skiff.bootstrap)
    admin.create_partitions([NewPartitions(kept, PARTITIONS_AFTER_GROWTH)])[kept].result(timeout=TIMEOUT_S)
    compact = ConfigResource(
        ResourceType.TOPIC,
        kept,
        incremental_configs=[ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)],
    )
    admin.incremental_alter_configs([compact])[compact].result(timeout=TIMEOUT_S)
    admin.delete_topics([deleted])[deleted].result(timeout=TIMEOUT_S)
    del admin  # its connections must not outlive this skiff

    first_ms = base_timestamp_ms()
    sent = [
        SentRecord(f"k{i}".encode(), f"v{i}".encode(), (), first_ms + 10 * i, i % PARTITIONS_AFTER_GROWTH)
        for i in range(RECORDS)
    ]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, "gzip")
    try:
        producer.send_all(kept, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == []
    check_acks(sent, acks)
    timestamps = {p: [r.timestamp_ms for r in sent if r.partition == p] for p in range(PARTITIONS_AFTER_GROWTH)}
    lookups = [{p: first_ms + 10 * i + 5 for p in range(PARTITIONS_AFTER_GROWTH)} for i in range(0, RECORDS, 7)]
    before = client.offsets_for_times(skiff.bootstrap, kept, lookups)

    skiff.restart()

    admin = confluent_client.admin(skiff.bootstrap)
    topics = admin.list_topics(timeout=TIMEOUT_S).topics
    assert kept in topics and deleted not in topics
    assert len(topics[kept].partitions) == PARTITIONS_AFTER_GROWTH
    resource = ConfigResource(ResourceType.TOPIC, kept)
    configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert (configs["retention.ms"].value, configs["cleanup.policy"].value) == ("123456789", "compact")

    marks = client.watermarks(skiff.bootstrap, kept, range(PARTITIONS_AFTER_GROWTH))
    assert marks == {p: (0, len(timestamps[p])) for p in range(PARTITIONS_AFTER_GROWTH)}
    after = client.offsets_for_times(skiff.bootstrap, kept, lookups)
    expected = [
        {p: expected_offset_for_time(timestamps[p], target) for p, target in lookup.items()} for lookup in lookups
    ]
    assert before == expected, "ListOffsets by timestamp was wrong before the restart"
    assert after == expected, "ListOffsets by timestamp changed across the restart"
