"""ListOffsets through both clients: by timestamp (offsets_for_times), earliest/latest
(watermarks, beginning/end offsets) and max timestamp (admin list_offsets), checked against the
offsets and timestamps the producer was told."""

from __future__ import annotations

from types import ModuleType

from confluent_kafka import TopicPartition as ConfluentTopicPartition
from confluent_kafka.admin import OffsetSpec as ConfluentOffsetSpec
from kafka import TopicPartition as KafkaPythonTopicPartition
from kafka.admin import OffsetSpec as KafkaPythonOffsetSpec

from harness import confluent_client, kafka_python_client
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.skiff_process import SkiffProcess
from harness.verify import check_acks, expected_offset_for_time

ROUNDS = 3  # separate flushes, so each partition holds several batches (and segment objects)
STEP_MS = 10
MONOTONIC, SHUFFLED, EMPTY = 0, 1, 2
PARTITIONS = 3
MONOTONIC_PER_ROUND = 20
SHUFFLED_PER_ROUND = 10


def _shuffled_timestamps(first_ms: int, count: int) -> list[int]:
    # A fixed permutation (7 is coprime with 30): timestamps go up and down but stay distinct.
    return [first_ms + ((index * 7) % count) * STEP_MS for index in range(count)]


def _produce(client: ModuleType, skiff: SkiffProcess, topic: str, first_ms: int) -> dict[int, list[int]]:
    """Writes both partitions in ROUNDS flushes; returns each partition's timestamps by offset."""
    monotonic = [first_ms + index * STEP_MS for index in range(ROUNDS * MONOTONIC_PER_ROUND)]
    shuffled = _shuffled_timestamps(first_ms + 5, ROUNDS * SHUFFLED_PER_ROUND)
    sent: list[SentRecord] = []
    for round_number in range(ROUNDS):
        for partition, stamps, per_round in (
            (MONOTONIC, monotonic, MONOTONIC_PER_ROUND),
            (SHUFFLED, shuffled, SHUFFLED_PER_ROUND),
        ):
            for position in range(round_number * per_round, (round_number + 1) * per_round):
                sent.append(
                    SentRecord(
                        key=f"p{partition}-{position}".encode(),
                        value=f"{topic}|{partition}|{position}".encode(),
                        headers=(),
                        timestamp_ms=stamps[position],
                        partition=partition,
                    )
                )
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, "lz4")
    try:
        per_round = len(sent) // ROUNDS
        for round_number in range(ROUNDS):
            start = round_number * per_round
            producer.send_all(topic, sent[start : start + per_round], start)
            producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors: {errors[:10]}"
    check_acks(sent, acks)

    # Timestamps by offset, from what the broker acknowledged (not from assumptions about order).
    by_partition: dict[int, dict[int, int]] = {MONOTONIC: {}, SHUFFLED: {}}
    for record, ack in zip(sent, acks, strict=True):
        assert ack is not None
        by_partition[ack.partition][ack.offset] = record.timestamp_ms
    result = {}
    for partition, stamps_by_offset in by_partition.items():
        assert sorted(stamps_by_offset) == list(range(len(stamps_by_offset))), (
            f"partition {partition} offsets have gaps"
        )
        result[partition] = [stamps_by_offset[offset] for offset in range(len(stamps_by_offset))]
    return result


def _targets(timestamps: list[int]) -> list[int]:
    """Before everything, every exact timestamp, just above each, and past the end."""
    targets = {0, min(timestamps) - 1}
    for stamp in timestamps:
        targets.update((stamp, stamp + 1))
    targets.add(max(timestamps) + 1_000)
    return sorted(targets)


def test_offsets_for_times_and_watermarks(client: ModuleType, skiff: SkiffProcess, topic_name: str) -> None:
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    timestamps = _produce(client, skiff, topic_name, base_timestamp_ms())

    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    assert marks == {
        MONOTONIC: (0, len(timestamps[MONOTONIC])),
        SHUFFLED: (0, len(timestamps[SHUFFLED])),
        EMPTY: (0, 0),
    }

    monotonic_targets = _targets(timestamps[MONOTONIC])
    shuffled_targets = _targets(timestamps[SHUFFLED])
    # A request names each partition once, so walk both target lists side by side.
    lookups = []
    for step in range(max(len(monotonic_targets), len(shuffled_targets))):
        lookups.append(
            {
                MONOTONIC: monotonic_targets[min(step, len(monotonic_targets) - 1)],
                SHUFFLED: shuffled_targets[min(step, len(shuffled_targets) - 1)],
                EMPTY: monotonic_targets[min(step, len(monotonic_targets) - 1)],
            }
        )
    answers = client.offsets_for_times(skiff.bootstrap, topic_name, lookups)

    mismatches = []
    for targets, found in zip(lookups, answers, strict=True):
        for partition, target in targets.items():
            expected = expected_offset_for_time(timestamps.get(partition, []), target)
            if found.get(partition) != expected:
                mismatches.append(
                    f"partition {partition}, target {target}: got {found.get(partition)}, expected {expected}"
                )
    assert mismatches == [], f"{len(mismatches)} wrong ListOffsets answers, first: {mismatches[:10]}"


def _max_timestamp_expectation(timestamps: dict[int, list[int]]) -> dict[int, tuple[int, int]]:
    expectation = {}
    for partition, stamps in timestamps.items():
        top = max(stamps)
        expectation[partition] = (stamps.index(top), top)
    return expectation


def test_confluent_admin_list_offsets(skiff: SkiffProcess, topic_name: str) -> None:
    confluent_client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    timestamps = _produce(confluent_client, skiff, topic_name, base_timestamp_ms())
    admin = confluent_client.admin(skiff.bootstrap)

    def list_offsets(spec: ConfluentOffsetSpec) -> dict[int, tuple[int, int]]:
        futures = admin.list_offsets(
            {ConfluentTopicPartition(topic_name, partition): spec for partition in range(PARTITIONS)},
            request_timeout=30,
        )
        return {
            tp.partition: (future.result(timeout=30).offset, future.result().timestamp)
            for tp, future in futures.items()
        }

    earliest = list_offsets(ConfluentOffsetSpec.earliest())
    latest = list_offsets(ConfluentOffsetSpec.latest())
    assert {partition: offset for partition, (offset, _) in earliest.items()} == {MONOTONIC: 0, SHUFFLED: 0, EMPTY: 0}
    assert {partition: offset for partition, (offset, _) in latest.items()} == {
        MONOTONIC: len(timestamps[MONOTONIC]),
        SHUFFLED: len(timestamps[SHUFFLED]),
        EMPTY: 0,
    }
    max_timestamp = list_offsets(ConfluentOffsetSpec.max_timestamp())
    for partition, (offset, stamp) in _max_timestamp_expectation(timestamps).items():
        assert max_timestamp[partition] == (offset, stamp), f"partition {partition}: max timestamp lookup"
    assert max_timestamp[EMPTY][0] == -1, f"empty partition: max timestamp lookup gave {max_timestamp[EMPTY]}"


def test_kafka_python_admin_list_offsets(skiff: SkiffProcess, topic_name: str) -> None:
    kafka_python_client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    timestamps = _produce(kafka_python_client, skiff, topic_name, base_timestamp_ms())
    admin = kafka_python_client.admin(skiff.bootstrap)
    try:

        def list_offsets(spec) -> dict[int, tuple[int, int]]:
            found = admin.list_partition_offsets(
                {KafkaPythonTopicPartition(topic_name, partition): spec for partition in range(PARTITIONS)}
            )
            return {tp.partition: (hit.offset, hit.timestamp) for tp, hit in found.items()}

        earliest = list_offsets(KafkaPythonOffsetSpec.EARLIEST)
        latest = list_offsets(KafkaPythonOffsetSpec.LATEST)
        max_timestamp = list_offsets(KafkaPythonOffsetSpec.MAX_TIMESTAMP)
    finally:
        admin.close()
    assert {partition: offset for partition, (offset, _) in earliest.items()} == {MONOTONIC: 0, SHUFFLED: 0, EMPTY: 0}
    assert {partition: offset for partition, (offset, _) in latest.items()} == {
        MONOTONIC: len(timestamps[MONOTONIC]),
        SHUFFLED: len(timestamps[SHUFFLED]),
        EMPTY: 0,
    }
    for partition, (offset, stamp) in _max_timestamp_expectation(timestamps).items():
        assert max_timestamp[partition] == (offset, stamp), f"partition {partition}: max timestamp lookup"
    assert max_timestamp[EMPTY][0] == -1, f"empty partition: max timestamp lookup gave {max_timestamp[EMPTY]}"
