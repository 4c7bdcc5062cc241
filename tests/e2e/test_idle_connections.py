"""connections.max.idle.ms: the broker closes connections that stay quiet, and a stock client
whose connections were closed under it carries on producing and consuming without an error."""

from __future__ import annotations

import re
import urllib.request
from types import ModuleType

from harness.deadlines import wait_until
from harness.records import Ack, SentRecord, base_timestamp_ms
from harness.server_process import free_port
from harness.stores import FILE_STORE
from harness.verify import by_partition, check_acks, check_roundtrip

RECORDS = 400
PARTITIONS = 2
# Well above the clients' own timers: librdkafka's idempotent producer, for one, needs a
# connection to stay up for its first InitProducerId round (at 300 ms it never got one).
IDLE_MS = 2_000


def metric(metrics_url: str, name: str) -> int:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\d+(?:\.\d+)?)$", text, re.MULTILINE)
    assert match, f"no {name} in\n{text[:2000]}"
    return int(float(match.group(1)))


def test_clients_carry_on_after_idle_connections_are_closed(
    client: ModuleType, skiff_factory, topic_name: str
) -> None:
    metrics_addr = f"127.0.0.1:{free_port()}"
    skiff = skiff_factory(FILE_STORE, "--connections-max-idle-ms", str(IDLE_MS), "--metrics-addr", metrics_addr)
    metrics_url = f"http://{metrics_addr}/metrics"
    client.create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    first_ms = base_timestamp_ms()
    sent = [
        SentRecord(f"k{i % 7}".encode(), f"{topic_name}|{i:05d}".encode(), (), first_ms + i, i % PARTITIONS)
        for i in range(RECORDS)
    ]
    acks: list[Ack | None] = [None] * len(sent)
    errors: list[str] = []
    producer = client.ProducerHandle(skiff.bootstrap, acks, errors, None)
    try:
        half = RECORDS // 2
        producer.send_all(topic_name, sent[:half], 0)
        producer.flush(60)
        accepted = metric(metrics_url, "skiff_connections_accepted_total")

        # The producer is still open but quiet: the broker closes its connections. librdkafka
        # then has none open; kafka-python reconnects at once, so a new connection shows it.
        def quiet_connections_closed() -> bool:
            if metric(metrics_url, "skiff_connections_idle_closed_total") == 0:
                return False
            return (metric(metrics_url, "skiff_connections") == 0
                    or metric(metrics_url, "skiff_connections_accepted_total") > accepted)

        wait_until(quiet_connections_closed, 30, "the broker to close the quiet connections")
        producer.send_all(topic_name, sent[half:], half)
        producer.flush(60)
    finally:
        producer.close()
    assert errors == [], f"delivery errors after the broker closed idle connections: {errors[:10]}"
    check_acks(sent, acks)

    marks = client.watermarks(skiff.bootstrap, topic_name, range(PARTITIONS))
    ends = {partition: high for partition, (_, high) in marks.items()}
    consumed = client.consume(skiff.bootstrap, topic_name, ends, 60)
    check_roundtrip(sent, acks, consumed, ends, stream_of=by_partition)
