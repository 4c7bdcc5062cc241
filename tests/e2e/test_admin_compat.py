"""Admin calls that Kafka's own tools make (issue 20): the legacy AlterConfigs API with its
replace-all semantics, KIP-430 authorized operations and ElectLeaders, through confluent-kafka's
admin API."""

from __future__ import annotations

import pytest
from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import AclOperation, ConfigResource, ConfigSource, NewTopic, ResourceType

from harness import confluent_client
from harness.skiff_process import SkiffProcess

TIMEOUT_S = 30
DAY_MS = "86400000"


def _configs(admin, topic: str) -> dict:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)


def _overrides(admin, topic: str) -> dict[str, str]:
    return {
        name: entry.value
        for name, entry in _configs(admin, topic).items()
        if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    }


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_alter_configs_replaces_every_override_of_a_topic(skiff: SkiffProcess, topic_name: str) -> None:
    admin = confluent_client.admin(skiff.bootstrap)
    config = {"retention.ms": DAY_MS, "max.message.bytes": "2000000"}
    admin.create_topics([NewTopic(topic_name, 1, 1, config=config)])[topic_name].result(timeout=TIMEOUT_S)
    assert _overrides(admin, topic_name) == config

    # librdkafka's alter_configs is the legacy API: what it names is the whole set.
    replace = ConfigResource(ResourceType.TOPIC, topic_name, set_config={"retention.bytes": "1048576"})
    admin.alter_configs([replace])[replace].result(timeout=TIMEOUT_S)
    assert _overrides(admin, topic_name) == {"retention.bytes": "1048576"}
    assert _configs(admin, topic_name)["max.message.bytes"].is_default

    # A bad value fails the resource with INVALID_CONFIG naming the key, and changes nothing.
    bad = ConfigResource(
        ResourceType.TOPIC, topic_name, set_config={"retention.ms": "soon", "segment.bytes": "1048576"}
    )
    with pytest.raises(KafkaException) as raised:
        admin.alter_configs([bad])[bad].result(timeout=TIMEOUT_S)
    error: KafkaError = raised.value.args[0]
    assert error.code() == KafkaError.INVALID_CONFIG, error
    assert "retention.ms" in error.str(), error
    assert _overrides(admin, topic_name) == {"retention.bytes": "1048576"}

    unknown = ConfigResource(ResourceType.TOPIC, f"{topic_name}-missing", set_config={"retention.ms": DAY_MS})
    with pytest.raises(KafkaException) as raised:
        admin.alter_configs([unknown])[unknown].result(timeout=TIMEOUT_S)
    assert raised.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    # validate_only checks without changing anything.
    check = ConfigResource(ResourceType.TOPIC, topic_name, set_config={"retention.ms": DAY_MS})
    admin.alter_configs([check], validate_only=True)[check].result(timeout=TIMEOUT_S)
    assert _overrides(admin, topic_name) == {"retention.bytes": "1048576"}


def test_authorized_operations_are_every_operation_without_an_authorizer(
    skiff: SkiffProcess, topic_name: str
) -> None:
    admin = confluent_client.admin(skiff.bootstrap)
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=TIMEOUT_S)

    cluster = admin.describe_cluster(include_authorized_operations=True, request_timeout=TIMEOUT_S).result(
        timeout=TIMEOUT_S
    )
    assert set(cluster.authorized_operations or []) == {
        AclOperation.CREATE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
        AclOperation.CLUSTER_ACTION,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
        AclOperation.IDEMPOTENT_WRITE,
    }

    topics = admin.describe_topics(
        TopicCollection([topic_name]), include_authorized_operations=True, request_timeout=TIMEOUT_S
    )
    described = topics[topic_name].result(timeout=TIMEOUT_S)
    assert set(described.authorized_operations or []) == {
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.CREATE,
        AclOperation.DELETE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    }

    # Not asked for: none reported.
    plain = admin.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert not plain.authorized_operations


def test_leader_elections_are_never_needed(skiff: SkiffProcess, topic_name: str) -> None:
    admin = confluent_client.admin(skiff.bootstrap)
    admin.create_topics([NewTopic(topic_name, 2, 1)])[topic_name].result(timeout=TIMEOUT_S)
    asked = [TopicPartition(topic_name, 0), TopicPartition(topic_name, 1), TopicPartition(topic_name, 7)]
    for election in (ElectionType.PREFERRED, ElectionType.UNCLEAN):
        results = admin.elect_leaders(election, asked).result(timeout=TIMEOUT_S)
        codes = {(tp.topic, tp.partition): (error.code() if error else None) for tp, error in results.items()}
        assert codes == {
            (topic_name, 0): KafkaError.ELECTION_NOT_NEEDED,
            (topic_name, 1): KafkaError.ELECTION_NOT_NEEDED,
            (topic_name, 7): KafkaError.UNKNOWN_TOPIC_OR_PART,
        }, election
    # Every partition: nothing was elected, so nothing is listed (as Kafka answers).
    assert admin.elect_leaders(ElectionType.PREFERRED, None).result(timeout=TIMEOUT_S) == {}
