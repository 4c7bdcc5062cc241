"""The load of bench/lifecycle.py: small records to every partition in turn, at a fixed rate,
with a stock client (confluent-kafka). librdkafka's own partitioners keep a partition's records
together (the sticky one by the microsecond, and even `partitioner=random` sent each partition
a batch only every few seconds at 1,000 partitions), while naming the partition of each record
puts one in every partition every 1/rate-per-partition seconds.

    python bench/lifecycle_load.py BOOTSTRAP TOPIC PARTITIONS RECORDS_PER_S SECONDS RECORD_BYTES [KEYS]

With KEYS, each partition's records cycle through that many keys (for a compacted topic).

Prints one JSON object: records sent and acknowledged, errors, seconds, rates and bytes.
"""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka import Producer

# How often the loop tops the sent count up to what the rate allows by now.
TICK_S = 0.002


def main() -> int:
    bootstrap, topic = sys.argv[1], sys.argv[2]
    partitions, rate = int(sys.argv[3]), float(sys.argv[4])
    seconds, record_bytes = float(sys.argv[5]), int(sys.argv[6])
    keys = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    key_bytes = [f"key-{n:08}".encode() for n in range(keys)]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": 1,
                         "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 2_097_151})
    counts = {"acked": 0, "errors": 0}
    first_error: list[str] = []

    def on_delivery(err, _msg) -> None:  # noqa: ANN001
        if err is None:
            counts["acked"] += 1
        else:
            counts["errors"] += 1
            if not first_error:
                first_error.append(str(err))

    value = b"x" * record_bytes
    sent, partition = 0, 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            try:
                key = key_bytes[(sent // partitions) % keys] if keys else None
                producer.produce(topic, value, key=key, partition=partition, on_delivery=on_delivery)
            except BufferError:
                producer.poll(0.05)
                continue
            partition = (partition + 1) % partitions
            sent += 1
        producer.poll(0)
        time.sleep(TICK_S)
    producer.flush(120)
    took = time.monotonic() - start
    print(json.dumps({
        "records": sent, "acked": counts["acked"], "errors": counts["errors"],
        "first_error": first_error[0] if first_error else None, "seconds": took,
        "records_per_sec": sent / took, "bytes": sent * record_bytes,
        "mb_per_sec": sent * record_bytes / took / 1e6,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
