"""Issue 13's lifecycle benchmark: how the controller's index and snapshot grow under steady
produce over many partitions, with and without merges, and what merges cost.

    .venv-tests/bin/python bench/lifecycle.py --skiff-bin target/release/skiff \\
        --partitions 1000 --minutes 30 [--no-merge] [--retention-minutes 10] [--label NAME]

One `skiff dev` (file store unless SKIFF_BENCH_S3_ENDPOINT and SKIFF_BENCH_S3_BUCKET are set,
as bench/run sets them for LocalStack) with 100 ms flushes. A stock producer writes
small records to every partition in turn (bench/lifecycle_load.py, confluent-kafka), at a rate
that puts records in every partition in every flush: the worst case for the index, one entry
per partition per flush. The topic keeps `--retention-minutes` of data, so a
bounded index and a flat snapshot are what a long-running cluster should show.

Every `--sample-s` it reads the broker's /metrics: index entries (total and the most in one
partition), the last snapshot's size, stored bytes and objects, merge counters, object store
requests; plus the process's resident memory. It prints a markdown table of the samples and a
summary: entries per partition, snapshot bytes, merge MB per job-second, and PUT/GET/DELETE
per GB produced. Measurements, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import READY_MARKER, free_port  # noqa: E402

FLUSH_MS = 100
# Small records: the index, not the bytes, is what this measures.
RECORD_BYTES = 100
# A controller snapshot every this many Raft entries (10,000 by default), so its size is
# sampled several times in a run.
SNAPSHOT_LOGS = 3_000
# librdkafka sends one ProduceRequest per partition, and each waits for the next flush: with
# the default 64 requests read ahead per connection, one producer reaches only 64 partitions
# per flush. The worst case for the index needs all of them.
IN_FLIGHT_PER_CONNECTION = 16_384


@dataclass
class Sample:
    minute: float
    entries: float
    entries_max: float
    snapshot_bytes: float
    stored_bytes: float
    stored_objects: float
    merged_bytes: float
    merged_entries: float
    rss_bytes: float
    cpu_s: float


def scrape(url: str) -> dict[str, float]:
    """Prometheus text as {series: value}, labels kept in the series name."""
    text = urllib.request.urlopen(url, timeout=30).read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


def total(metrics: dict[str, float], name: str, **labels: str) -> float:
    """Sum of a metric's series whose labels include `labels`."""
    found = 0.0
    for series, value in metrics.items():
        if series != name and not series.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            found += value
    return found


def job_seconds(metrics: dict[str, float], kind: str) -> float:
    return sum(v for s, v in metrics.items()
               if s.startswith("skiff_job_seconds_sum{") and f'kind="{kind}"' in s and 'outcome="committed"' in s)


def process_stats(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def mib(value: float) -> str:
    return f"{value / 1024 / 1024:,.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skiff-bin", type=Path, required=True)
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--no-merge", action="store_true", help="never merge (minimum age of ten years)")
    parser.add_argument("--retention-minutes", type=float, default=10)
    parser.add_argument("--compact-keys", type=int, default=0,
                        help="a compacted topic whose partitions each cycle through this many keys")
    parser.add_argument("--records-per-partition-per-s", type=float, default=10,
                        help="offered rate per partition; 10 puts a record in every 100 ms flush")
    parser.add_argument("--sample-s", type=float, default=30)
    parser.add_argument("--label", default="")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, default=None, help="also write the samples and summary here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-lifecycle-", dir=args.work_dir))
    config = work / "dev.toml"
    config.write_text(f"[controller]\nsnapshot_logs_since_last = {SNAPSHOT_LOGS}\n\n"
                      f"[broker]\nmax_in_flight_per_connection = {IN_FLIGHT_PER_CONNECTION}\n")
    kafka = f"127.0.0.1:{free_port()}"
    metrics_addr = f"127.0.0.1:{free_port()}"
    metrics_url = f"http://{metrics_addr}/metrics"
    dev_args = [str(args.skiff_bin), "dev", "--data-dir", str(work / "data"), "--kafka-addr", kafka,
                "--metrics-addr", metrics_addr, "--config", str(config),
                "--flush-interval-ms", str(FLUSH_MS), "--gc-interval-ms", "10000",
                "--retention-check-interval-ms", "60000"]
    if args.no_merge:
        dev_args += ["--merge-min-age-ms", str(10 * 365 * 24 * 3600 * 1000)]
    env = dict(os.environ)
    s3 = os.environ.get("SKIFF_BENCH_S3_ENDPOINT")
    store = "file store"
    if s3:
        bucket = os.environ["SKIFF_BENCH_S3_BUCKET"]
        prefix = f"lifecycle-{int(time.time())}"
        dev_args += ["--object-store", f"s3://{bucket}/{prefix}", "--s3-endpoint", s3, "--s3-allow-http"]
        store = f"S3 at {s3}"
    log_path = work / "skiff-dev.log"
    log = log_path.open("wb")
    dev = subprocess.Popen(dev_args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while READY_MARKER not in log_path.read_text(errors="replace"):
            if dev.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"skiff dev did not start; log: {log_path}")
            time.sleep(0.1)
        retention_ms = int(args.retention_minutes * 60_000)
        configs = ["--config", f"retention.ms={retention_ms}"]
        if args.compact_keys:
            configs += ["--config", "cleanup.policy=compact"]
        subprocess.run([str(args.skiff_bin), "topic", "create", "life", "--partitions", str(args.partitions),
                        *configs, "--bootstrap", kafka], check=True, capture_output=True)
        rate = int(args.partitions * args.records_per_partition_per_s)
        produce = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "lifecycle_load.py"), kafka, "life",
             str(args.partitions), str(rate), str(int(args.minutes * 60)), str(RECORD_BYTES),
             str(args.compact_keys)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        samples: list[Sample] = []
        first: dict[str, float] | None = None
        stop = threading.Event()
        while True:
            metrics = scrape(metrics_url)
            first = first or metrics
            rss, cpu = process_stats(dev.pid)
            sample = Sample(
                minute=(time.monotonic() - started) / 60,
                entries=total(metrics, "skiff_index_entries"),
                entries_max=total(metrics, "skiff_index_entries_max_per_partition"),
                snapshot_bytes=total(metrics, "skiff_controller_snapshot_bytes"),
                stored_bytes=total(metrics, "skiff_stored_bytes"),
                stored_objects=total(metrics, "skiff_stored_objects"),
                merged_bytes=total(metrics, "skiff_merged_bytes_total"),
                merged_entries=total(metrics, "skiff_merged_entries_total"),
                rss_bytes=rss, cpu_s=cpu)
            samples.append(sample)
            print(f"[{sample.minute:5.1f} min] entries {sample.entries:,.0f} "
                  f"({sample.entries / args.partitions:,.1f}/partition, max {sample.entries_max:,.0f}), "
                  f"snapshot {mib(sample.snapshot_bytes)}, stored {mib(sample.stored_bytes)} in "
                  f"{sample.stored_objects:,.0f} objects, rss {mib(rss)}", file=sys.stderr, flush=True)
            if produce.poll() is not None or dev.poll() is not None:
                break
            stop.wait(args.sample_s)
        out, err = produce.communicate()
        if produce.returncode != 0:
            raise RuntimeError(f"the load failed: {err[-2000:]}")
        summary = json.loads(out)
        last = scrape(metrics_url)
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGTERM)
            try:
                dev.wait(60)
            except subprocess.TimeoutExpired:
                dev.kill()
        log.close()

    gigabytes = summary["bytes"] / 1e9
    requests = {kind: total(last, "skiff_object_store_requests_total", kind=kind)
                - total(first, "skiff_object_store_requests_total", kind=kind)
                for kind in ("put", "get", "get_range", "delete")}
    merged_mb = (total(last, "skiff_merged_bytes_total") - total(first, "skiff_merged_bytes_total")) / 1e6
    merge_s = job_seconds(last, "merge") - job_seconds(first, "merge")
    compacted_mb = (total(last, "skiff_compacted_bytes_total") - total(first, "skiff_compacted_bytes_total")) / 1e6
    compact_s = job_seconds(last, "compaction") - job_seconds(first, "compaction")
    title = args.label or f"{args.partitions:,} partitions, {'no merge' if args.no_merge else 'merge'}"
    print(f"\n### {title}\n")
    print(f"{store}; {args.minutes:g} min of produce at {summary['records_per_sec']:,.0f} records/s "
          f"({summary['mb_per_sec']:.1f} MB/s, {RECORD_BYTES}-byte records, offered {rate:,}/s) over "
          f"{args.partitions:,} partitions; flush {FLUSH_MS} ms; retention.ms {retention_ms:,}; "
          f"snapshot every {SNAPSHOT_LOGS:,} Raft entries; {summary.get('errors', 0)} produce errors\n")
    print("| minute | entries per partition (mean / max) | index entries | last snapshot | stored | objects | broker RSS |")
    print("|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.minute:.1f} | {s.entries / args.partitions:,.1f} / {s.entries_max:,.0f} | {s.entries:,.0f} | "
              f"{mib(s.snapshot_bytes)} | {mib(s.stored_bytes)} | {s.stored_objects:,.0f} | {mib(s.rss_bytes)} |")
    cpu_s = samples[-1].cpu_s - samples[0].cpu_s
    print(f"\n- produced {gigabytes:.2f} GB; skiff dev used {cpu_s:,.0f} CPU-s ({cpu_s / gigabytes:,.1f} per GB)")
    print(f"- object store requests per GB produced: " + ", ".join(
        f"{kind.upper()} {count / gigabytes:,.0f}" for kind, count in requests.items()))
    if merge_s > 0:
        print(f"- merges rewrote {merged_mb:,.1f} MB in {merge_s:,.1f} job-seconds: "
              f"{merged_mb / merge_s:,.1f} MB per job-second (one job runs on one task at a time)")
    if compact_s > 0:
        print(f"- compactions read {compacted_mb:,.1f} MB in {compact_s:,.1f} job-seconds: "
              f"{compacted_mb / compact_s:,.1f} MB per job-second")
    if args.json_out:
        args.json_out.write_text(json.dumps({"summary": summary, "requests": requests,
                                             "samples": [s.__dict__ for s in samples]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
