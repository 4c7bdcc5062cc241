"""Consumer-group members as OS processes (harness/group_member.py) and what the group tests ask of
them: start, watch, wait for a settled group, hold commits, close cleanly or SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, TypeVar

from .deadlines import DeadlineExceeded, wait_until
from .records import Ack, SentRecord, base_timestamp_ms
from .server_process import _die_with_parent
from .verify import Problems, check_acks

T = TypeVar("T")

E2E_DIR = Path(__file__).resolve().parents[1]
# Kafka waits 3 s for more members before a new group's first rebalance; tests have no use for it.
GROUP_FLAGS = ("--group-initial-rebalance-delay-ms", "0")
# Kafka's smallest allowed session timeout, and a heartbeat well inside it, so a dead member is
# noticed (and a live one's rebalance seen) quickly.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 500
STABLE = "<stable>"
MEMBER_LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class MemberSettings:
    """What one member process is told; serialised as JSON for harness/group_member.py."""

    client: str
    bootstrap: str
    group: str
    topic: str
    strategy: str = "range"
    instance_id: str | None = None
    session_timeout_ms: int = SESSION_TIMEOUT_MS
    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    auto_offset_reset: str = "earliest"
    # Commit synchronously after every poll's records are handed to the app.
    commit: bool = True
    # A format string with {partition} and {offset}: the metadata stored with each commit.
    commit_metadata: str = ""
    # Client debug logging of group coordination into the member's log (SKIFF_E2E_MEMBER_DEBUG=1).
    debug: bool = bool(os.environ.get("SKIFF_E2E_MEMBER_DEBUG"))


@dataclass(frozen=True)
class MemberView:
    """A member's own view of its membership, as its client reports it."""

    assignment: frozenset[int]
    generation: int
    member_id: str
    positions: Mapping[int, int]
    # kafka-python's MemberState; None for librdkafka, which does not expose one.
    member_state: str | None

    def is_stable(self) -> bool:
        return self.generation > 0 and self.member_state in (None, STABLE)


@dataclass(frozen=True)
class Consumed:
    partition: int
    offset: int
    value: str | None
    member: str


@dataclass
class _Observed:
    """Everything one member reported, guarded by GroupMember._lock."""

    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    view: MemberView | None = None
    consumed: list[Consumed] = field(default_factory=list)
    committed: dict[int, int] = field(default_factory=dict)
    commit_failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    commits_held: bool = False
    closed: bool = False


def _int_keys(mapping: Mapping[str, int]) -> dict[int, int]:
    # JSON object keys are strings; partitions are ints everywhere else.
    return {int(key): value for key, value in mapping.items()}


class GroupMember:
    """One member process: what it reported so far, and how to stop it."""

    def __init__(self, name: str, settings: MemberSettings, log_path: Path) -> None:
        self.name = name
        self.settings = settings
        self.log_path = log_path
        self._lock = threading.Lock()
        self._observed = _Observed()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        # Set before a close or kill, so an exit the test asked for is not reported as a crash.
        self._stopping = False

    def start(self) -> GroupMember:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "harness.group_member", json.dumps(asdict(self.settings))],
                cwd=E2E_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        self._reader = threading.Thread(target=self._read_events, name=f"member-{self.name}", daemon=True)
        self._reader.start()
        return self

    def _read_events(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"e": "error", "error": f"unparseable line from the member: {line[:200]!r}"}
            with self._lock:
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        seen = self._observed
        seen.events.append((time.monotonic(), event))
        kind = event.get("e")
        if kind == "state":
            seen.view = MemberView(
                assignment=frozenset(event["assignment"]),
                generation=event["generation"],
                member_id=event["member_id"],
                positions=_int_keys(event["positions"]),
                member_state=event["member_state"],
            )
        elif kind == "records":
            seen.consumed.extend(Consumed(p, o, v, self.name) for p, o, v in event["records"])
        elif kind == "committed":
            seen.committed.update(_int_keys(event["offsets"]))
        elif kind == "commit_failed":
            seen.commit_failures.append(f"{event['error']} for {event['offsets']}")
        elif kind == "error":
            seen.errors.append(event["error"])
        elif kind == "commits_held":
            seen.commits_held = True
        elif kind == "closed":
            seen.closed = True

    # -- what it reported --------------------------------------------------------------------

    def view(self) -> MemberView | None:
        with self._lock:
            return self._observed.view

    def consumed(self) -> list[Consumed]:
        with self._lock:
            return list(self._observed.consumed)

    def committed(self) -> dict[int, int]:
        """The offsets of its last successful commit per partition."""
        with self._lock:
            return dict(self._observed.committed)

    def commit_failures(self) -> list[str]:
        with self._lock:
            return list(self._observed.commit_failures)

    def errors(self) -> list[str]:
        with self._lock:
            return list(self._observed.errors)

    def commits_held(self) -> bool:
        with self._lock:
            return self._observed.commits_held

    def events(self, *kinds: str, since: float = 0.0) -> list[dict[str, Any]]:
        """Events of the given kinds (all when none given) received at or after `since`."""
        with self._lock:
            return [e for at, e in self._observed.events if at >= since and (not kinds or e.get("e") in kinds)]

    def timed_events(self, *kinds: str) -> list[tuple[float, dict[str, Any]]]:
        """(monotonic arrival time, event) of the given kinds (all when none given)."""
        with self._lock:
            return [(at, e) for at, e in self._observed.events if not kinds or e.get("e") in kinds]

    def callbacks_since(self, since: float) -> list[dict[str, Any]]:
        """Rebalance callbacks (assigned, revoked, lost) received at or after `since`."""
        return self.events("assigned", "revoked", "lost", since=since)

    def check_alive(self) -> None:
        """Fails at once (instead of at a deadline) when the member died without being told to."""
        if not self._stopping and self._proc is not None and self._proc.poll() is not None:
            raise AssertionError(f"member {self.name} exited with code {self._proc.returncode}\n{self.log_tail()}")

    def wait_for(self, probe: Callable[[GroupMember], T | None], timeout_s: float, what: str) -> T:
        def checked() -> T | None:
            self.check_alive()
            return probe(self)

        try:
            return wait_until(checked, timeout_s, f"member {self.name}: {what}")
        except DeadlineExceeded as error:
            raise DeadlineExceeded(f"{error}\n{self.log_tail()}") from None

    # -- driving it --------------------------------------------------------------------------

    def _send(self, command: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(f"{command}\n".encode())
        self._proc.stdin.flush()

    def hold_commits(self, timeout_s: float = 10) -> None:
        """From the next poll on the member consumes without committing; returns once it has
        stopped, so everything consumed afterwards is known to be uncommitted."""
        self._send("hold_commits")
        self.wait_for(lambda m: m.commits_held(), timeout_s, "acknowledge hold_commits")

    def close(self, timeout_s: float = 30) -> None:
        """A clean close (a dynamic member leaves the group); the process must exit 0."""
        assert self._proc is not None
        self._stopping = True
        self._send("close")
        try:
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
            raise DeadlineExceeded(
                f"member {self.name} did not close within {timeout_s:.0f} s\n{self.log_tail()}"
            ) from None
        self._join_reader()
        if code != 0 or not self._observed.closed:
            raise AssertionError(f"member {self.name} exited with code {code} instead of closing\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no commit, no LeaveGroup; the coordinator only learns from the session timeout."""
        assert self._proc is not None
        self._stopping = True
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(timeout=10)
        self._join_reader()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _join_reader(self) -> None:
        # The pipe is at EOF once the process is gone, so everything it wrote has been applied.
        if self._reader is not None:
            self._reader.join(timeout=10)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                lines = deque(log, maxlen=MEMBER_LOG_TAIL_LINES)
        except OSError as error:
            return f"(no member log: {error})"
        return f"--- last lines of {self.log_path.name} ---\n" + b"".join(lines).decode("utf-8", errors="replace")


class GroupMembers:
    """Starts member processes for one test and SIGKILLs whatever is still running at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.all: list[GroupMember] = []

    def start(self, name: str, settings: MemberSettings) -> GroupMember:
        member = GroupMember(name, settings, self.log_dir / f"member-{name}-{len(self.all)}.log")
        self.all.append(member)
        return member.start()

    def __enter__(self) -> GroupMembers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for member in self.all:
            if member.is_running():
                member.kill()


# -- the group as a whole ------------------------------------------------------------------------


def settled_views(members: Iterable[GroupMember], partitions: Iterable[int]) -> dict[str, MemberView] | None:
    """The members' views once they agree: every member stable in one generation with at least one
    partition, and together covering `partitions`. None while they do not (yet)."""
    for member in members:
        member.check_alive()
    views = {member.name: member.view() for member in members}
    if any(view is None or not view.is_stable() or not view.assignment for view in views.values()):
        return None
    if len({view.generation for view in views.values() if view is not None}) != 1:
        return None
    covered = set().union(*(view.assignment for view in views.values() if view is not None))
    if covered != set(partitions):
        return None
    return {name: view for name, view in views.items() if view is not None}


def wait_until_settled(
    members: list[GroupMember], partitions: Iterable[int], timeout_s: float
) -> dict[str, MemberView]:
    """Waits for settled_views, then requires the assignments to be disjoint."""
    wanted = sorted(partitions)
    try:
        views = wait_until(
            lambda: settled_views(members, wanted),
            timeout_s,
            f"{len(members)} members to settle on partitions {wanted}",
        )
    except DeadlineExceeded as error:
        shown = "\n".join(f"  {m.name}: {m.view()}" for m in members)
        tails = "\n".join(m.log_tail() for m in members)
        raise DeadlineExceeded(f"{error}\nviews:\n{shown}\n{tails}") from None
    owners: dict[int, list[str]] = {}
    for name, view in views.items():
        for partition in view.assignment:
            owners.setdefault(partition, []).append(name)
    shared = {p: names for p, names in owners.items() if len(names) > 1}
    assert not shared, f"partitions assigned to several members in generation {_one_generation(views)}: {shared}"
    return views


def _one_generation(views: Mapping[str, MemberView]) -> int:
    return next(iter(views.values())).generation


def holds_throughout(check: Callable[[], None], duration_s: float, interval_s: float = 0.1) -> None:
    """Runs `check` (which raises when something happened that must not) repeatedly for
    `duration_s`: for asserting that nothing changes over a window, such as a session timeout."""
    deadline = time.monotonic() + duration_s
    while True:
        check()
        if time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def consumed_since(member: GroupMember, since: float) -> list[Consumed]:
    """What the member handed to its app from `since` on."""
    return [
        Consumed(p, o, v, member.name)
        for event in member.events("records", since=since)
        for p, o, v in event["records"]
    ]


def all_consumed(members: Iterable[GroupMember]) -> list[Consumed]:
    return [record for member in members for record in member.consumed()]


def consumed_through(members: Iterable[GroupMember], expected: Mapping[tuple[int, int], str]) -> bool:
    """True once every expected (partition, offset) has been consumed by some member."""
    members = list(members)
    for member in members:
        member.check_alive()
    seen = {(r.partition, r.offset) for r in all_consumed(members)}
    return seen.issuperset(expected)


def wait_until_consumed(
    members: list[GroupMember], expected: Mapping[tuple[int, int], str], timeout_s: float, what: str
) -> None:
    """Waits until the members together consumed every expected record; on timeout the failure
    names what is missing and what each member thinks it owns."""
    try:
        wait_until(lambda: consumed_through(members, expected), timeout_s, what)
    except DeadlineExceeded as error:
        seen = {(r.partition, r.offset) for r in all_consumed(members)}
        missing: dict[int, list[int]] = {}
        for partition, offset in sorted(set(expected) - seen):
            missing.setdefault(partition, []).append(offset)
        shown = {p: f"{len(offsets)} from offset {offsets[0]}" for p, offsets in missing.items()}
        views = "\n".join(f"  {m.name}: {m.view()}" for m in members)
        tails = "\n".join(m.log_tail() for m in members if m.is_running())
        raise DeadlineExceeded(f"{error}\nmissing per partition: {shown}\nviews:\n{views}\n{tails}") from None


def check_consumed_once(members: Iterable[GroupMember], expected: Mapping[tuple[int, int], str]) -> None:
    """Every expected record consumed exactly once across the members, with the value produced
    there, and nothing else consumed."""
    problems = Problems()
    by_position: dict[tuple[int, int], list[Consumed]] = {}
    for record in all_consumed(members):
        by_position.setdefault((record.partition, record.offset), []).append(record)
    for position, value in sorted(expected.items()):
        got = by_position.get(position, [])
        if not got:
            problems.add(f"{position[0]}/{position[1]} was never consumed")
            continue
        if len(got) > 1:
            problems.add(f"{position[0]}/{position[1]} consumed {len(got)} times, by {[r.member for r in got]}")
        if got[0].value != value:
            problems.add(f"{position[0]}/{position[1]}: produced {value!r}, consumed {got[0].value!r}")
    for position in sorted(set(by_position) - set(expected)):
        problems.add(f"{position[0]}/{position[1]} consumed but never produced")
    problems.raise_if_any("consumed exactly once across the group")


# -- producing -------------------------------------------------------------------------------------


def produce(
    client: ModuleType, bootstrap: str, topic: str, partitions: int, count: int, tag: str, first: int = 0
) -> dict[tuple[int, int], str]:
    """Produces `count` records round-robin over the partitions, waits for every ack and returns
    {(partition, offset): value}."""
    timestamp_ms = base_timestamp_ms()
    sent = [
        SentRecord(None, f"{tag}|{i:06d}".encode(), (), timestamp_ms + i, i % partitions)
        for i in range(first, first + count)
    ]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(bootstrap, acks, errors, None)
    try:
        producer.send_all(topic, sent, 0)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)
    return {
        (ack.partition, ack.offset): (record.value or b"").decode()
        for record, ack in zip(sent, acks, strict=True)
        if ack is not None
    }
