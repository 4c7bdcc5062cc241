"""Consumer groups with stock clients using subscribe(): members split a topic's partitions with no
overlap, as they see it and as DescribeGroups reports it; a cooperative-sticky join moves only what
it must; two groups read the same topic independently. Each member is its own OS process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest

from harness.deadlines import wait_until
from harness.group_admin import committed_positions, describe_group, list_groups
from harness.groups import (
    GROUP_FLAGS,
    GroupMember,
    GroupMembers,
    MemberSettings,
    MemberView,
    check_consumed_once,
    wait_until_consumed,
    produce,
    wait_until_settled,
)
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE

PARTITIONS = 6
ALL_PARTITIONS = range(PARTITIONS)
SETTLE_TIMEOUT_S = 45
CONSUME_TIMEOUT_S = 30


@pytest.fixture
def skiff(skiff_factory) -> SkiffProcess:
    return skiff_factory(FILE_STORE, *GROUP_FLAGS)


def check_broker_agrees(
    client: ModuleType, skiff: SkiffProcess, group: str, topic: str, views: Mapping[str, MemberView], protocol: str
) -> None:
    """DescribeGroups (through the client's admin API) shows a Stable group with exactly these
    members, each with the partitions its client says it owns."""
    description = describe_group(client, skiff.bootstrap, group, topic)
    by_member_id = {view.member_id: view.assignment for view in views.values()}
    assert description.state == "Stable", f"DescribeGroups state {description.state} for a settled group"
    assert description.protocol == protocol
    assert description.assignments() == by_member_id, (
        f"DescribeGroups assignments {description.assignments()} differ from the clients' own {by_member_id}"
    )


def check_clean(members: list[GroupMember]) -> None:
    for member in members:
        assert member.commit_failures() == [], f"{member.name}: commit failures {member.commit_failures()}"
        assert member.errors() == [], f"{member.name}: consumer errors {member.errors()}"


def test_two_then_three_members_split_six_partitions(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    expected = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "first")
    settings = MemberSettings(client.NAME, skiff.bootstrap, group, topic_name)
    with GroupMembers(tmp_path) as pool:
        members = [pool.start("a", settings), pool.start("b", settings)]
        two = wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        # Range gives each of two members half: the leader saw both subscriptions.
        assert sorted(len(view.assignment) for view in two.values()) == [3, 3], two
        check_broker_agrees(client, skiff, group, topic_name, two, "range")
        wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "the first records consumed")

        members.append(pool.start("c", settings))
        # Records produced while the third member joins must be read once, by whoever owns them then.
        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "during-join", first=300)
        three = wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        assert next(iter(three.values())).generation > next(iter(two.values())).generation
        assert sorted(len(view.assignment) for view in three.values()) == [2, 2, 2], three
        check_broker_agrees(client, skiff, group, topic_name, three, "range")

        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "after-join", first=600)
        wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "every record consumed")
        for member in members:
            member.close()
    check_consumed_once(members, expected)
    check_clean(members)
    assert describe_group(client, skiff.bootstrap, group, topic_name).state == "Empty"


def test_cooperative_sticky_join_revokes_only_what_moves(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    expected = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "first")
    settings = MemberSettings(client.NAME, skiff.bootstrap, group, topic_name, strategy="cooperative-sticky")
    with GroupMembers(tmp_path) as pool:
        members = [pool.start("a", settings), pool.start("b", settings)]
        before = wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "the first records consumed")

        joined_at = time.monotonic()
        joiner = pool.start("c", settings)
        members.append(joiner)
        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "during-join", first=120)
        after = wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        assert sorted(len(view.assignment) for view in after.values()) == [2, 2, 2], after
        check_broker_agrees(client, skiff, group, topic_name, after, "cooperative-sticky")

        for member in members[:2]:
            owned, kept = before[member.name].assignment, after[member.name].assignment
            assert kept <= owned, f"{member.name} gained {sorted(kept - owned)} although only the joiner needed any"
            callbacks = member.callbacks_since(joined_at)
            revoked = {p for event in callbacks if event["e"] == "revoked" for p in event["partitions"]}
            added = {p for event in callbacks if event["e"] == "assigned" for p in event["partitions"]}
            lost = [event for event in callbacks if event["e"] == "lost"]
            assert revoked == owned - kept, (
                f"{member.name} had {sorted(revoked)} revoked; only the moved {sorted(owned - kept)} should be"
            )
            assert added == set() and lost == [], f"{member.name} callbacks during the join: {callbacks}"
            # Its own view never dropped a partition it keeps.
            for event in member.events("state", since=joined_at):
                assert kept <= set(event["assignment"]), f"{member.name} lost kept {sorted(kept)} in {event}"
        moved = after[joiner.name].assignment
        joiner_revoked = [e for e in joiner.callbacks_since(0) if e["e"] in ("revoked", "lost") and e["partitions"]]
        assert joiner_revoked == [], f"the joiner had partitions taken away: {joiner_revoked}"
        assert moved == set().union(*(before[m.name].assignment - after[m.name].assignment for m in members[:2]))

        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "after-join", first=240)
        wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "every record consumed")
        for member in members:
            member.close()
    check_consumed_once(members, expected)
    check_clean(members)


def test_two_groups_read_the_same_topic_independently(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    expected = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "shared")
    groups = {"x": f"{topic_name}-x", "y": f"{topic_name}-y"}
    with GroupMembers(tmp_path) as pool:
        x_members = [
            pool.start("x1", MemberSettings(client.NAME, skiff.bootstrap, groups["x"], topic_name)),
            pool.start("x2", MemberSettings(client.NAME, skiff.bootstrap, groups["x"], topic_name)),
        ]
        y_members = [pool.start("y1", MemberSettings(client.NAME, skiff.bootstrap, groups["y"], topic_name))]
        x_views = wait_until_settled(x_members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        y_views = wait_until_settled(y_members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        check_broker_agrees(client, skiff, groups["x"], topic_name, x_views, "range")
        check_broker_agrees(client, skiff, groups["y"], topic_name, y_views, "range")
        states = list_groups(client, skiff.bootstrap)
        assert {states.get(groups["x"]), states.get(groups["y"])} == {"Stable"}, f"ListGroups: {states}"

        for members in (x_members, y_members):
            wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "all consumed")
        ends = {p: 1 + max(o for (q, o) in expected if q == p) for p in ALL_PARTITIONS}
        for group, members in ((groups["x"], x_members), (groups["y"], y_members)):
            wait_until(
                lambda group=group: committed_positions(client, skiff.bootstrap, group, topic_name) == ends,
                CONSUME_TIMEOUT_S,
                f"group {group} to commit the end of every partition",
            )
        for member in [*x_members, *y_members]:
            member.close()
    check_consumed_once(x_members, expected)
    check_consumed_once(y_members, expected)
    check_clean([*x_members, *y_members])
