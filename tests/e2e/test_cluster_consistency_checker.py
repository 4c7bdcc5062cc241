"""The fault tests' consistency checker catches each kind of damage it claims to (no processes)."""

from __future__ import annotations

import pytest

from harness.consistency import ProducedLog, ReadRecord, check_consistency


def _log(name: str, count: int, partitions: int = 2) -> ProducedLog:
    log = ProducedLog(name)
    for index in range(count):
        log.values.append(f"{name}-{index}".encode())
        log.partitions.append(index % partitions)
    return log


def _healthy() -> tuple[list[ProducedLog], list[ReadRecord], dict[int, int]]:
    """Two producers, 4 records each, interleaved into 2 partitions, everything acked and read."""
    logs = [_log("a", 4), _log("b", 4)]
    read: list[ReadRecord] = []
    next_offset = {0: 0, 1: 0}
    for index in range(4):
        for log in logs:
            partition = log.partitions[index]
            offset = next_offset[partition]
            next_offset[partition] += 1
            log.acks[index] = (partition, offset, 0.0)
            read.append(ReadRecord(partition, offset, log.values[index]))
    read.sort(key=lambda record: (record.partition, record.offset))
    return logs, read, dict(next_offset)


def test_a_healthy_history_passes() -> None:
    logs, read, marks = _healthy()
    summary = check_consistency(logs, read, marks)
    assert (summary.acknowledged, summary.read, summary.stored_without_ack) == (8, 8, 0)


def test_an_ack_without_an_offset_is_located_by_its_value() -> None:
    logs, read, marks = _healthy()
    partition, _, when = logs[0].acks[1]
    logs[0].acks[1] = (partition, None, when)
    assert check_consistency(logs, read, marks).acknowledged_without_offset == 1


def test_a_record_stored_without_an_ack_is_allowed_once() -> None:
    logs, read, marks = _healthy()
    del logs[1].acks[3]
    assert check_consistency(logs, read, marks).stored_without_ack == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("lost", "was not read back"),
        ("gap", "not exactly 0.."),
        ("wrong_value", "acknowledged b'a-0', read b'b-3'"),
        ("duplicate", "read 2 times"),
        ("same_position", "were both acknowledged at"),
        ("out_of_order", "sits before it"),
        ("stranger", "which no producer sent"),
        ("lost_without_offset", "acknowledged but never read"),
    ],
)
def test_damage_is_reported(damage: str, message: str) -> None:
    logs, read, marks = _healthy()
    a = logs[0]
    if damage == "lost":  # the last record of partition 0 vanished, high watermark too
        read = [r for r in read if (r.partition, r.offset) != (0, marks[0] - 1)]
        marks[0] -= 1
    elif damage == "gap":
        read = [r for r in read if (r.partition, r.offset) != (0, 1)]
    elif damage == "wrong_value":
        read = [ReadRecord(r.partition, r.offset, b"b-3" if (r.partition, r.offset) == a.acks[0][:2] else r.value)
                for r in read]  # fmt: skip
    elif damage == "duplicate":  # a retry appended a record a second time
        read.append(ReadRecord(0, marks[0], a.values[0]))
        marks[0] += 1
    elif damage == "same_position":
        logs[1].acks[0] = a.acks[0]
    elif damage == "out_of_order":  # a's records 0 and 2 (both partition 0) swapped places
        (p0, o0, t0), (p2, o2, t2) = a.acks[0], a.acks[2]
        a.acks[0], a.acks[2] = (p0, o2, t0), (p2, o0, t2)
        read = [ReadRecord(r.partition, r.offset, {a.values[0]: a.values[2], a.values[2]: a.values[0]}.get(r.value, r.value))
                for r in read]  # fmt: skip
    elif damage == "stranger":
        read.append(ReadRecord(1, marks[1], b"nobody-sent-this"))
        marks[1] += 1
    elif damage == "lost_without_offset":
        partition, offset, when = a.acks[0]
        a.acks[0] = (partition, None, when)
        read = [ReadRecord(r.partition, r.offset, b"x" if r.value == a.values[0] else r.value) for r in read]
    with pytest.raises(AssertionError, match="consistency check") as failure:
        check_consistency(logs, read, marks)
    assert message in str(failure.value)
