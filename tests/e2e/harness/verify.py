"""Checks that what was read back is exactly what was sent, reported as one readable failure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence

from .records import CREATE_TIME, Ack, ConsumedRecord, SentRecord

MAX_PROBLEMS_SHOWN = 25

# Names the ordered stream a record belongs to (None: no order promised). Records of one stream
# must land in one partition, at offsets that rise in the order they were sent.
StreamOf = Callable[[int, SentRecord], Hashable | None]


def by_key(index: int, record: SentRecord) -> Hashable | None:
    """Keyed records sent by one producer: Kafka keeps each key's order."""
    return record.key if record.key and record.partition is None else None


def by_partition(index: int, record: SentRecord) -> Hashable | None:
    """Records with explicit partitions from one idempotent producer: each partition keeps order."""
    return record.partition


class Problems:
    """Collects mismatches so one failure shows the first few of each kind, not just the first one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_PROBLEMS_SHOWN:
            self.lines.append(line)

    def raise_if_any(self, what: str) -> None:
        if self.count:
            more = f"\n  ... and {self.count - len(self.lines)} more" if self.count > len(self.lines) else ""
            raise AssertionError(f"{what}: {self.count} problem(s)\n  " + "\n  ".join(self.lines) + more)


def _short(value: bytes | None) -> str:
    if value is None:
        return "None"
    return repr(value[:60]) + ("..." if len(value) > 60 else "")


def check_acks(sent: Sequence[SentRecord], acks: Sequence[Ack | None]) -> None:
    """Every record acknowledged once, at a distinct position, in the partition it asked for."""
    problems = Problems()
    if len(acks) != len(sent):
        problems.add(f"{len(acks)} ack slots for {len(sent)} records")
    seen: dict[tuple[int, int], int] = {}
    for index, (record, ack) in enumerate(zip(sent, acks, strict=False)):
        if ack is None:
            problems.add(f"record #{index} was never acknowledged")
            continue
        if record.partition is not None and ack.partition != record.partition:
            problems.add(f"record #{index} sent to partition {record.partition} was acked in {ack.partition}")
        position = (ack.partition, ack.offset)
        if position in seen:
            problems.add(f"records #{seen[position]} and #{index} were both acked at {position}")
        seen[position] = index
    problems.raise_if_any("acknowledgements")


def check_roundtrip(
    sent: Sequence[SentRecord],
    acks: Sequence[Ack | None],
    consumed: Sequence[ConsumedRecord],
    high_watermarks: Mapping[int, int],
    stream_of: StreamOf = by_key,
) -> None:
    """The full read-back contract: complete, no duplicates, offsets contiguous from 0 per
    partition, every field equal at the acknowledged position, send order kept per stream."""
    check_acks(sent, acks)
    problems = Problems()

    if len(consumed) != len(sent):
        problems.add(f"consumed {len(consumed)} records, sent {len(sent)}")
    if sum(high_watermarks.values()) != len(sent):
        problems.add(
            f"high watermarks {dict(high_watermarks)} sum to {sum(high_watermarks.values())}, sent {len(sent)}"
        )

    offsets_by_partition: dict[int, list[int]] = defaultdict(list)
    for record in consumed:
        offsets_by_partition[record.partition].append(record.offset)
    for partition in sorted(set(offsets_by_partition) | set(high_watermarks)):
        offsets = offsets_by_partition.get(partition, [])
        expected = list(range(high_watermarks.get(partition, 0)))
        if offsets != expected:
            problems.add(
                f"partition {partition}: consumed offsets are not exactly 0..{len(expected) - 1} in order "
                f"({_describe_offsets(offsets, expected)})"
            )

    values = Counter(record.value for record in consumed if record.value)
    for value, times in values.items():
        if times > 1:
            problems.add(f"value {_short(value)} consumed {times} times")

    by_position = {(record.partition, record.offset): record for record in consumed}
    for index, (record, ack) in enumerate(zip(sent, acks, strict=False)):
        if ack is None:
            continue
        got = by_position.get((ack.partition, ack.offset))
        if got is None:
            problems.add(f"record #{index} acked at {ack.partition}/{ack.offset} was not consumed")
            continue
        for field in ("key", "value", "headers", "timestamp_ms"):
            want, have = getattr(record, field), getattr(got, field)
            if want != have:
                shown = (_short(want), _short(have)) if field in ("key", "value") else (want, have)
                problems.add(
                    f"record #{index} at {ack.partition}/{ack.offset}: {field} sent {shown[0]}, read {shown[1]}"
                )
        if got.timestamp_type != CREATE_TIME:
            problems.add(f"record #{index}: timestamp type {got.timestamp_type}, expected CreateTime")

    _check_stream_order(sent, acks, stream_of, problems)
    problems.raise_if_any("read-back check")


def _check_stream_order(
    sent: Sequence[SentRecord], acks: Sequence[Ack | None], stream_of: StreamOf, problems: Problems
) -> None:
    """All records of a stream in one partition, at offsets increasing in the order they were sent."""
    positions_by_stream: dict[Hashable, list[tuple[int, int, int]]] = defaultdict(list)
    for index, (record, ack) in enumerate(zip(sent, acks, strict=False)):
        stream = stream_of(index, record)
        if ack is not None and stream is not None:
            positions_by_stream[stream].append((index, ack.partition, ack.offset))
    for stream, positions in positions_by_stream.items():
        partitions = {partition for _, partition, _ in positions}
        if len(partitions) != 1:
            problems.add(f"stream {stream!r} landed in several partitions: {sorted(partitions)}")
            continue
        # `positions` is in send order; offsets must rise along it.
        for (index_a, _, offset_a), (index_b, _, offset_b) in zip(positions, positions[1:], strict=False):
            if offset_b <= offset_a:
                problems.add(
                    f"stream {stream!r}: record #{index_b} (offset {offset_b}) was sent after #{index_a} "
                    f"(offset {offset_a}) but is not after it in the partition"
                )
                break


def _describe_offsets(offsets: list[int], expected: list[int]) -> str:
    if len(offsets) != len(expected):
        return f"{len(offsets)} offsets, expected {len(expected)}; first {offsets[:5]}, last {offsets[-5:]}"
    for position, (have, want) in enumerate(zip(offsets, expected, strict=True)):
        if have != want:
            return f"at position {position}: offset {have}, expected {want}"
    return "same"


def expected_offset_for_time(timestamps_by_offset: Sequence[int], target_ms: int) -> int | None:
    """Kafka's ListOffsets by timestamp: the earliest offset whose timestamp is >= target, or None."""
    for offset, timestamp in enumerate(timestamps_by_offset):
        if timestamp >= target_ms:
            return offset
    return None
