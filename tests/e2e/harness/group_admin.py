"""Group admin calls (DescribeGroups, ListGroups, OffsetFetch, OffsetCommit without a member,
DeleteGroups) through each stock client's own admin API, with the answers in one shape.

Errors are named as the Kafka protocol names them ("NON_EMPTY_GROUP"), whichever client saw them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

import kafka.errors
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from kafka import TopicPartition as KafkaPythonTopicPartition
from kafka.structs import OffsetAndMetadata

from . import confluent_client, kafka_python_client

TIMEOUT_S = 30.0
# librdkafka's group states, in the names Kafka's DescribeGroups/ListGroups use.
_CONFLUENT_STATES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "DEAD": "Dead",
    "UNKNOWN": "Unknown",
}


def kafka_error_name(code: int) -> str:
    """Kafka's protocol name for a broker error code, e.g. 68 -> "NON_EMPTY_GROUP"."""
    return kafka.errors.for_code(code).message


def _confluent_error_name(error: KafkaException) -> str:
    inner = error.args[0]
    # Broker errors keep their Kafka code; librdkafka's own (negative) codes keep their name.
    return kafka_error_name(inner.code()) if inner.code() > 0 else inner.name()


@dataclass(frozen=True)
class MemberDescription:
    member_id: str
    instance_id: str | None
    client_id: str
    partitions: frozenset[int]


@dataclass(frozen=True)
class GroupDescription:
    state: str
    # The assignor the group runs ("range"); empty for a group without members.
    protocol: str
    members: Mapping[str, MemberDescription]

    def assignments(self) -> dict[str, frozenset[int]]:
        return {member_id: member.partitions for member_id, member in self.members.items()}


@dataclass(frozen=True)
class CommittedOffset:
    offset: int
    metadata: str


def describe_group(client: ModuleType, bootstrap: str, group: str, topic: str) -> GroupDescription:
    """DescribeGroups; each member's partitions of `topic` from its assignment as the broker holds it."""
    if client.NAME == confluent_client.NAME:
        admin = confluent_client.admin(bootstrap)
        found = admin.describe_consumer_groups([group], request_timeout=TIMEOUT_S)[group].result(timeout=TIMEOUT_S)
        members = {
            m.member_id: MemberDescription(
                member_id=m.member_id,
                instance_id=m.group_instance_id,
                client_id=m.client_id,
                partitions=frozenset(tp.partition for tp in m.assignment.topic_partitions if tp.topic == topic),
            )
            for m in found.members
        }
        state = _CONFLUENT_STATES.get(found.state.name, found.state.name)
        return GroupDescription(state, found.partition_assignor or "", members)
    admin = kafka_python_client.admin(bootstrap)
    try:
        found = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if found["error"]:
        raise AssertionError(f"DescribeGroups for {group} failed: {found['error']}")
    members = {}
    for m in found["members"]:
        assignment = m["member_assignment"] or {}
        partitions = frozenset(
            p
            for topic_assignment in (assignment.get("assigned_partitions") or [])
            if topic_assignment["topic"] == topic
            for p in topic_assignment["partitions"]
        )
        members[m["member_id"]] = MemberDescription(m["member_id"], m["group_instance_id"], m["client_id"], partitions)
    return GroupDescription(found["group_state"], found["protocol_data"] or "", members)


def list_groups(client: ModuleType, bootstrap: str) -> dict[str, str]:
    """ListGroups: {group id: state}."""
    if client.NAME == confluent_client.NAME:
        admin = confluent_client.admin(bootstrap)
        result = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
        if result.errors:
            raise AssertionError(f"ListGroups errors: {result.errors}")
        return {g.group_id: _CONFLUENT_STATES.get(g.state.name, g.state.name) for g in result.valid}
    admin = kafka_python_client.admin(bootstrap)
    try:
        return {g["group_id"]: g["group_state"] for g in admin.list_groups()}
    finally:
        admin.close()


def committed_offsets(client: ModuleType, bootstrap: str, group: str, topic: str) -> dict[int, CommittedOffset]:
    """OffsetFetch for every partition the group committed in `topic` (none: an empty dict)."""
    if client.NAME == confluent_client.NAME:
        admin = confluent_client.admin(bootstrap)
        request = [ConsumerGroupTopicPartitions(group)]
        found = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S)[group].result(timeout=TIMEOUT_S)
        result = {}
        for tp in found.topic_partitions:
            if tp.error is not None:
                raise KafkaException(tp.error)
            if tp.topic == topic and tp.offset >= 0:
                result[tp.partition] = CommittedOffset(tp.offset, tp.metadata or "")
        return result
    admin = kafka_python_client.admin(bootstrap)
    try:
        found = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {
        tp.partition: CommittedOffset(oam.offset, oam.metadata or "")
        for tp, oam in found.items()
        if tp.topic == topic and oam.offset >= 0
    }


def committed_positions(client: ModuleType, bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """committed_offsets without the metadata: {partition: offset}."""
    return {p: committed.offset for p, committed in committed_offsets(client, bootstrap, group, topic).items()}


def commit_without_member(
    client: ModuleType, bootstrap: str, group: str, topic: str, offsets: Mapping[int, tuple[int, str]]
) -> dict[int, str | None]:
    """OffsetCommit as an admin sends it (generation -1, no member id); per partition the Kafka
    error name, or None where it was stored."""
    if client.NAME == confluent_client.NAME:
        admin = confluent_client.admin(bootstrap)
        wanted = [TopicPartition(topic, p, o, m) for p, (o, m) in sorted(offsets.items())]
        request = [ConsumerGroupTopicPartitions(group, wanted)]
        try:
            future = admin.alter_consumer_group_offsets(request, request_timeout=TIMEOUT_S)[group]
            found = future.result(timeout=TIMEOUT_S)
        except KafkaException as error:
            # librdkafka fails the whole call on the first partition error.
            name = _confluent_error_name(error)
            return {p: name for p in offsets}
        return {
            tp.partition: (None if tp.error is None else kafka_error_name(tp.error.code()))
            for tp in found.topic_partitions
        }
    admin = kafka_python_client.admin(bootstrap)
    try:
        wanted = {KafkaPythonTopicPartition(topic, p): OffsetAndMetadata(o, m, -1) for p, (o, m) in offsets.items()}
        found = admin.alter_group_offsets(group, wanted)
    finally:
        admin.close()
    return {tp.partition: (None if error is kafka.errors.NoError else error.message) for tp, error in found.items()}


def delete_groups(client: ModuleType, bootstrap: str, groups: Iterable[str]) -> dict[str, str | None]:
    """DeleteGroups: per group the Kafka error name, or None where it was deleted."""
    groups = list(groups)
    if client.NAME == confluent_client.NAME:
        admin = confluent_client.admin(bootstrap)
        futures = admin.delete_consumer_groups(groups, request_timeout=TIMEOUT_S)
        results: dict[str, str | None] = {}
        for group, future in futures.items():
            try:
                future.result(timeout=TIMEOUT_S)
                results[group] = None
            except KafkaException as error:
                results[group] = _confluent_error_name(error)
        return results
    admin = kafka_python_client.admin(bootstrap)
    try:
        found = admin.delete_groups(groups)
    finally:
        admin.close()
    # kafka-python names each outcome by its error class ("NonEmptyGroupError") or "OK".
    return {
        group: (None if outcome == "OK" else getattr(kafka.errors, outcome).message) for group, outcome in found.items()
    }
