"""Members that go away: one SIGKILLed mid-stream (its partitions move after the session timeout
and the group carries on from the committed offsets, re-reading only the uncommitted tail), and a
static member (group.instance.id) restarted inside its session timeout, which gets its partitions
back in the same generation with no rebalance."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from harness.deadlines import wait_until
from harness.group_admin import committed_positions, describe_group
from harness.groups import (
    GROUP_FLAGS,
    HEARTBEAT_INTERVAL_MS,
    SESSION_TIMEOUT_MS,
    GroupMembers,
    MemberSettings,
    all_consumed,
    check_consumed_once,
    consumed_since,
    wait_until_consumed,
    holds_throughout,
    produce,
    wait_until_settled,
)
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE
from harness.verify import Problems

PARTITIONS = 6
ALL_PARTITIONS = range(PARTITIONS)
SETTLE_TIMEOUT_S = 45
CONSUME_TIMEOUT_S = 30
# How late after the session timeout the coordinator may notice a dead member and the survivors
# finish rejoining (a heartbeat interval to learn of the rebalance, then JoinGroup/SyncGroup).
TAKEOVER_SLACK_S = 15
# A static member's session must outlast a process restart on a busy two-core machine.
STATIC_SESSION_TIMEOUT_MS = 8_000


@pytest.fixture
def skiff(skiff_factory) -> SkiffProcess:
    return skiff_factory(FILE_STORE, *GROUP_FLAGS)


def end_offsets(expected: dict[tuple[int, int], str]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in expected:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def test_sigkilled_member_partitions_move_after_session_timeout_without_loss(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    expected = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "committed")
    settings = MemberSettings(client.NAME, skiff.bootstrap, group, topic_name)
    with GroupMembers(tmp_path) as pool:
        members = [pool.start(name, settings) for name in ("a", "b", "victim")]
        survivors, victim = members[:2], members[2]
        views = wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        orphaned = views[victim.name].assignment
        wait_until_consumed(members, expected, CONSUME_TIMEOUT_S, "the first records consumed")
        first_ends = end_offsets(expected)
        wait_until(
            lambda: committed_positions(client, skiff.bootstrap, group, topic_name) == first_ends,
            CONSUME_TIMEOUT_S,
            "the group to commit everything it read",
        )

        # The victim goes on reading without committing, so it dies with an uncommitted tail.
        victim.hold_commits()
        tail = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "tail", first=300)
        expected |= tail
        victim_tail = {position for position in tail if position[0] in orphaned}
        victim.wait_for(
            lambda m: {(r.partition, r.offset) for r in m.consumed()} >= victim_tail, CONSUME_TIMEOUT_S, "read its tail"
        )
        committed = committed_positions(client, skiff.bootstrap, group, topic_name)
        committed_at_kill = {p: offset for p, offset in committed.items() if p in orphaned}
        assert committed_at_kill == {p: first_ends[p] for p in orphaned}, "the victim's commits before it stopped"

        killed_at = time.monotonic()
        victim.kill()
        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 300, "after-kill", first=600)
        after = wait_until_settled(survivors, ALL_PARTITIONS, SESSION_TIMEOUT_MS / 1000 + TAKEOVER_SLACK_S)
        moved_after_s = time.monotonic() - killed_at
        assert sorted(len(view.assignment) for view in after.values()) == [3, 3], after
        # Kafka notices a silent member only when its session runs out: the last heartbeat was
        # at most one interval before the kill.
        earliest_s = (SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS) / 1000
        assert moved_after_s >= earliest_s, (
            f"partitions moved {moved_after_s:.1f} s after the kill, before the session timeout"
        )

        wait_until_consumed(survivors + [victim], expected, CONSUME_TIMEOUT_S, "every record consumed")
        for member in survivors:
            member.close()
        assert describe_group(client, skiff.bootstrap, group, topic_name).state == "Empty"

    problems = Problems()
    times = Counter((r.partition, r.offset) for r in all_consumed(members))
    for position, value in sorted(expected.items()):
        if times[position] == 0:
            problems.add(f"{position} was lost")
    victim_read = {(r.partition, r.offset) for r in victim.consumed()}
    # Only what the victim read past its last commit may be read again, and then exactly once more.
    allowed_twice = {(p, o) for p, o in victim_read if p in orphaned and o >= committed_at_kill[p]}
    read_twice = {position for position, count in times.items() if count > 1}
    if read_twice != allowed_twice:
        problems.add(
            f"read twice: {len(read_twice)} records; expected exactly the victim's {len(allowed_twice)} "
            "uncommitted ones; "
            f"unexpected {sorted(read_twice - allowed_twice)[:10]}, missing {sorted(allowed_twice - read_twice)[:10]}"
        )
    if any(count > 2 for count in times.values()):
        problems.add(f"records read more than twice: {[p for p, c in times.items() if c > 2][:10]}")
    # No gap: the new owners resume exactly at the committed offset.
    resumed = {}
    for member in survivors:
        for record in consumed_since(member, killed_at):
            if record.partition in orphaned:
                resumed[record.partition] = min(resumed.get(record.partition, record.offset), record.offset)
    if resumed != committed_at_kill:
        problems.add(f"orphaned partitions resumed at {resumed}, committed {committed_at_kill}")
    problems.raise_if_any("takeover after SIGKILL")
    assert allowed_twice, "the victim had no uncommitted tail, so the duplicate bound was not exercised"
    for member in survivors:
        assert member.commit_failures() == [] and member.errors() == [], (member.commit_failures(), member.errors())


def test_static_member_restart_gets_its_partitions_back_without_rebalance(
    client: ModuleType, skiff: SkiffProcess, topic_name: str, tmp_path: Path
) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    expected = produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "first")

    def settings(instance: str) -> MemberSettings:
        return MemberSettings(
            client.NAME,
            skiff.bootstrap,
            group,
            topic_name,
            instance_id=f"{instance}-{topic_name}",
            session_timeout_ms=STATIC_SESSION_TIMEOUT_MS,
        )

    with GroupMembers(tmp_path) as pool:
        stayer, leaver = pool.start("a", settings("a")), pool.start("b", settings("b"))
        before = wait_until_settled([stayer, leaver], ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        generation = before[stayer.name].generation
        wait_until_consumed([stayer, leaver], expected, CONSUME_TIMEOUT_S, "the first records consumed")

        restart_began = time.monotonic()
        # A static member's close sends no LeaveGroup: the coordinator keeps its place.
        leaver.close()
        returner = pool.start("b-again", settings("b"))
        back = returner.wait_for(
            lambda m: (view := m.view()) is not None and view.is_stable() and view.assignment and view,
            STATIC_SESSION_TIMEOUT_MS / 1000,
            "rejoin with its old instance id",
        )
        assert time.monotonic() - restart_began < STATIC_SESSION_TIMEOUT_MS / 1000, "the restart outlasted the session"
        assert back.assignment == before[leaver.name].assignment, "the restarted static member got other partitions"
        assert back.generation == generation, (
            f"generation moved from {generation} to {back.generation}: a rebalance ran"
        )
        assert back.member_id != before[leaver.name].member_id, "a restarted static member gets a new member id"

        description = describe_group(client, skiff.bootstrap, group, topic_name)
        assert description.state == "Stable"
        assert description.assignments() == {
            before[stayer.name].member_id: before[stayer.name].assignment,
            back.member_id: back.assignment,
        }
        assert {m.instance_id for m in description.members.values()} == {f"a-{topic_name}", f"b-{topic_name}"}

        expected |= produce(client, skiff.bootstrap, topic_name, PARTITIONS, 120, "after-restart", first=120)
        wait_until_consumed([stayer, leaver, returner], expected, CONSUME_TIMEOUT_S, "the new records consumed")

        def no_rebalance() -> None:
            stayer.check_alive()
            returner.check_alive()
            assert stayer.callbacks_since(restart_began) == [], "the other member saw a rebalance"
            for member in (stayer, returner):
                view = member.view()
                assert view is not None and view.generation == generation, f"{member.name} moved to {view}"

        # The old incarnation's session deadline passes without expiring anyone.
        remaining_s = restart_began + STATIC_SESSION_TIMEOUT_MS / 1000 + 2 - time.monotonic()
        holds_throughout(no_rebalance, max(remaining_s, 0))
        for member in (stayer, returner):
            member.close()
    check_consumed_once([stayer, leaver, returner], expected)
    for member in (stayer, leaver, returner):
        assert member.commit_failures() == [] and member.errors() == [], (member.commit_failures(), member.errors())
