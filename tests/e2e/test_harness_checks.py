"""The read-back checker must fail on every kind of damage the e2e tests rely on it to catch;
otherwise a green e2e run would prove nothing. No skiff needed."""

from __future__ import annotations

import dataclasses

import pytest

from harness.records import CREATE_TIME, LOG_APPEND_TIME, Ack, ConsumedRecord, keyed_records
from harness.verify import by_partition, check_acks, check_roundtrip, expected_offset_for_time

PARTITIONS = 2


def _scenario():
    """Keyed records, round-robin over two partitions by key, and a perfect read-back."""
    sent = keyed_records("t", "gzip", 0, 40, 1_000, keys=4)
    acks: list[Ack | None] = []
    next_offset = [0] * PARTITIONS
    for record in sent:
        partition = int(record.key[-1:]) % PARTITIONS
        acks.append(Ack(partition, next_offset[partition]))
        next_offset[partition] += 1
    by_position = {(ack.partition, ack.offset): record for ack, record in zip(acks, sent, strict=True)}
    consumed = [
        ConsumedRecord(p, o, r.key, r.value, r.headers, r.timestamp_ms, CREATE_TIME)
        for (p, o), r in sorted(by_position.items())
    ]
    return sent, acks, consumed, dict(enumerate(next_offset))


def test_a_perfect_read_back_passes() -> None:
    check_roundtrip(*_scenario())


@pytest.mark.parametrize(
    "damage",
    [
        "drop-last",
        "duplicate",
        "swap-two-offsets",
        "wrong-value",
        "wrong-header-order",
        "lost-empty-header",
        "wrong-timestamp",
        "log-append-time",
        "key-became-none",
        "watermark-too-high",
    ],
)
def test_damage_is_reported(damage: str) -> None:
    sent, acks, consumed, marks = _scenario()
    first = consumed[0]
    if damage == "drop-last":
        consumed = consumed[:-1]
    elif damage == "duplicate":
        consumed = consumed + [consumed[-1]]
    elif damage == "swap-two-offsets":
        consumed[0], consumed[1] = consumed[1], consumed[0]
    elif damage == "wrong-value":
        consumed[0] = dataclasses.replace(first, value=first.value + b"!")
    elif damage == "wrong-header-order":
        consumed[0] = dataclasses.replace(first, headers=tuple(reversed(first.headers)))
    elif damage == "lost-empty-header":
        consumed[0] = dataclasses.replace(first, headers=first.headers[:-1])
    elif damage == "wrong-timestamp":
        consumed[0] = dataclasses.replace(first, timestamp_ms=first.timestamp_ms + 1)
    elif damage == "log-append-time":
        consumed[0] = dataclasses.replace(first, timestamp_type=LOG_APPEND_TIME)
    elif damage == "key-became-none":
        consumed[0] = dataclasses.replace(first, key=None)
    elif damage == "watermark-too-high":
        marks = {partition: high + 1 for partition, high in marks.items()}
    with pytest.raises(AssertionError):
        check_roundtrip(sent, acks, consumed, marks)


def test_a_key_out_of_send_order_is_reported() -> None:
    sent, acks, consumed, marks = _scenario()
    # Swap what two same-key records say, as if the broker had reordered them.
    same_key = [index for index, record in enumerate(sent) if record.key == sent[0].key][:2]
    a, b = same_key
    acks[a], acks[b] = acks[b], acks[a]
    records_at = {(c.partition, c.offset): c for c in consumed}
    for index in (a, b):
        ack = acks[index]
        assert ack is not None
        record = sent[index]
        records_at[(ack.partition, ack.offset)] = dataclasses.replace(
            records_at[(ack.partition, ack.offset)],
            value=record.value,
            headers=record.headers,
            timestamp_ms=record.timestamp_ms,
        )
    consumed = [records_at[position] for position in sorted(records_at)]
    with pytest.raises(AssertionError, match="not after it"):
        check_roundtrip(sent, acks, consumed, marks)
    # Without an order promise the same data is complete and exact.
    check_roundtrip(sent, acks, consumed, marks, stream_of=lambda index, record: None)


def test_partition_order_is_checked_for_explicit_partitions() -> None:
    sent, acks, consumed, marks = _scenario()
    sent = [dataclasses.replace(r, partition=ack.partition) for r, ack in zip(sent, acks, strict=True) if ack]
    check_roundtrip(sent, acks, consumed, marks, stream_of=by_partition)


def test_missing_or_colliding_acks_are_reported() -> None:
    sent, acks, _, _ = _scenario()
    with pytest.raises(AssertionError, match="never acknowledged"):
        check_acks(sent, [None] + acks[1:])
    with pytest.raises(AssertionError, match="both acked"):
        check_acks(sent, [acks[1]] + acks[1:])


@pytest.mark.parametrize(
    ("target", "expected"),
    [(0, 0), (100, 0), (101, 1), (300, 1), (301, 3), (400, 3), (401, None)],
)
def test_offset_for_time_is_the_first_offset_at_or_after_the_target(target: int, expected: int | None) -> None:
    # Offsets 0..3 with timestamps that dip: Kafka answers with the earliest offset, not the
    # smallest timestamp.
    assert expected_offset_for_time([100, 300, 200, 400], target) == expected
