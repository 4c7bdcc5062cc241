"""The consistency checker for fault tests: what producers were told was stored must be exactly
what a consumer reads back.

Input: every record each producer sent (a unique value, the partition it asked for), the
(partition, offset) each acknowledged record got, and the full contents of every partition read
from offset 0 up to its high watermark. Checks, reported together as one failure:

1. every acknowledged (partition, offset) is unique;
2. each partition, read from 0, is gap-free and in offset order (offsets are exactly 0..hw-1);
3. every acknowledged record is readable at its acknowledged position and carries the value
   acknowledged for it;
4. every acknowledged record is read exactly once in its partition (no duplicate by retry);
5. records from one idempotent producer keep their send order within a partition;
6. whatever else was read is a record some producer sent and that was not acknowledged (a record
   whose ack was lost when a process died may legitimately be stored), and at most once.

An idempotent librdkafka producer may acknowledge a record without an offset (None): when a
request's outcome was unknown (its answer was an error or never came) and a later request of the
same partition succeeded, librdkafka knows the earlier records are stored but not where. Such a
record is located by its value (unique per record); it must then pass every check above at the
offset where it was read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .verify import Problems


@dataclass
class ProducedLog:
    """What one producer sent and what it was told. `values[i]` was sent i-th to `partitions[i]`."""

    name: str
    values: list[bytes] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    # index -> (partition, offset, monotonic time the delivery report was served); offset None
    # for an ack without an offset (see the module doc)
    acks: dict[int, tuple[int, int | None, float]] = field(default_factory=dict)
    # (monotonic time, text) of every failed delivery
    failures: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ReadRecord:
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True)
class Summary:
    acknowledged: int
    acknowledged_without_offset: int
    read: int
    stored_without_ack: int


def check_consistency(
    logs: Sequence[ProducedLog],
    read: Sequence[ReadRecord],
    high_watermarks: Mapping[int, int],
) -> Summary:
    problems = Problems()
    acks_by_log = [_locate_acks_without_offset(log, read) for log in logs]
    without_offset = sum(offset is None for log in logs for (_, offset, _) in log.acks.values())

    # 1. acknowledged positions are unique
    acked_at: dict[tuple[int, int], tuple[str, int]] = {}
    for log, acks in zip(logs, acks_by_log, strict=True):
        for index, (partition, offset) in acks.items():
            if partition != log.partitions[index]:
                problems.add(f"{log.name} #{index} sent to partition {log.partitions[index]} was acked in {partition}")
            position = (partition, offset)
            if position in acked_at:
                problems.add(f"{acked_at[position]} and {(log.name, index)} were both acknowledged at {position}")
            acked_at[position] = (log.name, index)

    # 2. each partition gap-free from 0 and in offset order
    offsets_by_partition: dict[int, list[int]] = defaultdict(list)
    for record in read:
        offsets_by_partition[record.partition].append(record.offset)
    for partition in sorted(set(offsets_by_partition) | set(high_watermarks)):
        offsets = offsets_by_partition.get(partition, [])
        expected = list(range(high_watermarks.get(partition, 0)))
        if offsets != expected:
            problems.add(f"partition {partition}: read offsets are not exactly 0..{len(expected) - 1} in order "
                         f"({_first_difference(offsets, expected)})")  # fmt: skip

    # 3. acknowledged records readable at their position with their value
    by_position = {(record.partition, record.offset): record for record in read}
    for log, acks in zip(logs, acks_by_log, strict=True):
        for index, (partition, offset) in sorted(acks.items()):
            got = by_position.get((partition, offset))
            if got is None:
                problems.add(f"{log.name} #{index} acknowledged at {partition}/{offset} was not read back")
            elif got.value != log.values[index]:
                problems.add(f"{log.name} #{index} at {partition}/{offset}: acknowledged {log.values[index][:40]!r}, "
                             f"read {got.value[:40]!r}")  # fmt: skip

    # 4 and 6. every value read at most once per partition; acked ones exactly once; no strangers
    sent_by_value = {value: (log, index) for log in logs for index, value in enumerate(log.values)}
    reads = Counter((record.partition, record.value) for record in read)
    stored_without_ack = 0
    for (partition, value), times in reads.items():
        origin = sent_by_value.get(value)
        if origin is None:
            problems.add(f"partition {partition} holds {value[:40]!r}, which no producer sent")
            continue
        log, index = origin
        if times > 1:
            problems.add(f"{log.name} #{index} was read {times} times in partition {partition}")
        if index not in log.acks:
            stored_without_ack += 1
    for log in logs:
        for index, (partition, _, _) in log.acks.items():
            if reads.get((partition, log.values[index]), 0) == 0:
                problems.add(f"{log.name} #{index} was acknowledged but never read in partition {partition}")

    # 5. per producer and partition, acknowledged offsets rise in send order
    for log, acks in zip(logs, acks_by_log, strict=True):
        last: dict[int, tuple[int, int]] = {}
        for index in sorted(acks):
            partition, offset = acks[index]
            if partition in last and offset <= last[partition][1]:
                problems.add(f"{log.name}: #{index} (offset {offset}) was sent after #{last[partition][0]} "
                             f"(offset {last[partition][1]}) but sits before it in partition {partition}")  # fmt: skip
            last[partition] = (index, offset)

    problems.raise_if_any("consistency check")
    return Summary(
        acknowledged=sum(len(log.acks) for log in logs),
        acknowledged_without_offset=without_offset,
        read=len(read),
        stored_without_ack=stored_without_ack,
    )


def _locate_acks_without_offset(log: ProducedLog, read: Sequence[ReadRecord]) -> dict[int, tuple[int, int]]:
    """index -> (partition, offset) of every ack, offsets of acks without one taken from where
    their value was read (once only: check 4 catches a value read twice)."""
    missing = {log.values[index]: index for index, (_, offset, _) in log.acks.items() if offset is None}
    located: dict[int, tuple[int, int]] = {}
    for record in read:
        index = missing.get(record.value)
        if index is not None and record.partition == log.partitions[index] and index not in located:
            located[index] = (record.partition, record.offset)
    acks: dict[int, tuple[int, int]] = {}
    for index, (partition, offset, _) in log.acks.items():
        if offset is not None:
            acks[index] = (partition, offset)
        elif index in located:
            acks[index] = located[index]
        # else: not read at all, which check 4 reports
    return acks


def _first_difference(offsets: list[int], expected: list[int]) -> str:
    for position, (have, want) in enumerate(zip(offsets, expected, strict=False)):
        if have != want:
            return f"at position {position}: offset {have}, expected {want}"
    return f"{len(offsets)} offsets, expected {len(expected)}"
