"""Sustained acks=all, idempotent produce from background threads, and a full read-back, for the
cluster fault tests. Each producer owns one confluent-kafka Producer and one thread: the thread
produces at a steady pace and serves delivery reports continuously, so an ack's timestamp is
within a few milliseconds of its arrival (the fault tests measure pauses from them)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaError, Producer

from . import confluent_client
from .consistency import ProducedLog, ReadRecord
from .deadlines import DeadlineExceeded, wait_until

TICK_S = 0.02  # pacing of the load, not synchronisation


# librdkafka's line for a produce request that failed, e.g. "... encountered error: Broker:
# Disk error when trying to access log file on disk (actions Refresh,Retry,MsgNotPersisted)".
# The actions it prints are the defaults before its idempotence handling, which may still turn a
# "Permanent" OUT_OF_ORDER_SEQUENCE_NUMBER (the follow-on of a failed request in flight) into a
# retry with an epoch bump; whether a record was finally lost shows in its delivery report.
_PRODUCE_ERROR = re.compile(r"encountered error: (.*?) \(actions ")


class _ProduceErrorCounter(logging.Handler):
    """Counts librdkafka's failed-produce lines by error text."""

    def __init__(self, counts: Counter[str]) -> None:
        super().__init__(logging.DEBUG)
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        match = _PRODUCE_ERROR.search(record.getMessage())
        if match:
            self.counts[match.group(1)] += 1


class ProducerLoad:
    """One producer thread writing unique values round-robin over `partitions`."""

    def __init__(
        self,
        name: str,
        bootstrap: str,
        topic: str,
        partitions: int,
        records_per_s: int,
        extra_config: Mapping[str, object] | None = None,
        watch_produce_errors: bool = False,
    ) -> None:
        self.log = ProducedLog(name)
        self.topic = topic
        self.partitions = partitions
        self.per_tick = max(1, round(records_per_s * TICK_S))
        # Client-level errors: transient ones (a broker went away) are expected during faults.
        self.client_errors: list[str] = []
        self.fatal_errors: list[str] = []
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            # Long enough to ride out every fault here; a delivery failure is a test failure.
            "message.timeout.ms": 120_000,
            "error_cb": self._on_client_error,
        }
        config.update(extra_config or {})
        # Failed produce requests by error (librdkafka retries them; delivery reports tell the end).
        self.produce_errors: Counter[str] = Counter()
        if watch_produce_errors:
            # librdkafka reports each failed produce request only in its "msg" debug log.
            logger = logging.getLogger(f"rdkafka.{name}.{id(self)}")
            logger.propagate = False
            logger.setLevel(logging.DEBUG)
            logger.addHandler(_ProduceErrorCounter(self.produce_errors))
            config.update({"debug": "msg", "logger": logger})
        self._producer = Producer(config)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"produce-{name}", daemon=True)
        self._crash: BaseException | None = None
        # Delivery reports are written by the producer thread and read by the test thread.
        self._lock = threading.Lock()

    def _on_client_error(self, error: KafkaError) -> None:
        (self.fatal_errors if error.fatal() else self.client_errors).append(str(error))

    def _on_delivery(self, index: int, error: KafkaError | None, message) -> None:
        now = time.monotonic()
        with self._lock:
            if error is not None:
                self.log.failures.append((now, f"#{index}: {error}"))
            else:
                self.log.acks[index] = (message.partition(), message.offset(), now)

    def start(self) -> ProducerLoad:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            next_tick = time.monotonic()
            while not self._stop.is_set():
                for _ in range(self.per_tick):
                    self._send_one()
                next_tick += TICK_S
                # Serve delivery reports until the next tick is due.
                while (wait := next_tick - time.monotonic()) > 0:
                    self._producer.poll(wait)
                self._producer.poll(0)
        except BaseException as crash:  # reported by stop(), not lost in a thread
            self._crash = crash

    def _send_one(self) -> None:
        index = len(self.log.values)
        partition = index % self.partitions
        value = f"{self.log.name}|{self.topic}|{index:07d}|".encode() + b"x" * 48
        self.log.values.append(value)
        self.log.partitions.append(partition)
        deadline = time.monotonic() + 60
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value=value,
                    partition=partition,
                    on_delivery=lambda error, message, index=index: self._on_delivery(index, error, message),
                )
                return
            except BufferError:
                # Local queue full (a long fault): wait for room, bounded.
                if time.monotonic() >= deadline:
                    raise DeadlineExceeded("librdkafka's queue stayed full for 60 s") from None
                self._producer.poll(0.05)

    def acked(self) -> int:
        with self._lock:
            return len(self.log.acks)

    def sent(self) -> int:
        return len(self.log.values)

    def acked_from(self, first_index: int) -> int:
        """How many records sent at or after `first_index` are acknowledged."""
        with self._lock:
            return sum(index >= first_index for index in self.log.acks)

    def acks_from(self, first_index: int) -> list[tuple[int, int | None, float]]:
        """(partition, offset, time) of the acks of records sent at or after `first_index`."""
        with self._lock:
            return [ack for index, ack in self.log.acks.items() if index >= first_index]

    def acks_snapshot(self) -> list[tuple[int, int, float]]:
        """(partition, offset, time) of every ack so far."""
        with self._lock:
            return list(self.log.acks.values())

    def stop(self, flush_timeout_s: float) -> None:
        """Stops producing and waits (bounded) for every sent record's delivery report."""
        self._stop.set()
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            raise DeadlineExceeded(f"producer {self.log.name}'s thread did not stop within 30 s")
        if self._crash is not None:
            raise AssertionError(f"producer {self.log.name} crashed: {self._crash!r}") from self._crash
        remaining = self._producer.flush(flush_timeout_s)
        if remaining:
            raise DeadlineExceeded(
                f"producer {self.log.name}: {remaining} records still unacknowledged after {flush_timeout_s:.0f} s"
            )

    def close(self) -> None:
        """Drops whatever is still queued and closes the client (its threads and connections)."""
        self._stop.set()
        self._thread.join(timeout=30)
        self._producer.purge()
        self._producer.flush(5)
        self._producer.close()


def wait_for_acks(loads: Sequence[ProducerLoad], at_least: int, timeout_s: float, what: str) -> None:
    """Waits until every producer has at least `at_least` acknowledgements."""
    wait_until(
        lambda: all(load.acked() >= at_least for load in loads),
        timeout_s,
        f"{at_least} acks from each producer {what} (have {[load.acked() for load in loads]})",
    )


def wait_for_new_writes(loads: Sequence[ProducerLoad], count: int, timeout_s: float, what: str) -> None:
    """Waits until `count` records each producer sends from now on are acknowledged: proof that
    new writes go through, not just a backlog from before a fault."""
    firsts = [load.sent() for load in loads]
    wait_until(
        lambda: all(load.acked_from(first) >= count for load, first in zip(loads, firsts, strict=True)),
        timeout_s,
        f"{count} newly sent records acknowledged per producer {what}",
    )


def read_back(bootstrap: str, topic: str, partitions: int, timeout_s: float) -> tuple[list[ReadRecord], dict[int, int]]:
    """Every partition from offset 0 to its high watermark, via a fresh consumer."""
    marks = confluent_client.watermarks(bootstrap, topic, range(partitions))
    high_watermarks = {partition: high for partition, (_, high) in marks.items()}
    consumed = confluent_client.consume(bootstrap, topic, high_watermarks, timeout_s)
    records = [ReadRecord(record.partition, record.offset, record.value or b"") for record in consumed]
    return records, high_watermarks


def longest_ack_gap(loads: Sequence[ProducerLoad], start: float, end: float) -> tuple[float, float]:
    """The longest time between consecutive acks (of any producer) in [start, end]: (gap, gap start)."""
    times = sorted(t for load in loads for (_, _, t) in load.acks_snapshot() if start <= t <= end)
    if len(times) < 2:
        return end - start, start
    return max((b - a, a) for a, b in zip(times, times[1:], strict=False))


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """The broker id Metadata names as each partition's leader (a fresh client, fresh metadata)."""
    metadata = confluent_client.admin(bootstrap).list_topics(topic, timeout=confluent_client.ADMIN_TIMEOUT_S)
    return {partition: info.leader for partition, info in metadata.topics[topic].partitions.items()}
