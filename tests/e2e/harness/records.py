"""Records the tests send, records they read back, and deterministic generators for both."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

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
