"""Topic administration through each client's own admin API: configs, partitions, deletion, the
error codes for duplicate and invalid names, and the cluster description."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType as KpConfigResourceType
from kafka.errors import (
    InvalidPartitionsError,
    InvalidTopicError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)

from harness import confluent_client, kafka_python_client
from harness.deadlines import wait_until
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_process import SkiffProcess

TIMEOUT_S = 30
INVALID_NAMES = ["bad name", "bad/name", "..", ".", "x" * 250, "ümlaut"]
DAY_MS = "86400000"
TWO_DAYS_MS = "172800000"


def _produce_one(client, bootstrap: str, topic: str, partition: int) -> Ack:
    acks: list[Ack | None] = [None]
    errors: list[str] = []
    producer = client.ProducerHandle(bootstrap, acks, errors, None)
    try:
        producer.send(topic, SentRecord(b"k", b"v", (), base_timestamp_ms(), partition), 0)
        producer.flush(TIMEOUT_S)
    finally:
        producer.close()
    assert errors == [] and acks[0] is not None, f"produce to {topic}/{partition} failed: {errors}"
    return acks[0]


def _confluent_error(future) -> KafkaError:
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=TIMEOUT_S)
    return raised.value.args[0]


class TestConfluentAdmin:
    def test_topic_lifecycle(self, skiff: SkiffProcess, topic_name: str) -> None:
        admin = confluent_client.admin(skiff.bootstrap)
        created = admin.create_topics([NewTopic(topic_name, 2, 1, config={"retention.ms": DAY_MS})])
        created[topic_name].result(timeout=TIMEOUT_S)
        assert len(admin.list_topics(topic_name, timeout=TIMEOUT_S).topics[topic_name].partitions) == 2

        resource = ConfigResource(ResourceType.TOPIC, topic_name)
        configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        assert configs["retention.ms"].value == DAY_MS
        assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert not configs["retention.ms"].is_default
        assert configs["cleanup.policy"].value == "delete" and configs["cleanup.policy"].is_default

        alter = ConfigResource(
            ResourceType.TOPIC,
            topic_name,
            incremental_configs=[ConfigEntry("retention.ms", TWO_DAYS_MS, incremental_operation=AlterConfigOpType.SET)],
        )
        admin.incremental_alter_configs([alter])[alter].result(timeout=TIMEOUT_S)
        configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        assert configs["retention.ms"].value == TWO_DAYS_MS

        reset = ConfigResource(
            ResourceType.TOPIC,
            topic_name,
            incremental_configs=[ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)],
        )
        admin.incremental_alter_configs([reset])[reset].result(timeout=TIMEOUT_S)
        configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        assert configs["retention.ms"].is_default and configs["retention.ms"].value != TWO_DAYS_MS

        admin.create_partitions([NewPartitions(topic_name, 5)])[topic_name].result(timeout=TIMEOUT_S)
        assert len(admin.list_topics(topic_name, timeout=TIMEOUT_S).topics[topic_name].partitions) == 5
        # A new partition takes writes and starts at offset 0.
        assert _produce_one(confluent_client, skiff.bootstrap, topic_name, 4) == Ack(4, 0)

        shrink = _confluent_error(admin.create_partitions([NewPartitions(topic_name, 3)])[topic_name])
        assert shrink.code() == KafkaError.INVALID_PARTITIONS, shrink

        duplicate = _confluent_error(admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name])
        assert duplicate.code() == KafkaError.TOPIC_ALREADY_EXISTS, duplicate

        admin.delete_topics([topic_name])[topic_name].result(timeout=TIMEOUT_S)
        wait_until(
            lambda: topic_name not in admin.list_topics(timeout=TIMEOUT_S).topics,
            TIMEOUT_S,
            f"{topic_name} to disappear from metadata",
        )
        missing = _confluent_error(admin.delete_topics([topic_name])[topic_name])
        assert missing.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, missing

    @pytest.mark.parametrize("name", INVALID_NAMES, ids=["space", "slash", "dotdot", "dot", "too-long", "non-ascii"])
    def test_invalid_topic_name_is_rejected(self, skiff: SkiffProcess, name: str) -> None:
        admin = confluent_client.admin(skiff.bootstrap)
        error = _confluent_error(admin.create_topics([NewTopic(name, 1, 1)])[name])
        # INVALID_TOPIC_EXCEPTION (17); librdkafka calls it TOPIC_EXCEPTION.
        assert error.code() == KafkaError.TOPIC_EXCEPTION, error
        assert name not in admin.list_topics(timeout=TIMEOUT_S).topics

    def test_describe_cluster(self, skiff: SkiffProcess) -> None:
        admin = confluent_client.admin(skiff.bootstrap)  # kept alive: its futures die with it
        cluster = admin.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
        assert cluster.cluster_id
        assert [(node.host, node.port) for node in cluster.nodes] == [("127.0.0.1", skiff.port)]
        assert cluster.controller is not None and cluster.controller.id == cluster.nodes[0].id


class TestKafkaPythonAdmin:
    @pytest.fixture
    def admin(self, skiff: SkiffProcess):
        client = kafka_python_client.admin(skiff.bootstrap)
        yield client
        client.close()

    def _configs(self, admin, topic: str, config_filter: str = "all") -> dict:
        described = admin.describe_configs(
            [KpConfigResource(KpConfigResourceType.TOPIC, topic)], config_filter=config_filter
        )
        return described["topic"][topic]

    def test_topic_lifecycle(self, admin, skiff: SkiffProcess, topic_name: str) -> None:
        admin.create_topics(
            {topic_name: {"num_partitions": 2, "replication_factor": 1, "configs": {"retention.ms": DAY_MS}}},
            timeout_ms=TIMEOUT_S * 1000,
        )
        [described] = admin.describe_topics([topic_name])
        assert len(described["partitions"]) == 2

        configs = self._configs(admin, topic_name)
        assert configs["retention.ms"]["value"] == DAY_MS
        assert configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        assert configs["cleanup.policy"]["value"] == "delete"
        assert set(self._configs(admin, topic_name, "modified")) == {"retention.ms"}

        # kafka-python picks IncrementalAlterConfigs when the broker offers it.
        result = admin.alter_configs(
            [KpConfigResource(KpConfigResourceType.TOPIC, topic_name, configs={"retention.ms": TWO_DAYS_MS})]
        )
        assert result == {"topic": {topic_name: "OK"}}
        assert self._configs(admin, topic_name)["retention.ms"]["value"] == TWO_DAYS_MS

        admin.create_partitions({topic_name: 4})
        [described] = admin.describe_topics([topic_name])
        assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2, 3]
        assert _produce_one(kafka_python_client, skiff.bootstrap, topic_name, 3) == Ack(3, 0)

        with pytest.raises(InvalidPartitionsError):
            admin.create_partitions({topic_name: 2})
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 1}})

        admin.delete_topics([topic_name], timeout_ms=TIMEOUT_S * 1000)
        wait_until(lambda: topic_name not in admin.list_topics(), TIMEOUT_S, f"{topic_name} to disappear from metadata")
        with pytest.raises(UnknownTopicOrPartitionError):
            admin.delete_topics([topic_name])

    @pytest.mark.parametrize("name", INVALID_NAMES, ids=["space", "slash", "dotdot", "dot", "too-long", "non-ascii"])
    def test_invalid_topic_name_is_rejected(self, admin, name: str) -> None:
        with pytest.raises(InvalidTopicError):
            admin.create_topics({name: {"num_partitions": 1, "replication_factor": 1}})
        assert name not in admin.list_topics()

    def test_describe_cluster(self, admin, skiff: SkiffProcess) -> None:
        cluster = admin.describe_cluster()
        assert cluster["cluster_id"]
        assert [(broker["host"], broker["port"]) for broker in cluster["brokers"]] == [("127.0.0.1", skiff.port)]
        assert cluster["controller_id"] == cluster["brokers"][0]["broker_id"]
