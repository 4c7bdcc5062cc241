"""SIGKILL the broker coordinating a consumer group: once its lease lapses the group moves to the
surviving broker, which loads the committed offsets from the controller, and the members carry on
from them. Nothing committed before the kill is read again, and nothing produced after it is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness import confluent_client
from harness.cluster import Cluster
from harness.deadlines import wait_until
from harness.group_admin import committed_positions
from harness.groups import GroupMembers, MemberSettings, all_consumed, consumed_since, produce, wait_until_consumed, wait_until_settled

PARTITIONS = 4
ALL_PARTITIONS = range(PARTITIONS)
SETTLE_TIMEOUT_S = 60
# The 5 s lease, the members' coordinator rediscovery and a rejoin must fit in this.
MOVE_TIMEOUT_S = 60
TIMEOUT_S = 30


def coordinator_of(bootstrap: str, group: str) -> int:
    admin = confluent_client.admin(bootstrap)
    found = admin.describe_consumer_groups([group], request_timeout=TIMEOUT_S)[group].result(timeout=TIMEOUT_S)
    return found.coordinator.id


def end_offsets(expected: dict[tuple[int, int], str]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in expected:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "cluster", [{"broker_config": "[broker]\ngroup_initial_rebalance_delay_ms = 0\n"}], indirect=True
)
def test_a_group_survives_sigkill_of_its_coordinator_broker(cluster: Cluster, topic_name: str, tmp_path: Path) -> None:
    client = confluent_client
    confluent_client.create_topic(cluster.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    expected = produce(client, cluster.bootstrap, topic_name, PARTITIONS, 200, "before")
    settings = MemberSettings(client.NAME, cluster.bootstrap, group, topic_name)
    with GroupMembers(tmp_path) as pool:
        members = [pool.start(name, settings) for name in ("a", "b")]
        wait_until_settled(members, ALL_PARTITIONS, SETTLE_TIMEOUT_S)
        wait_until_consumed(members, expected, TIMEOUT_S, "the first records consumed")
        first_ends = end_offsets(expected)
        wait_until(
            lambda: committed_positions(client, cluster.bootstrap, group, topic_name) == first_ends,
            TIMEOUT_S,
            "the group to commit everything it read",
        )

        victim = coordinator_of(cluster.bootstrap, group)
        assert victim in (1, 2), f"coordinator {victim} is not one of the brokers"
        survivor = 3 - victim
        killed_at = time.monotonic()
        cluster.brokers[victim - 1].kill()

        # The producer bootstraps with both brokers and follows the partitions to the survivor.
        expected_after = produce(client, cluster.bootstrap, topic_name, PARTITIONS, 200, "after", first=200)
        wait_until(
            lambda: coordinator_of(cluster.broker_addrs[survivor - 1], group) == survivor,
            MOVE_TIMEOUT_S,
            f"broker {survivor} to coordinate {group}",
        )
        wait_until_consumed(members, {**expected, **expected_after}, MOVE_TIMEOUT_S, "the records produced after the kill")
        final_ends = end_offsets({**expected, **expected_after})
        wait_until(
            lambda: committed_positions(client, cluster.broker_addrs[survivor - 1], group, topic_name) == final_ends,
            TIMEOUT_S,
            "the group to commit everything, through the new coordinator",
        )
        moved_after_s = time.monotonic() - killed_at
        for member in members:
            member.check_alive()
            member.close()

    # Offsets committed before the kill held: no member went back to a committed record.
    reread = [
        (record.partition, record.offset)
        for member in members
        for record in consumed_since(member, killed_at)
        if (record.partition, record.offset) in expected
    ]
    assert reread == [], f"records committed before the kill were read again: {sorted(reread)[:10]}"
    consumed = {(r.partition, r.offset): r.value for r in all_consumed(members)}
    lost = sorted(position for position in expected_after if position not in consumed)
    assert lost == [], f"records produced after the kill never consumed: {lost[:10]}"
    wrong = sorted(p for p, value in expected_after.items() if consumed[p] != value)
    assert wrong == [], f"records consumed with other values than produced: {wrong[:10]}"
    print(f"\ncoordinator failover: killed broker {victim}; group on broker {survivor}, all committed after {moved_after_s:.1f} s")
