"""Dynamic broker configs (issue 20, and issue 13's broker-wide topic defaults) through stock admin
clients and the skiff CLI: DescribeConfigs of BROKER resources with Kafka's sources and synonyms;
changes to the cluster default and to one broker taking effect without a restart (a cluster-wide
log.cleanup.policy=compact refuses a keyless record, log.retention.ms moves a log start, one
broker's message.max.bytes refuses a large batch); AlterConfigs' replace-all on a broker;
read-only keys, unknown keys and bad values refused with nothing changed; and the dynamic configs
surviving a restart of skiff dev (they live in the controller state).

Neither librdkafka nor kafka-python can name the cluster default (Kafka's BROKER resource with an
empty name: confluent-kafka raises "Invalid ConfigResource", kafka-python wants an integer), so
the cluster default is set and read with `skiff cluster alter-config` / `describe-config`, which
send the same IncrementalAlterConfigs / DescribeConfigs requests Kafka's own tools do."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, ResourceType
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType as KpConfigResourceType

from harness import confluent_client, kafka_python_client
from harness.deadlines import DeadlineExceeded
from harness.records import base_timestamp_ms
from harness.skiff_cli import cli_ok, run_cli
from harness.skiff_process import SkiffProcess
from harness.stores import StoreConfig

TIMEOUT_S = 30
WAIT_S = 60.0
ROUND = 5


def _describe(admin, resource_type: ResourceType, name: str) -> dict:
    resource = ConfigResource(resource_type, name)
    return admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)


def _set_on_broker(admin, broker: str, key: str, value: str) -> None:
    entry = ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.BROKER, broker, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(timeout=TIMEOUT_S)


def _refused_on_broker(admin, broker: str, key: str, value: str) -> KafkaError:
    with pytest.raises(KafkaException) as raised:
        _set_on_broker(admin, broker, key, value)
    return raised.value.args[0]


def _broker_dynamic(admin, broker: str) -> dict[str, str]:
    configs = _describe(admin, ResourceType.BROKER, broker)
    return {k: e.value for k, e in configs.items() if e.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value}


def _cluster_defaults(skiff_bin: Path, bootstrap: str) -> dict[str, tuple[str, str]]:
    """The cluster-wide dynamic defaults that are set: value and source by key."""
    described = json.loads(cli_ok(skiff_bin, bootstrap, "cluster", "describe-config", "--json"))
    return {c["name"]: (c["value"], c["source"]) for c in described["configs"]}


def _produce(bootstrap: str, topic: str, key: bytes | None, value: bytes, timestamp_ms: int = 0):
    """One record; its delivery error (None when acknowledged)."""
    outcome: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    extra = {"timestamp": timestamp_ms} if timestamp_ms else {}
    producer.produce(topic, value=value, key=key, on_delivery=lambda err, _msg: outcome.append(err), **extra)
    producer.flush(TIMEOUT_S)
    assert len(outcome) == 1, "no delivery report"
    return outcome[0]


def test_dynamic_broker_configs_take_effect_without_a_restart_and_survive_one(
    skiff_factory, store: StoreConfig, skiff_bin: Path, topic_name: str
) -> None:
    skiff: SkiffProcess = skiff_factory(store, "--retention-check-interval-ms", "100")
    admin = confluent_client.admin(skiff.bootstrap)
    [node] = admin.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S).nodes
    me = str(node.id)

    # Out of the box: dynamic keys at Kafka's defaults and writable, flags static and read-only.
    configs = _describe(admin, ResourceType.BROKER, me)
    retention = configs["log.retention.ms"]
    assert (retention.value, retention.source, retention.is_read_only) == (
        "604800000",
        ConfigSource.DEFAULT_CONFIG.value,
        False,
    )
    broker_id = configs["broker.id"]
    assert (broker_id.value, broker_id.source, broker_id.is_read_only) == (
        me,
        ConfigSource.STATIC_BROKER_CONFIG.value,
        True,
    )
    assert _cluster_defaults(skiff_bin, skiff.bootstrap) == {}

    plain, aged = f"{topic_name}-plain", f"{topic_name}-aged"
    confluent_client.create_topic(skiff.bootstrap, plain, 1)
    confluent_client.create_topic(skiff.bootstrap, aged, 1, {"cleanup.policy": "delete"})
    # An hour-old round, then a current one: the default 7-day retention keeps both.
    for stamp in (base_timestamp_ms(), int(time.time() * 1000)):
        for n in range(ROUND):
            assert _produce(skiff.bootstrap, aged, f"k{n}".encode(), b"v", stamp) is None
    assert _produce(skiff.bootstrap, plain, None, b"keyless is fine while topics delete") is None

    # The cluster default changes every topic without its own value, on the spot.
    cli_ok(
        skiff_bin,
        skiff.bootstrap,
        "cluster",
        "alter-config",
        "--set",
        "log.cleanup.policy=compact",
        "--set",
        "log.retention.ms=600000",
    )
    assert _cluster_defaults(skiff_bin, skiff.bootstrap) == {
        "log.cleanup.policy": ("compact", "dynamic-broker-default"),
        "log.retention.ms": ("600000", "dynamic-broker-default"),
    }
    error = _produce(skiff.bootstrap, plain, None, b"no key")
    assert error is not None and error.code() == KafkaError.INVALID_RECORD, error
    assert _produce(skiff.bootstrap, plain, b"key", b"keyed") is None
    deadline = time.monotonic() + WAIT_S
    while (low := confluent_client.watermarks(skiff.bootstrap, aged, [0])[0][0]) == 0:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{aged} still starts at 0 after {WAIT_S:.0f} s")
        time.sleep(0.1)
    assert low == ROUND, "the cluster log.retention.ms did not drop exactly the hour-old round"

    # A topic without an override reports the broker default in effect, as Kafka does.
    cleanup = _describe(admin, ResourceType.TOPIC, plain)["cleanup.policy"]
    assert (cleanup.value, cleanup.source) == ("compact", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    assert "log.cleanup.policy" in cleanup.synonyms
    aged_cleanup = _describe(admin, ResourceType.TOPIC, aged)["cleanup.policy"]
    assert (aged_cleanup.value, aged_cleanup.source) == ("delete", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)

    # One broker's own value beats the cluster default, for the checks that broker makes.
    cli_ok(skiff_bin, skiff.bootstrap, "cluster", "alter-config", "--set", "message.max.bytes=500000")
    _set_on_broker(admin, me, "message.max.bytes", "2000")
    error = _produce(skiff.bootstrap, plain, b"big", b"x" * 5000)
    assert error is not None and error.code() == KafkaError.MSG_SIZE_TOO_LARGE, error
    # kafka-python shows every layer, most specific first (librdkafka keys synonyms by name).
    kp_admin = kafka_python_client.admin(skiff.bootstrap)
    try:
        described = kp_admin.describe_configs(
            [KpConfigResource(KpConfigResourceType.BROKER, me)], include_synonyms=True, config_filter="all"
        )
    finally:
        kp_admin.close()
    entry = described["broker"][me]["message.max.bytes"]
    assert (entry["value"], entry["config_source"], entry["read_only"]) == ("2000", "DYNAMIC_BROKER_CONFIG", False)
    assert [(s["name"], s["value"], s["source"]) for s in entry["synonyms"]] == [
        ("message.max.bytes", "2000", "DYNAMIC_BROKER_CONFIG"),
        ("message.max.bytes", "500000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG"),
    ]

    # Refused, changing nothing: a key Skiff applies cluster-wide set on one broker, a read-only
    # flag, an unknown key, a bad value.
    before = (_cluster_defaults(skiff_bin, skiff.bootstrap), _broker_dynamic(admin, me))
    error = _refused_on_broker(admin, me, "log.retention.ms", "1000")
    assert error.code() == KafkaError.INVALID_REQUEST and "whole cluster" in error.str(), error
    error = _refused_on_broker(admin, me, "broker.id", "7")
    assert error.code() == KafkaError.INVALID_REQUEST and "dynamically" in error.str(), error
    error = _refused_on_broker(admin, me, "message.max.kilobytes", "1")
    assert error.code() == KafkaError.INVALID_CONFIG and "message.max.kilobytes" in error.str(), error
    refused = run_cli(skiff_bin, skiff.bootstrap, "cluster", "alter-config", "--set", "log.retention.ms=soon")
    assert refused.returncode != 0 and b"log.retention.ms" in refused.stderr, refused.stderr
    # validate_only checks a good change without making it.
    entry = ConfigEntry("message.max.bytes", "3000", incremental_operation=AlterConfigOpType.SET)
    check = ConfigResource(ResourceType.BROKER, me, incremental_configs=[entry])
    admin.incremental_alter_configs([check], validate_only=True)[check].result(timeout=TIMEOUT_S)
    assert (_cluster_defaults(skiff_bin, skiff.bootstrap), _broker_dynamic(admin, me)) == before

    # AlterConfigs (librdkafka's alter_configs is that legacy API) replaces a broker's whole set.
    replace = ConfigResource(ResourceType.BROKER, me, set_config={"log.message.timestamp.type": "LogAppendTime"})
    with pytest.warns(DeprecationWarning):
        admin.alter_configs([replace])[replace].result(timeout=TIMEOUT_S)
    assert _broker_dynamic(admin, me) == {"log.message.timestamp.type": "LogAppendTime"}
    assert _produce(skiff.bootstrap, plain, b"big", b"x" * 5000) is None
    del admin  # its connections must not outlive this skiff

    skiff.restart()
    admin = confluent_client.admin(skiff.bootstrap)
    assert _cluster_defaults(skiff_bin, skiff.bootstrap) == {
        "log.cleanup.policy": ("compact", "dynamic-broker-default"),
        "log.retention.ms": ("600000", "dynamic-broker-default"),
        "message.max.bytes": ("500000", "dynamic-broker-default"),
    }
    assert _broker_dynamic(admin, me) == {"log.message.timestamp.type": "LogAppendTime"}
    error = _produce(skiff.bootstrap, plain, None, b"still no key")
    assert error is not None and error.code() == KafkaError.INVALID_RECORD, error
