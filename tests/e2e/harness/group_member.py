"""One consumer-group member in its own OS process, driven by the e2e tests through pipes.

Run as `python -m harness.group_member '<settings json>'` from tests/e2e (harness/groups.py does).
Each member is a real stock consumer using subscribe(): a librdkafka consumer or a kafka-python
consumer, never shared between threads. Running every member as a process lets a test SIGKILL one
of them exactly as a crash would, and keeps kafka-python (not thread-safe per consumer) isolated.

Protocol. Settings come as one JSON argument (see MemberSettings in harness/groups.py). The member
writes one JSON object per line to stdout, flushed at once:
  {"e": "state", "assignment": [p, ...], "generation": g, "member_id": m, "positions": {p: offset},
   "member_state": s}                          the client's own view, whenever any of it changes;
                                               positions are where it fetches next
  {"e": "assigned"|"revoked"|"lost", "partitions": [p, ...], "generation": g}   rebalance callbacks
  {"e": "records", "records": [[p, offset, value], ...]}       what one poll handed to the app
  {"e": "committed", "offsets": {p: offset}}   a synchronous commit after processing returned
  {"e": "commit_deferred", "error": NAME, "offsets": {p: offset}}   retried later (see Committer)
  {"e": "commit_failed", "error": NAME, "offsets": {p: offset}}
  {"e": "discarded", "count": n}              records of partitions revoked within the same poll
  {"e": "error", "error": text}                a consumer error that is not a transient one
  {"e": "commits_held"}                        acknowledges the hold_commits command
  {"e": "client_workaround", "what": text}     the harness stepped around a known client bug
                                               (see KafkaPythonMember._resume_orphaned_join)
  {"e": "closed"}                              close() returned; the process exits 0 next
It reads commands, one per line, from stdin: `hold_commits` (stop committing from the next poll
on, so the tail it consumes stays uncommitted) and `close` (a clean close: a dynamic member leaves
the group, a static one does not). End of stdin closes the member too.
"""

from __future__ import annotations

import json
import logging
import queue
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

POLL_TIMEOUT_S = 0.2
STATISTICS_INTERVAL_MS = 200
MAX_RECORDS_PER_POLL = 500
Event = dict[str, Any]


class Emitter:
    """Writes events as JSON lines. kafka-python may call the rebalance listener from its own I/O
    thread, so writes are serialised to keep every line whole."""

    def __init__(self) -> None:
        self._out = sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


def _read_commands(commands: queue.Queue[str]) -> None:
    for line in sys.stdin:
        commands.put(line.strip())
    commands.put("close")


def _commit_offsets(records: list[list[Any]]) -> dict[int, int]:
    """The next offset to consume per partition after processing `records`."""
    offsets: dict[int, int] = {}
    for partition, offset, _ in records:
        offsets[partition] = max(offsets.get(partition, -1), offset + 1)
    return offsets


class ConfluentMember:
    """A librdkafka consumer with rebalance callbacks that report what the client decided."""

    def __init__(self, settings: Mapping[str, Any], emit: Emitter) -> None:
        from confluent_kafka import Consumer

        self.emit = emit
        self.topic = settings["topic"]
        self.committer: Committer | None = None
        config: dict[str, object] = {
            "bootstrap.servers": settings["bootstrap"],
            "group.id": settings["group"],
            "enable.auto.commit": False,
            "auto.offset.reset": settings["auto_offset_reset"],
            "session.timeout.ms": settings["session_timeout_ms"],
            "heartbeat.interval.ms": settings["heartbeat_interval_ms"],
            "partition.assignment.strategy": settings["strategy"],
            "check.crcs": True,
            "error_cb": self._on_client_error,
            # librdkafka's position() only moves once the app got a record; the statistics carry
            # the fetch position as soon as an offset reset resolved it.
            "statistics.interval.ms": STATISTICS_INTERVAL_MS,
            "stats_cb": self._on_statistics,
        }
        self.fetch_positions: dict[int, int] = {}
        if settings.get("instance_id"):
            config["group.instance.id"] = settings["instance_id"]
        if settings.get("debug"):
            config["debug"] = "cgrp"
        self.consumer = Consumer(config)
        self.consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def _on_client_error(self, error) -> None:
        from confluent_kafka import KafkaError

        # Connection churn while a broker restarts is reported here and retried by librdkafka.
        if error.code() not in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE):
            self.emit({"e": "error", "error": f"client error: {error}"})

    def _on_statistics(self, text: str) -> None:
        partitions = json.loads(text).get("topics", {}).get(self.topic, {}).get("partitions", {})
        self.fetch_positions = {
            int(p): state["next_offset"]
            for p, state in partitions.items()
            if int(p) >= 0 and state.get("fetch_state") == "active" and state.get("next_offset", -1) >= 0
        }

    def _callback_event(self, kind: str, partitions) -> None:
        generation, _ = self.generation_and_member()
        self.emit({"e": kind, "partitions": sorted(tp.partition for tp in partitions), "generation": generation})

    def _on_assign(self, consumer, partitions) -> None:
        # Not calling (incremental_)assign here lets confluent-kafka apply the assignment itself,
        # the way most applications run.
        self._callback_event("assigned", partitions)

    def _on_revoke(self, consumer, partitions) -> None:
        self._callback_event("revoked", partitions)
        if self.committer is not None:
            self.committer.commit((tp.partition for tp in partitions), revoking=True)

    def _on_lost(self, consumer, partitions) -> None:
        self._callback_event("lost", partitions)
        if self.committer is not None:
            self.committer.forget((tp.partition for tp in partitions), "partitions lost")

    def owned(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def generation_and_member(self) -> tuple[int, str]:
        # consumer_group_metadata() is librdkafka's serialised group metadata: b"CGMDv2:", the
        # generation as a native int32, then the NUL-terminated group id and member id. It is the
        # only public place librdkafka exposes the generation it got from JoinGroup.
        blob = self.consumer.consumer_group_metadata()
        magic = b"CGMDv2:"
        if not isinstance(blob, bytes) or not blob.startswith(magic) or len(blob) < len(magic) + 4:
            return -1, ""
        (generation,) = struct.unpack_from("=i", blob, len(magic))
        fields = blob[len(magic) + 4 :].split(b"\0")
        member_id = fields[1].decode() if len(fields) > 1 else ""
        return generation, member_id

    def state(self) -> Event:
        generation, member_id = self.generation_and_member()
        assignment = self.consumer.assignment()
        owned = {tp.partition for tp in assignment}
        positions = {p: offset for p, offset in self.fetch_positions.items() if p in owned}
        return {
            "assignment": sorted(tp.partition for tp in assignment),
            "generation": generation,
            "member_id": member_id,
            "positions": positions,
            "member_state": None,
        }

    def poll(self) -> list[list[Any]]:
        from confluent_kafka import KafkaError

        records = []
        for message in self.consumer.consume(num_messages=MAX_RECORDS_PER_POLL, timeout=POLL_TIMEOUT_S):
            error = message.error()
            if error is not None:
                if error.code() not in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._PARTITION_EOF):
                    self.emit({"e": "error", "error": str(error)})
                continue
            value = message.value()
            records.append([message.partition(), message.offset(), None if value is None else value.decode("latin-1")])
        return records

    def commit(self, offsets: Mapping[int, int], metadata_of: Callable[[int, int], str]) -> str | None:
        """Commits synchronously; the Kafka error name on failure."""
        from confluent_kafka import KafkaException, TopicPartition

        wanted = [TopicPartition(self.topic, p, o, metadata_of(p, o)) for p, o in sorted(offsets.items())]
        try:
            results = self.consumer.commit(offsets=wanted, asynchronous=False)
        except KafkaException as error:
            return error.args[0].name()
        failed = [tp.error.name() for tp in results or () if tp.error is not None]
        return failed[0] if failed else None

    def close(self) -> None:
        self.consumer.close()


class KafkaPythonMember:
    """A kafka-python consumer with a rebalance listener that reports what the client decided."""

    def __init__(self, settings: Mapping[str, Any], emit: Emitter) -> None:
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

        assignors = {
            "range": RangePartitionAssignor,
            "roundrobin": RoundRobinPartitionAssignor,
            "cooperative-sticky": CooperativeStickyAssignor,
        }
        self.emit = emit
        self.topic = settings["topic"]
        self.committer: Committer | None = None
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings["bootstrap"],
            group_id=settings["group"],
            group_instance_id=settings.get("instance_id") or None,
            enable_auto_commit=False,
            auto_offset_reset=settings["auto_offset_reset"],
            session_timeout_ms=settings["session_timeout_ms"],
            heartbeat_interval_ms=settings["heartbeat_interval_ms"],
            partition_assignment_strategy=[assignors[settings["strategy"]]],
            max_poll_records=MAX_RECORDS_PER_POLL,
            metrics_enabled=False,
        )
        member = self

        # kafka-python runs listeners on its I/O thread, where a blocking commit() is refused;
        # its rejoin happens inside poll(), so commits after processing never race a rebalance.
        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                member._callback_event("revoked", revoked)
                member._forget(revoked, "partitions revoked with offsets pending")

            def on_partitions_assigned(self, assigned):
                member._callback_event("assigned", assigned)

            def on_partitions_lost(self, lost):
                member._callback_event("lost", lost)
                member._forget(lost, "partitions lost")

        self.consumer.subscribe([self.topic], listener=Listener())

    def _callback_event(self, kind: str, partitions) -> None:
        generation = self.consumer.group_metadata().generation_id
        self.emit({"e": kind, "partitions": sorted(tp.partition for tp in partitions), "generation": generation})

    def _forget(self, partitions, why: str) -> None:
        if self.committer is not None:
            self.committer.forget((tp.partition for tp in partitions), why)

    def owned(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def state(self) -> Event:
        metadata = self.consumer.group_metadata()
        # all_consumed_offsets() reads the positions without the blocking offset lookups that
        # KafkaConsumer.position() may start.
        positions = self.consumer._subscription.all_consumed_offsets()
        return {
            "assignment": sorted(tp.partition for tp in self.consumer.assignment()),
            "generation": metadata.generation_id,
            "member_id": metadata.member_id,
            "positions": {tp.partition: position.offset for tp, position in positions.items()},
            "member_state": str(metadata.state),
        }

    def poll(self) -> list[list[Any]]:
        records = []
        try:
            batches = self.consumer.poll(timeout_ms=int(POLL_TIMEOUT_S * 1000))
        except Exception as error:  # kafka-python raises its errors from poll(); report, keep going
            self.emit({"e": "error", "error": f"{type(error).__name__}: {error}"})
            return records
        finally:
            self._resume_orphaned_join()
        for batch in batches.values():
            for message in batch:
                value = message.value
                records.append([message.partition, message.offset, None if value is None else value.decode("latin-1")])
        return records

    def _resume_orphaned_join(self) -> None:
        """Works around a kafka-python 3.0.x bug that strands a member in REBALANCING for good.

        When a poll() times out in the middle of a join, kafka-python leaves the JoinGroup/SyncGroup
        task in flight (`_join_task`) for the next poll to finish. But the next poll only goes back
        to the join when `need_rejoin()` is true, and that can have turned false meanwhile: a
        leader whose previous assignment was computed from stale metadata rejoins because its
        `_assignment_snapshot != _metadata_snapshot` (the base `rejoin_needed` flag stays False),
        and `_perform_assignment` for the new generation sets `_assignment_snapshot =
        _metadata_snapshot`. The finished task's assignment is then never applied: the member
        stays REBALANCING with its heartbeat disabled and no partitions until its session expires.
        Seen in test_two_groups_read_the_same_topic_independently[kafka-python] about 1 run in 10:
        the member's debug log has "Sending leader SyncGroup", "coordinator.poll: timeout in
        ensure_active_group; returning early", then "Received SyncGroup response ... error_code=0"
        with its partitions, then only "need_rejoin: False" lines and never "Enabling heartbeat";
        the broker logs "group is stable" for that generation and, 6 s later, "member session
        expired". The broker answered; the client never looked at the answer.

        A join left in flight is a join the client itself still means to finish, so raising its
        `rejoin_needed` flag only brings the next poll back to the join (which then re-awaits the
        task, or rejoins if it already finished, as kafka-python does when the flag was set); the
        client clears the flag when the join completes. Nothing here answers for the broker: an
        unanswered or failed JoinGroup/SyncGroup still shows up exactly as before. A client
        without these internals (a fixed release) is left alone."""
        coordinator = getattr(self.consumer, "_coordinator", None)
        if coordinator is None or getattr(coordinator, "_join_task", None) is None:
            return
        if getattr(coordinator, "rejoin_needed", True) or coordinator.need_rejoin():
            return
        logging.getLogger(__name__).warning(
            "kafka-python left a join in flight with need_rejoin() false; requesting a rejoin so it completes"
        )
        self.emit({"e": "client_workaround", "what": "resumed a join kafka-python left in flight"})
        coordinator.request_rejoin()

    def commit(self, offsets: Mapping[int, int], metadata_of: Callable[[int, int], str]) -> str | None:
        from kafka import TopicPartition
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        wanted = {
            TopicPartition(self.topic, p): OffsetAndMetadata(o, metadata_of(p, o), -1) for p, o in offsets.items()
        }
        try:
            self.consumer.commit(wanted)
        except KafkaError as error:
            return type(error).__name__
        return None

    def close(self) -> None:
        self.consumer.close(autocommit=False)


class Committer:
    """Commits what the app processed, after it processed it.

    librdkafka rejoins from its own thread, so a commit can race a rebalance the app has not seen
    yet: sent with the old generation after the coordinator started the next one, Kafka answers
    ILLEGAL_GENERATION; sent between the new generation's JoinGroup and SyncGroup, it answers
    REBALANCE_IN_PROGRESS. A member keeps its partitions across a cooperative rebalance, so such
    offsets stay pending and are committed on a later poll or, for partitions being revoked, from
    the revoke callback, before the next owner can fetch them (the pattern librdkafka documents).
    """

    RETRY_LATER = frozenset({"REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "RebalanceInProgressError"})

    def __init__(self, member: ConfluentMember | KafkaPythonMember, emit: Emitter, metadata_format: str) -> None:
        self.member = member
        self.emit = emit
        self.metadata_format = metadata_format
        self.enabled = True
        self.pending: dict[int, int] = {}

    def _metadata_of(self, partition: int, offset: int) -> str:
        return self.metadata_format.format(partition=partition, offset=offset)

    def processed(self, records: list[list[Any]]) -> None:
        for partition, offset in _commit_offsets(records).items():
            self.pending[partition] = max(self.pending.get(partition, -1), offset)

    def commit(self, partitions: Iterable[int], revoking: bool = False) -> None:
        wanted = set(partitions)
        offsets = {p: o for p, o in self.pending.items() if p in wanted}
        if not offsets or not self.enabled:
            return
        error = self.member.commit(offsets, self._metadata_of)
        if error is None:
            self.emit({"e": "committed", "offsets": offsets})
        elif error in self.RETRY_LATER and not revoking:
            self.emit({"e": "commit_deferred", "error": error, "offsets": offsets})
            return
        else:
            self.emit({"e": "commit_failed", "error": error, "offsets": offsets})
        for partition in offsets:
            del self.pending[partition]

    def forget(self, partitions: Iterable[int], why: str) -> None:
        """Partitions lost, or revoked where the client allows no commit: report what stays uncommitted."""
        dropped = {p: self.pending.pop(p) for p in set(partitions) if p in self.pending}
        if dropped and self.enabled:
            self.emit({"e": "commit_failed", "error": why, "offsets": dropped})


def run(settings: Mapping[str, Any]) -> None:
    # The member's stderr is its log file: the group coordination steps are what a failing test
    # needs to see there.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka.coordinator").setLevel(logging.DEBUG if settings.get("debug") else logging.INFO)
    emit = Emitter()
    member = (ConfluentMember if settings["client"] == "confluent" else KafkaPythonMember)(settings, emit)
    committer = Committer(member, emit, settings.get("commit_metadata") or "")
    member.committer = committer
    committer.enabled = bool(settings["commit"])
    commands: queue.Queue[str] = queue.Queue(maxsize=64)
    threading.Thread(target=_read_commands, args=(commands,), daemon=True).start()
    last_state: Event | None = None
    while True:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            command = ""
        if command == "close":
            break
        if command == "hold_commits":
            committer.enabled = False
            emit({"e": "commits_held"})
        records = member.poll()
        owned = member.owned()
        # Records fetched before a revocation the same poll delivered belong to the next owner,
        # which reads them from the committed offset; processing them here too would duplicate.
        kept = [record for record in records if record[0] in owned]
        if len(kept) < len(records):
            emit({"e": "discarded", "count": len(records) - len(kept)})
        if kept:
            emit({"e": "records", "records": kept})
            committer.processed(kept)
        committer.commit(owned)
        state = member.state()
        if state != last_state:
            emit({"e": "state", **state})
            last_state = state
    member.close()
    emit({"e": "closed"})


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
