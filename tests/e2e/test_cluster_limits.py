"""The controller's limits on topics (issue 23), seen through stock admin clients: a cluster-wide
partition limit refuses the topics and growth that would pass it with POLICY_VIOLATION and a
message, topics that still fit are created, and a request naming too many topics is refused
with INVALID_REQUEST."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewPartitions, NewTopic
from kafka.errors import PolicyViolationError

from harness import confluent_client, kafka_python_client
from harness.stores import FILE_STORE

TIMEOUT_S = 30
MAX_PARTITIONS = 12
MAX_TOPICS_PER_REQUEST = 3


@pytest.fixture
def limited_skiff(skiff_factory, tmp_path: Path):
    config = tmp_path / "limits.toml"
    config.write_text(
        f"[controller]\nmax_partitions = {MAX_PARTITIONS}\nmax_topics_per_request = {MAX_TOPICS_PER_REQUEST}\n"
    )
    return skiff_factory(FILE_STORE, "--config", str(config))


def _error(future) -> KafkaError:
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=TIMEOUT_S)
    return raised.value.args[0]


def test_partition_and_request_limits_with_confluent(limited_skiff, topic_name: str) -> None:
    admin = confluent_client.admin(limited_skiff.bootstrap)
    first, second, third = (f"{topic_name}-{n}" for n in range(3))
    # 8 fit in 12; 8 more would make 16; the last 4 still fit after the refusal.
    futures = admin.create_topics(
        [NewTopic(first, 8, 1), NewTopic(second, 8, 1), NewTopic(third, 4, 1)]
    )
    futures[first].result(timeout=TIMEOUT_S)
    futures[third].result(timeout=TIMEOUT_S)
    refused = _error(futures[second])
    assert refused.code() == KafkaError.POLICY_VIOLATION, refused
    assert "would hold 16 partitions, over its limit of 12" in refused.str(), refused.str()
    topics = admin.list_topics(timeout=TIMEOUT_S).topics
    assert second not in topics
    assert len(topics[first].partitions) == 8 and len(topics[third].partitions) == 4

    # The cluster is full: growing by one more partition is refused, and changes nothing.
    grow = admin.create_partitions([NewPartitions(first, 9)])
    refused = _error(grow[first])
    assert refused.code() == KafkaError.POLICY_VIOLATION, refused
    assert len(admin.list_topics(timeout=TIMEOUT_S).topics[first].partitions) == 8

    too_many = [NewTopic(f"{topic_name}-many-{n}", 1, 1) for n in range(MAX_TOPICS_PER_REQUEST + 1)]
    for name, future in admin.create_topics(too_many).items():
        refused = _error(future)
        assert refused.code() == KafkaError.INVALID_REQUEST, (name, refused)
        assert f"at most {MAX_TOPICS_PER_REQUEST} topics" in refused.str(), refused.str()
    assert not any(t.startswith(f"{topic_name}-many") for t in admin.list_topics(timeout=TIMEOUT_S).topics)


def test_partition_limit_with_kafka_python(limited_skiff, topic_name: str) -> None:
    admin = kafka_python_client.admin(limited_skiff.bootstrap)
    try:
        with pytest.raises(PolicyViolationError):
            admin.create_topics({topic_name: {"num_partitions": MAX_PARTITIONS + 1, "replication_factor": 1}})
        admin.create_topics({topic_name: {"num_partitions": MAX_PARTITIONS, "replication_factor": 1}})
        assert len(admin.describe_topics([topic_name])[0]["partitions"]) == MAX_PARTITIONS
    finally:
        admin.close()
