"""BROKER_LOGGER config resources (issue 20) through kafka-python's admin client, as Kafka's
`kafka-configs.sh --entity-type broker-loggers` uses them: DescribeConfigs lists the loggers
(`tracing` targets, `root` first) with their levels; IncrementalAlterConfigs SET turns a module's
debug lines on at run time and DELETE turns them off again, with no restart; bad names, bad
levels, removing root and the legacy AlterConfigs are refused with Kafka's codes, changing
nothing. confluent-kafka (librdkafka) has no BROKER_LOGGER resource type, so it is not used."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Producer
from kafka.admin import AlterConfigOp
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType as KpConfigResourceType

from harness import confluent_client, kafka_python_client
from harness.skiff_process import SkiffProcess

TIMEOUT_S = 30
# A debug line the flusher writes for every segment it uploads.
UPLOAD_LINE = "uploading segment"


def _loggers(admin, broker: str) -> dict[str, tuple[str, str]]:
    described = admin.describe_configs(
        [KpConfigResource(KpConfigResourceType.BROKER_LOGGER, broker)], config_filter="all"
    )
    return {name: (e["value"], e["config_source"]) for name, e in described["broker_logger"][broker].items()}


def _alter(admin, broker: str, configs: dict, **kwargs) -> str:
    result = admin.alter_configs(
        [KpConfigResource(KpConfigResourceType.BROKER_LOGGER, broker, configs=configs)],
        raise_on_unknown=False,
        **kwargs,
    )
    return result["broker_logger"][broker]


def _produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, value=value)
    assert producer.flush(TIMEOUT_S) == 0, "record not acknowledged"


def _upload_lines(skiff: SkiffProcess) -> int:
    return Path(skiff.log_path).read_text(errors="replace").count(UPLOAD_LINE)


def test_log_levels_change_at_run_time_through_broker_logger_configs(skiff_factory, topic_name: str) -> None:
    skiff: SkiffProcess = skiff_factory()
    kafka_python_client.create_topic(skiff.bootstrap, topic_name, 1)
    admin = kafka_python_client.admin(skiff.bootstrap)
    try:
        # The librdkafka admin client must outlive its future.
        cluster_admin = confluent_client.admin(skiff.bootstrap)
        [node] = cluster_admin.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S).nodes
        me = str(node.id)

        # Out of the box: skiff dev's own filter (unless SKIFF_LOG replaced it), root first.
        loggers = _loggers(admin, me)
        assert list(loggers)[0] == "root", loggers
        assert loggers["root"][1] == "DYNAMIC_BROKER_LOGGER_CONFIG", loggers
        # Root set to INFO (whatever it was): an acknowledged produce writes no upload line.
        assert _alter(admin, me, {"root": (AlterConfigOp.SET, "INFO")}) == "OK"
        assert _loggers(admin, me)["root"] == ("INFO", "DYNAMIC_BROKER_LOGGER_CONFIG")
        _produce_one(skiff.bootstrap, topic_name, b"quiet")
        assert _upload_lines(skiff) == 0

        # SET one module to DEBUG: its lines appear for the next produce (the flush that
        # carries a record is logged before the record is acknowledged).
        assert _alter(admin, me, {"skiff_broker::produce": (AlterConfigOp.SET, "debug")}) == "OK"
        assert _loggers(admin, me)["skiff_broker::produce"] == ("DEBUG", "DYNAMIC_BROKER_LOGGER_CONFIG")
        _produce_one(skiff.bootstrap, topic_name, b"loud")
        seen = _upload_lines(skiff)
        assert seen >= 1, skiff.log_tail()

        # DELETE hands the module back to root (INFO): no new lines.
        assert _alter(admin, me, {"skiff_broker::produce": (AlterConfigOp.DELETE, None)}) == "OK"
        assert "skiff_broker::produce" not in _loggers(admin, me)
        _produce_one(skiff.bootstrap, topic_name, b"quiet again")
        assert _upload_lines(skiff) == seen

        # validate_only checks without changing anything.
        assert _alter(admin, me, {"skiff_broker": (AlterConfigOp.SET, "TRACE")}, validate_only=True) == "OK"
        assert "skiff_broker" not in _loggers(admin, me)

        # Refused with Kafka's codes, nothing changed.
        before = _loggers(admin, me)
        refused = _alter(admin, me, {"skiff_broker": (AlterConfigOp.SET, "LOUD")})
        assert "InvalidConfigurationError" in refused and "LOUD" in refused, refused
        refused = _alter(admin, me, {"kafka.server=debug": (AlterConfigOp.SET, "DEBUG")})
        assert "InvalidConfigurationError" in refused and "module path" in refused, refused
        refused = _alter(admin, me, {"root": (AlterConfigOp.DELETE, None)})
        assert "InvalidRequestError" in refused and "root" in refused, refused
        refused = _alter(admin, me, {"skiff_broker": (AlterConfigOp.APPEND, "DEBUG")})
        assert "InvalidRequestError" in refused and "only SET" in refused, refused
        refused = _alter(admin, me, {"skiff_broker": "DEBUG"}, incremental=False)
        assert "InvalidRequestError" in refused and "IncrementalAlterConfigs" in refused, refused
        assert _loggers(admin, me) == before
    finally:
        admin.close()
