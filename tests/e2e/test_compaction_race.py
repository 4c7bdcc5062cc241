"""Fetches racing job swaps (issue 13): while confluent-kafka writes updates to a compacted topic
and records to a plain one, and the controller keeps compacting the first (into several objects
per job: the merge target is tiny) and merging the second, a confluent-kafka consumer reads
both from the beginning over and over. No fetch errors, every pass sees each partition's
offsets strictly increasing (nothing out of order, no offset twice), and every record it sees
is the one acknowledged at that offset. Afterwards the compacted topic reads back exactly the
latest record per key and the plain one every record. About 8 s on the file store."""

from __future__ import annotations

import re
import threading
import time
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from harness import confluent_client
from harness.confluent_client import TRANSIENT_CLIENT_ERRORS
from harness.deadlines import DeadlineExceeded
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import free_port
from harness.stores import FILE_STORE

KEYS = 300
PRODUCE_S = 4.0
WAIT_S = 30.0
RACING = (
    "--cleaner-backoff-ms",
    "50",
    "--merge-min-age-ms",
    "200",
    # Far below the compacted topic's size, so each compaction writes several objects.
    "--merge-target-bytes",
    "4096",
)


def _committed_jobs(metrics_url: str) -> dict[str, float]:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    pattern = r'^skiff_job_seconds_count\{kind="(\w+)",outcome="committed"\} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)}


class Reader:
    """Reads both topics from the beginning to their high watermarks as they were when the pass
    began (the last offset is never compacted away: it is its key's latest), pass after pass
    until told to stop, noting any error, any offset not above the previous one in its pass,
    and every record seen."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.consumer = confluent_client.new_consumer(bootstrap)
        self.topics = topics
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.disorder: list[str] = []
        self.seen: dict[tuple[str, int], tuple[bytes | None, bytes | None]] = {}
        self.passes = 0
        self.thread = threading.Thread(target=self._run, name="reader", daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self._one_pass()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(f"reader failed: {e!r}")
        finally:
            self.consumer.close()

    def _one_pass(self) -> None:
        ends = {
            t: self.consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10, cached=False)[1]
            for t in self.topics
        }
        self.consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in self.topics])
        last: dict[str, int] = {}
        while any(last.get(t, -1) < end - 1 for t, end in ends.items()) and not self.stop.is_set():
            for message in self.consumer.consume(num_messages=1000, timeout=0.2):
                error = message.error()
                if error is not None:
                    if not (message.topic() is None and error.code() in TRANSIENT_CLIENT_ERRORS):
                        self.errors.append(str(error))
                    continue
                topic, offset = message.topic(), message.offset()
                if offset <= last.get(topic, -1):
                    self.disorder.append(f"{topic}: offset {offset} after {last[topic]}")
                last[topic] = offset
                self.seen[(topic, offset)] = (message.key(), message.value())
        self.consumer.unassign()
        self.passes += 1


def test_fetches_during_compaction_and_merge_swaps_see_each_offset_once_in_order(
    skiff_factory, topic_name: str
) -> None:
    metrics_addr = f"127.0.0.1:{free_port()}"
    skiff = skiff_factory(FILE_STORE, *RACING, "--metrics-addr", metrics_addr)
    compacted, plain = f"{topic_name}-compacted", f"{topic_name}-plain"
    confluent_client.create_topic(
        skiff.bootstrap, compacted, 1, {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}
    )
    confluent_client.create_topic(skiff.bootstrap, plain, 1)
    stamp = base_timestamp_ms()

    reader = Reader(skiff.bootstrap, [compacted, plain])
    reader.thread.start()
    sent: list[tuple[str, SentRecord]] = []
    acks: list[Ack | None] = []
    errors: list[str] = []
    producer = confluent_client.ProducerHandle(skiff.bootstrap, acks, errors, None)
    started = time.monotonic()
    try:
        version = 0
        # One acknowledged round at a time, so each is its own flush and the jobs keep coming.
        while time.monotonic() - started < PRODUCE_S:
            keys = range(KEYS) if version == 0 else range(version % 7, KEYS, 7)
            round_ = [(compacted, SentRecord(b"key-%03d" % n, b"v%d of key %d" % (version, n), (), stamp, 0)) for n in keys]
            round_ += [(plain, SentRecord(b"p", b"plain %d.%d" % (version, n), (), stamp, 0)) for n in range(20)]
            acks.extend([None] * len(round_))
            for i, (topic, record) in enumerate(round_):
                producer.send(topic, record, len(sent) + i)
            producer.flush(60)
            sent.extend(round_)
            version += 1
    finally:
        producer.close()
    produced_s = time.monotonic() - started
    reader.stop.set()
    reader.thread.join(30)
    assert not reader.thread.is_alive(), "the reader did not stop"
    assert errors == [], f"delivery errors: {errors[:10]}"

    acked: dict[tuple[str, int], tuple[bytes | None, bytes | None]] = {}
    for (topic, record), ack in zip(sent, acks, strict=True):
        assert ack is not None, "every record was acknowledged"
        acked[(topic, ack.offset)] = (record.key, record.value)
    assert reader.errors == [], f"fetch errors during the swaps: {reader.errors[:10]}"
    assert reader.disorder == [], f"offsets out of order or twice: {reader.disorder[:10]}"
    wrong = [(at, got) for at, got in reader.seen.items() if acked.get(at) != got]
    assert wrong == [], f"records not as acknowledged: {wrong[:10]}"
    jobs = _committed_jobs(f"http://{metrics_addr}/metrics")
    print(f"\n{version} rounds in {produced_s:.1f} s; {reader.passes} read passes; committed jobs {jobs}")
    assert reader.passes >= 3, f"only {reader.passes} read passes ran during the swaps"
    assert jobs.get("compaction", 0) >= 2 and jobs.get("merge", 0) >= 1, jobs

    # Settled: exactly the latest record per key, and every plain record.
    latest: dict[bytes | None, tuple[int, bytes | None]] = {}
    for (topic, offset), (key, value) in sorted(acked.items()):
        if topic == compacted:
            latest[key] = (offset, value)
    expected = sorted((offset, key, value) for key, (offset, value) in latest.items())
    end = max(offset for topic, offset in acked if topic == compacted) + 1
    deadline = time.monotonic() + WAIT_S
    while True:
        read = confluent_client.consume(skiff.bootstrap, compacted, {0: end}, 60)
        got = [(r.offset, r.key, r.value) for r in read]
        if got == expected:
            break
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{len(got)} records, not the {len(expected)} latest, after {WAIT_S:.0f} s")
        time.sleep(0.2)
    plain_sent = [(offset, acked[(topic, offset)]) for topic, offset in sorted(acked) if topic == plain]
    read = confluent_client.consume(skiff.bootstrap, plain, {0: len(plain_sent)}, 60)
    assert [(r.offset, (r.key, r.value)) for r in read] == plain_sent
