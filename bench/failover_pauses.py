"""Issue 24's failover pauses on 3 controllers + 3 brokers (file store), with stock
confluent-kafka clients: run it against a binary before and after a change to compare them.

    .venv-tests/bin/python bench/failover_pauses.py --skiff-bin target/debug/skiff [--label after]
        [--runs 2] [--scenarios restart,coordinator-kill,coordinator-stop] [--down-s 4]

Scenarios (a fresh cluster each run):
  restart           two idempotent acks=all producers; SIGKILL the broker leading most
                    partitions, start it again --down-s later (4 s: inside its 5 s lease). Measures the first
                    ack for its partitions after the kill and the longest ack gap on them in the
                    30 s after it.
  coordinator-kill  a 2-member group (session 6 s, heartbeat 0.5 s) under steady produce; SIGKILL
                    the group's coordinator. Measures the longest gap between records consumed.
  coordinator-stop  the same, but SIGSTOP the coordinator for 8 s, then SIGCONT.
Every run also checks that nothing acknowledged was lost (read back, or consumed by the group)
and counts records the group consumed twice. Prints one markdown table row per run.
Measurements, not assertions: timings on a shared 2-core machine vary by a second or more.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import confluent_client  # noqa: E402
from harness.cluster import Cluster  # noqa: E402
from harness.cluster_load import ProducerLoad, partition_leaders, read_back, wait_for_acks  # noqa: E402
from harness.consistency import check_consistency  # noqa: E402
from harness.deadlines import wait_until  # noqa: E402
from harness.groups import GroupMembers, MemberSettings, all_consumed, wait_until_settled  # noqa: E402
from harness.stores import FILE_STORE  # noqa: E402

PARTITIONS = 6
BROKERS = 3
RECORDS_PER_S = 200  # per producer
STOP_S = 8.0
OBSERVE_S = 30.0
BROKER_ARGS = ["--flush-interval-ms", "20", "--group-initial-rebalance-delay-ms", "0"]


def start_cluster(binary: Path, work: Path) -> Cluster:
    return Cluster(binary, work, FILE_STORE, "pauses", broker_args=BROKER_ARGS, brokers=BROKERS).start()


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest time without an event in [start, end]: (gap, when it began, relative to start)."""
    inside = sorted(t for t in times if start <= t <= end)
    points = [start, *inside, end]
    gap, at = max((b - a, a) for a, b in zip(points, points[1:], strict=False))
    return gap, at - start


def restart_scenario(binary: Path, work: Path, down_s: float) -> dict[str, str]:
    cluster = start_cluster(binary, work)
    topic = f"restart-{uuid.uuid4().hex[:6]}"
    loads: list[ProducerLoad] = []
    try:
        confluent_client.create_topic(cluster.bootstrap, topic, PARTITIONS)
        loads = [ProducerLoad(f"p{n}", cluster.bootstrap, topic, PARTITIONS, RECORDS_PER_S).start() for n in (1, 2)]
        wait_for_acks(loads, 300, 60, "before the kill")
        leaders = partition_leaders(cluster.bootstrap, topic)
        victim = max(range(1, BROKERS + 1), key=lambda b: sum(leader == b for leader in leaders.values()))
        moved = {p for p, leader in leaders.items() if leader == victim}
        firsts = [load.sent() for load in loads]
        killed_at = time.monotonic()
        cluster.brokers[victim - 1].kill()
        time.sleep(down_s)  # the fault's duration, not synchronisation
        cluster.brokers[victim - 1].spawn()
        cluster.brokers[victim - 1].wait_ready()
        ready_s = time.monotonic() - killed_at

        def acks_on_moved() -> list[float]:
            return [
                t
                for load, first in zip(loads, firsts, strict=True)
                for (partition, _, t) in load.acks_from(first)
                if partition in moved
            ]

        first_ack = wait_until(lambda: min(acks_on_moved(), default=None), 60, "an ack on the victim's partitions")
        time.sleep(max(0.0, killed_at + OBSERVE_S - time.monotonic()))
        gap, gap_at = longest_gap(acks_on_moved(), killed_at, killed_at + OBSERVE_S)
        for load in loads:
            load.stop(flush_timeout_s=120)
        records, marks = read_back(cluster.bootstrap, topic, PARTITIONS, 120)
        summary = check_consistency([load.log for load in loads], records, marks)
        lost = sum(len(load.log.failures) for load in loads)
        return {
            "first ack after kill (s)": f"{first_ack - killed_at:.1f}",
            "longest ack gap, its partitions (s)": f"{gap:.1f} at +{gap_at:.1f}",
            "restarted broker ready at (s)": f"{ready_s:.1f}",
            "check": f"ok: {summary.acknowledged} acked, {lost} failed deliveries",
        }
    finally:
        for load in loads:
            load.close()
        cluster.kill_all()


def coordinator_of(bootstrap: str, group: str) -> int:
    admin = confluent_client.admin(bootstrap)
    found = admin.describe_consumer_groups([group], request_timeout=30)[group].result(timeout=30)
    return found.coordinator.id


def coordinator_scenario(binary: Path, work: Path, stop: bool) -> dict[str, str]:
    cluster = start_cluster(binary, work)
    topic = f"coord-{uuid.uuid4().hex[:6]}"
    group = f"{topic}-g"
    load: ProducerLoad | None = None
    try:
        confluent_client.create_topic(cluster.bootstrap, topic, PARTITIONS)
        load = ProducerLoad("p", cluster.bootstrap, topic, PARTITIONS, RECORDS_PER_S).start()
        wait_for_acks([load], 200, 60, "before the group starts")
        settings = MemberSettings(confluent_client.NAME, cluster.bootstrap, group, topic)
        with GroupMembers(work) as pool:
            members = [pool.start(name, settings) for name in ("a", "b")]
            wait_until_settled(members, range(PARTITIONS), 90)
            wait_until(lambda: len(all_consumed(members)) >= 400 or None, 60, "the group to consume")
            victim = coordinator_of(cluster.bootstrap, group)
            process = cluster.brokers[victim - 1]
            generations = {m.name: (m.view().generation, m.view().member_id) for m in members}
            fault_at = time.monotonic()
            if stop:
                assert process.pid is not None
                os.kill(process.pid, signal.SIGSTOP)
                time.sleep(STOP_S)  # the fault's duration
                os.kill(process.pid, signal.SIGCONT)
            else:
                process.kill()
            time.sleep(max(0.0, fault_at + OBSERVE_S - time.monotonic()))
            times = [at for m in members for at, _ in m.timed_events("records")]
            gap, gap_at = longest_gap(times, fault_at, fault_at + OBSERVE_S)
            callbacks = sum(len(m.callbacks_since(fault_at)) for m in members)
            after = {m.name: (m.view().generation, m.view().member_id) for m in members}
            new_ids = sum(after[n][1] != generations[n][1] for n in after)
            load.stop(flush_timeout_s=120)
            expected = {
                (partition, offset)
                for (partition, offset, _) in load.log.acks.values()
                if offset is not None
            }
            wait_until(
                lambda: expected <= {(r.partition, r.offset) for r in all_consumed(members)} or None,
                120,
                "the group to consume every acknowledged record",
            )
            consumed = [(r.partition, r.offset) for r in all_consumed(members)]
            twice = len(consumed) - len(set(consumed))
            for member in members:
                member.close()
        return {
            "consumer pause (s)": f"{gap:.1f} at +{gap_at:.1f}",
            "rebalance callbacks after the fault": str(callbacks),
            "generation before → after": f"{min(g for g, _ in generations.values())} → {max(g for g, _ in after.values())}",
            "members with new ids": str(new_ids),
            "check": f"ok: all {len(expected)} acked records consumed, {twice} consumed twice",
        }
    finally:
        if load is not None:
            load.close()
        cluster.kill_all()


SCENARIOS = {
    "restart": lambda binary, work, args: restart_scenario(binary, work, args.down_s),
    "coordinator-kill": lambda binary, work, args: coordinator_scenario(binary, work, stop=False),
    "coordinator-stop": lambda binary, work, args: coordinator_scenario(binary, work, stop=True),
}


@contextlib.contextmanager
def run_dir(name: str, keep: Path | None) -> Iterator[str]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=f"skiff-pauses-{name}-") as work:
            yield work
    else:
        keep.mkdir(parents=True, exist_ok=True)
        yield tempfile.mkdtemp(prefix=f"{name}-", dir=keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skiff-bin", type=Path, required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--down-s", type=float, default=4.0, help="downtime of the restarted broker")
    parser.add_argument("--keep", type=Path, help="keep each run's work dir (logs) under this folder")
    args = parser.parse_args()
    binary = args.skiff_bin.resolve()
    for name in args.scenarios.split(","):
        for run in range(1, args.runs + 1):
            with run_dir(name, args.keep) as work:
                try:
                    row = SCENARIOS[name](binary, Path(work), args)
                except Exception as error:  # a failed run is a result too; keep going
                    row = {"check": f"FAILED: {type(error).__name__}: {str(error)[:300]}"}
            cells = "; ".join(f"{key}: {value}" for key, value in row.items())
            print(f"| {args.label} | {name} #{run} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
