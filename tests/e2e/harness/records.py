"""Records the tests send, records they read back, and deterministic generators for both."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .deadlines import DeadlineExceeded

Headers = tuple[tuple[str, bytes], ...]

CODECS = ("gzip", "snappy", "lz4", "zstd")
CREATE_TIME = "create"
LOG_APPEND_TIME = "log_append"


@dataclass(frozen=True, slots=True)
class SentRecord:
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int
    # None lets the client's partitioner choose (by key).
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """Where the broker said a record went."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int
    timestamp_type: str


class RangeRead:
    """A read of each partition from its start offset (default 0) up to, excluding, its end
    offset: the bookkeeping every client's consume() shares, whatever it polls with."""

    def __init__(
        self,
        reader: str,
        end_offsets: Mapping[int, int],
        timeout_s: float,
        start_offsets: Mapping[int, int] | None = None,
    ) -> None:
        self.reader = reader
        self.timeout_s = timeout_s
        self.starts = {partition: (start_offsets or {}).get(partition, 0) for partition in end_offsets}
        # Partitions with nothing to read are never assigned, so an empty read returns at once.
        self.wanted = {partition: end for partition, end in end_offsets.items() if end > self.starts[partition]}
        self.positions = {partition: self.starts[partition] for partition in self.wanted}
        self.records: list[ConsumedRecord] = []

    def polls(self) -> Iterator[None]:
        """Yields once per poll until every partition reaches its end offset; the clock starts
        at the first poll, after the client has assigned its partitions."""
        deadline = time.monotonic() + self.timeout_s
        while any(self.positions[p] < self.wanted[p] for p in self.wanted):
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    f"{self.reader} read {len(self.records)} of {sum(self.wanted.values())} records in "
                    f"{self.timeout_s:.0f} s; positions {self.positions}, ends {self.wanted}"
                )
            yield

    def add(self, record: ConsumedRecord) -> None:
        self.records.append(record)
        self.positions[record.partition] = max(self.positions[record.partition], record.offset + 1)


def base_timestamp_ms() -> int:
    """A recent, whole-second timestamp: inside any retention window, and far from 'now' so a
    broker that overwrote it with its own clock would be caught."""
    return (int(time.time()) - 3600) * 1000


def _filler(seed: str) -> bytes:
    # Half text, half hex of a hash: compresses, but not to nothing, and differs per record.
    digest = hashlib.blake2b(seed.encode(), digest_size=24).hexdigest().encode()
    return b"payload-" + digest + b"-" + digest[::-1]


def keyed_records(
    run_tag: str,
    codec: str,
    start: int,
    count: int,
    first_timestamp_ms: int,
    keys: int = 64,
) -> list[SentRecord]:
    """Records `start .. start+count` of one producer: keyed (so the partitioner spreads them),
    with repeated and empty headers, and one distinct, increasing timestamp each."""
    records = []
    for i in range(start, start + count):
        records.append(
            SentRecord(
                key=f"{codec}-key-{i % keys:03d}".encode(),
                value=f"{run_tag}|{codec}|{i:07d}|".encode() + _filler(f"{run_tag}{codec}{i}"),
                headers=(
                    ("codec", codec.encode()),
                    ("seq", str(i).encode()),
                    ("tag", b"first"),
                    ("tag", b"second"),
                    ("empty", b""),
                ),
                timestamp_ms=first_timestamp_ms + i,
            )
        )
    return records


def assorted_records(run_tag: str, count: int, partitions: int, first_timestamp_ms: int) -> list[SentRecord]:
    """Records with explicit partitions covering the awkward shapes: null keys, null values
    (tombstones), empty values, empty and binary keys, large values, no headers."""
    records = []
    for i in range(count):
        shape = i % 7
        key: bytes | None = f"key-{i % 37}".encode()
        value: bytes | None = f"{run_tag}|{i:06d}|".encode() + _filler(f"{run_tag}{i}")
        headers: Headers = (("n", str(i).encode()), ("tag", b"x"), ("tag", b"y"))
        if shape == 1:
            key = None
        elif shape == 2:
            value = None
        elif shape == 3:
            value = b""
            key = b""
        elif shape == 4:
            key = bytes([0, 255, i % 256, 10, 13])
            headers = ()
        elif shape == 5:
            value = (value or b"") + bytes(range(256)) * 40  # ~10 KiB
        records.append(
            SentRecord(
                key=key,
                value=value,
                headers=headers,
                timestamp_ms=first_timestamp_ms + i,
                partition=i % partitions,
            )
        )
    return records
