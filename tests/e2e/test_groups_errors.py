"""Group errors a stock client sees, with Kafka's error codes: commits for partitions that do not
exist, metadata over the size limit, a standalone commit into a group with members, and deleting a
group (or its offsets) while members are in it, then once it is empty."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import kafka
import pytest

from harness import kafka_python_client, standalone_consumers
from harness.deadlines import wait_until
from harness.group_admin import (
    CommittedOffset,
    commit_without_member,
    committed_offsets,
    committed_positions,
    delete_groups,
    describe_group,
    list_groups,
)
from harness.groups import GROUP_FLAGS, GroupMembers, MemberSettings, produce, wait_until_consumed, wait_until_settled
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE

PARTITIONS = 3
ALL_PARTITIONS = range(PARTITIONS)
SETTLE_TIMEOUT_S = 45
CONSUME_TIMEOUT_S = 30
# skiff dev's --offset-metadata-max-bytes default, the same as Kafka's offset.metadata.max.bytes.
METADATA_MAX_BYTES = 4096


def largest_metadata(client: ModuleType) -> str:
    """The longest metadata string the client can commit. confluent-kafka sends the string's
    terminating NUL as part of the metadata (its TopicPartition conversion uses strlen + 1), so
    through it the limit is one character shorter; Kafka counts bytes on the wire the same way."""
    return "m" * (METADATA_MAX_BYTES - (1 if client.NAME == "confluent" else 0))


@pytest.fixture
def skiff(skiff_factory) -> SkiffProcess:
    return skiff_factory(FILE_STORE, *GROUP_FLAGS)


def test_commits_for_unknown_partitions_are_refused(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    missing_topic = f"{topic_name}-missing"

    # Through the admin API (OffsetCommit without a member), per partition.
    assert commit_without_member(client, skiff.bootstrap, group, topic_name, {PARTITIONS: (1, "")}) == {
        PARTITIONS: "UNKNOWN_TOPIC_OR_PARTITION"
    }
    assert commit_without_member(client, skiff.bootstrap, group, missing_topic, {0: (1, "")}) == {
        0: "UNKNOWN_TOPIC_OR_PARTITION"
    }
    if client.NAME == "confluent":
        # librdkafka's consumer reports it from commit(); kafka-python's retries it as retriable
        # until its timeout, like the Java client, so only its admin call shows the code.
        assert (
            standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, {PARTITIONS + 5: (1, "")})
            == "UNKNOWN_TOPIC_OR_PARTITION"
        )
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {}
    assert committed_offsets(client, skiff.bootstrap, group, missing_topic) == {}

    # A good partition next to a bad one is still stored.
    mixed = commit_without_member(client, skiff.bootstrap, group, topic_name, {0: (2, "kept"), PARTITIONS: (2, "")})
    assert mixed == {0: None, PARTITIONS: "UNKNOWN_TOPIC_OR_PARTITION"}
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {0: CommittedOffset(2, "kept")}


def test_oversize_commit_metadata_is_refused(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    largest = largest_metadata(client)
    assert standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, {0: (5, largest)}) is None
    too_large = standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, {0: (9, largest + "m")})
    assert too_large == "OFFSET_METADATA_TOO_LARGE"
    assert commit_without_member(client, skiff.bootstrap, group, topic_name, {1: (9, largest + "m")}) == {
        1: "OFFSET_METADATA_TOO_LARGE"
    }
    # The refused commits changed nothing.
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {0: CommittedOffset(5, largest)}


def test_deleting_a_group_with_members_fails_until_it_is_empty(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    records = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 30, "delete")
    ends = {p: 1 + max(o for (q, o) in records if q == p) for p in ALL_PARTITIONS}
    with GroupMembers(tmp_path) as pool:
        member = pool.start("only", MemberSettings(client.NAME, skiff.bootstrap, group, topic_name))
        wait_until_settled([member], ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        wait_until_consumed([member], records, CONSUME_TIMEOUT_S, "the member to read everything")
        wait_until(lambda: member.committed() == ends, CONSUME_TIMEOUT_S, "the member to commit everything")

        assert delete_groups(client, skiff.bootstrap, [group]) == {group: "NON_EMPTY_GROUP"}
        # An assign() consumer or an admin is not a member: Kafka refuses a generation -1 commit
        # in a group that has members.
        assert (
            standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, {0: (0, "")}) == "UNKNOWN_MEMBER_ID"
        )
        assert commit_without_member(client, skiff.bootstrap, group, topic_name, {0: (0, "")}) == {
            0: "UNKNOWN_MEMBER_ID"
        }
        if client.NAME == kafka_python_client.NAME:
            # OffsetDelete: refused for a topic the group's members subscribe to.
            assert delete_offsets(skiff.bootstrap, group, topic_name, [0]) == {0: "GROUP_SUBSCRIBED_TO_TOPIC"}
        assert describe_group(client, skiff.bootstrap, group, topic_name).state == "Stable"
        assert committed_positions(client, skiff.bootstrap, group, topic_name) == ends
        member.close()

    if client.NAME == kafka_python_client.NAME:
        assert delete_offsets(skiff.bootstrap, group, topic_name, [0]) == {0: None}
        assert set(committed_offsets(client, skiff.bootstrap, group, topic_name)) == {1, 2}
    assert delete_groups(client, skiff.bootstrap, [group]) == {group: None}
    assert group not in list_groups(client, skiff.bootstrap)
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {}, "deleting a group deletes its offsets"
    assert delete_groups(client, skiff.bootstrap, [group]) == {group: "GROUP_ID_NOT_FOUND"}


def delete_offsets(bootstrap: str, group: str, topic: str, partitions: list[int]) -> dict[int, str | None]:
    """OffsetDelete through kafka-python's admin client (confluent-kafka has no call for it)."""
    admin = kafka_python_client.admin(bootstrap)
    try:
        found = admin.delete_group_offsets(group, [kafka.TopicPartition(topic, p) for p in partitions])
    finally:
        admin.close()
    return {tp.partition: (None if error is kafka.errors.NoError else error.message) for tp, error in found.items()}
