"""Committed offsets: they and their metadata strings survive a `skiff dev` restart and a new
member resumes from them; a group without commits starts where auto.offset.reset says; assign()
consumers commit without joining, and read their commits back."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from harness import standalone_consumers
from harness.group_admin import CommittedOffset, committed_offsets, describe_group, list_groups
from harness.groups import (
    GROUP_FLAGS,
    GroupMembers,
    MemberSettings,
    check_consumed_once,
    produce,
    wait_until_consumed,
    wait_until_settled,
)
from harness.deadlines import wait_until
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE

PARTITIONS = 6
ALL_PARTITIONS = range(PARTITIONS)
SETTLE_TIMEOUT_S = 45
CONSUME_TIMEOUT_S = 30
# What each setting is called by each client when no committed offset may be used instead.
NO_RESET = {"confluent": "error", "kafka-python": "none"}


@pytest.fixture
def skiff(skiff_factory) -> SkiffProcess:
    return skiff_factory(FILE_STORE, *GROUP_FLAGS)


def end_offsets(records: dict[tuple[int, int], str]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in records:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def test_committed_offsets_and_metadata_survive_a_restart(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    before = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "before")
    ends = end_offsets(before)
    metadata = "{partition}@{offset} by the first member"
    with GroupMembers(tmp_path) as pool:
        settings = MemberSettings(client.NAME, skiff.bootstrap, group, topic_name, commit_metadata=metadata)
        first = pool.start("first", settings)
        wait_until_settled([first], ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        wait_until_consumed([first], before, CONSUME_TIMEOUT_S, "the first member to read everything")
        wait_until(lambda: first.committed() == ends, CONSUME_TIMEOUT_S, "the first member to commit everything")
        first.close()
    stored = {p: CommittedOffset(end, metadata.format(partition=p, offset=end)) for p, end in ends.items()}
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == stored
    later = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 60, "later", first=120)

    skiff.restart()

    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == stored, "OffsetFetch after the restart"
    assert standalone_consumers.committed(client, skiff.bootstrap, group, topic_name, ALL_PARTITIONS) == stored, (
        "the consumer's committed() after the restart"
    )
    assert list_groups(client, skiff.bootstrap).get(group) == "Empty", "the group is known again after the restart"
    with GroupMembers(tmp_path) as pool:
        # "earliest" would re-read everything if the commits had been lost.
        second = pool.start("second", MemberSettings(client.NAME, skiff.bootstrap, group, topic_name))
        wait_until_settled([second], ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        wait_until_consumed([second], later, CONSUME_TIMEOUT_S, "the new member to read the later records")
        second.close()
    check_consumed_once([second], later)
    assert second.commit_failures() == [] and second.errors() == []


def test_auto_offset_reset_for_a_group_without_commits(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    old = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 60, "old")
    ends = end_offsets(old)
    groups = {reset: f"{topic_name}-{reset}" for reset in ("earliest", "latest", "none")}
    for group in groups.values():
        assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {}

    def settings(reset: str, value: str) -> MemberSettings:
        return MemberSettings(
            client.NAME, skiff.bootstrap, groups[reset], topic_name, auto_offset_reset=value, commit=False
        )

    with GroupMembers(tmp_path) as pool:
        earliest = pool.start("earliest", settings("earliest", "earliest"))
        latest = pool.start("latest", settings("latest", "latest"))
        strict = pool.start("none", settings("none", NO_RESET[client.NAME]))
        for member in (earliest, latest, strict):
            wait_until_settled([member], ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        # "latest" resolves to the end offsets; records produced after that are what it reads.
        latest.wait_for(
            lambda m: (view := m.view()) is not None and dict(view.positions) == ends,
            CONSUME_TIMEOUT_S,
            f"positions at the end offsets {ends}",
        )
        strict.wait_for(lambda m: m.errors(), CONSUME_TIMEOUT_S, "report that no committed offset exists")
        wait_until_consumed([earliest], old, CONSUME_TIMEOUT_S, "the earliest member to read the old records")
        new = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 60, "new", first=60)
        wait_until_consumed([earliest], old | new, CONSUME_TIMEOUT_S, "the earliest member to read everything")
        wait_until_consumed([latest], new, CONSUME_TIMEOUT_S, "the latest member to read the new records")
        for member in (earliest, latest, strict):
            member.close()
    check_consumed_once([earliest], old | new)
    check_consumed_once([latest], new)
    assert strict.consumed() == [], "a member without a reset policy read records from nowhere"
    assert any("offset" in error.lower() for error in strict.errors()), strict.errors()
    for member in (earliest, latest):
        assert member.errors() == [], member.errors()
    for group in groups.values():
        assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {}, f"{group} never committed"


def test_standalone_commits_by_assign_consumers(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-standalone"
    records = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "standalone")
    ends = end_offsets(records)
    wanted = {p: (3 + p, f"standalone commit of {p}") for p in ALL_PARTITIONS}

    assert standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, wanted) is None
    stored = {p: CommittedOffset(offset, text) for p, (offset, text) in wanted.items()}
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == stored
    assert standalone_consumers.committed(client, skiff.bootstrap, group, topic_name, ALL_PARTITIONS) == stored
    # Kafka lists a group that only stores offsets, as Empty and without members.
    assert list_groups(client, skiff.bootstrap).get(group) == "Empty"
    description = describe_group(client, skiff.bootstrap, group, topic_name)
    assert (description.state, dict(description.members)) == ("Empty", {})

    read = standalone_consumers.read_from_committed(client, skiff.bootstrap, group, topic_name, ends, CONSUME_TIMEOUT_S)
    assert read == {p: list(range(3 + p, ends[p])) for p in ALL_PARTITIONS}, "an assign() consumer starts at the commit"

    # A later commit replaces the earlier one, metadata included.
    assert standalone_consumers.commit(client, skiff.bootstrap, group, topic_name, {0: (7, "")}) is None
    assert committed_offsets(client, skiff.bootstrap, group, topic_name) == {**stored, 0: CommittedOffset(7, "")}
