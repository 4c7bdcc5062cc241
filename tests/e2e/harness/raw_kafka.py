"""The bytes no stock client would send: hand-built record batches and a bare Produce request,
for the tests that check how the broker treats hostile or broken input."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from kafka.record.util import calc_crc32c

PRODUCE_VERSION = 8  # the first with KIP-467's per-record errors, still non-flexible


def varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    raw &= (1 << 64) - 1
    out = bytearray()
    while raw >= 0x80:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def record(offset_delta: int, key: bytes | None, value: bytes | None, timestamp_delta: int = 0) -> bytes:
    """One record in the v2 encoding, length prefix included, no headers."""
    body = bytearray(b"\x00")
    body += varint(timestamp_delta) + varint(offset_delta)
    for field in (key, value):
        body += varint(-1) if field is None else varint(len(field)) + field
    body += varint(0)
    return varint(len(body)) + bytes(body)


def batch(records: bytes, record_count: int, last_offset_delta: int, codec: int = 0, timestamp_ms: int = 0) -> bytes:
    """A v2 batch around any records section, with a correct CRC-32C over whatever it holds."""
    after_crc = struct.pack(
        ">hiqqqhii", codec, last_offset_delta, timestamp_ms, timestamp_ms, -1, -1, -1, record_count
    ) + records
    crc = calc_crc32c(after_crc)
    return struct.pack(">qiibI", 0, 49 + len(records), -1, 2, crc) + after_crc


def values_batch(values: list[bytes], timestamp_ms: int) -> bytes:
    """A well-formed uncompressed batch of keyed records."""
    records = b"".join(record(i, b"k%d" % i, v) for i, v in enumerate(values))
    return batch(records, len(values), len(values) - 1, timestamp_ms=timestamp_ms)


@dataclass(frozen=True)
class ProduceResult:
    error_code: int
    base_offset: int
    error_message: str | None
    record_errors: list[tuple[int, str | None]]


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def string(self) -> str | None:
        (length,) = self.take(">h")
        if length < 0:
            return None
        text = self.data[self.at : self.at + length].decode()
        self.at += length
        return text


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        out += chunk
    return bytes(out)


def produce(bootstrap: str, topic: str, partition: int, records: bytes, timeout_s: float = 60) -> ProduceResult:
    """Sends one Produce v8 (acks=all) for one partition and decodes that partition's answer."""
    return produce_partitions(bootstrap, topic, {partition: records}, timeout_s)[partition]


def produce_partitions(
    bootstrap: str, topic: str, records: dict[int, bytes], timeout_s: float = 60
) -> dict[int, ProduceResult]:
    """Sends one Produce v8 (acks=all) for several partitions of a topic and decodes each
    partition's answer."""
    host, port = bootstrap.rsplit(":", 1)
    body = struct.pack(">hhi", 0, PRODUCE_VERSION, 1) + _string("skiff-e2e-raw")
    body += _string(None) + struct.pack(">hii", -1, 30_000, 1) + _string(topic)
    body += struct.pack(">i", len(records))
    for partition, data in records.items():
        body += struct.pack(">i", partition) + struct.pack(">i", len(data)) + data
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (length,) = struct.unpack(">i", _recv_exact(sock, 4))
        reply = _Reader(_recv_exact(sock, length))
    (correlation,) = reply.take(">i")
    assert correlation == 1, correlation
    (topics,) = reply.take(">i")
    assert topics == 1, topics
    reply.string()
    (partitions,) = reply.take(">i")
    assert partitions == len(records), partitions
    results = {}
    for _ in range(partitions):
        index, error_code, base_offset, _append_time, _log_start = reply.take(">ihqqq")
        (error_count,) = reply.take(">i")
        record_errors = []
        for _ in range(error_count):
            (batch_index,) = reply.take(">i")
            record_errors.append((batch_index, reply.string()))
        results[index] = ProduceResult(error_code, base_offset, reply.string(), record_errors)
    return results


FETCH_VERSION = 4  # the first with record batches v2 and isolation levels, still non-flexible


def fetch_raw(bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float = 60) -> tuple[int, bytes]:
    """Sends one Fetch v4 for one partition and returns its error code and its records bytes
    exactly as the broker sent them (for checks on the stored batches themselves)."""
    host, port = bootstrap.rsplit(":", 1)
    body = struct.pack(">hhi", 1, FETCH_VERSION, 2) + _string("skiff-e2e-raw")
    body += struct.pack(">iiiib", -1, 500, 1, 16 << 20, 0) + struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, 16 << 20)
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (length,) = struct.unpack(">i", _recv_exact(sock, 4))
        reply = _Reader(_recv_exact(sock, length))
    (correlation, _throttle, topics) = reply.take(">iii")
    assert (correlation, topics) == (2, 1), (correlation, topics)
    reply.string()
    (partitions,) = reply.take(">i")
    assert partitions == 1, partitions
    _index, error_code, _high, _stable = reply.take(">ihqq")
    (aborted,) = reply.take(">i")
    reply.take(">" + "qq" * max(aborted, 0))
    (size,) = reply.take(">i")
    records = reply.data[reply.at : reply.at + max(size, 0)]
    return error_code, records
