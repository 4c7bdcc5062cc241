"""The fixed benchmark scenarios of bench/run, and the results table they produce.

Each scenario starts a fresh `skiff dev` where it needs one, drives it with `skiff bench ... --json`
(librdkafka), and adds one row to bench/results.md with the figure, the target it is held to, and
whether the target was met. Object store requests come from the broker's /metrics when it serves
them (`--metrics-addr`), and from counting segment files for the file store.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_MARKER = "skiff dev ready: Kafka on "
READY_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60
MiB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """How much each scenario moves: the full suite, or a CI smoke run."""

    lambda_records: int
    lambda_paced_duration: str
    produce_records: int
    e2e_duration: str
    paced_duration: str
    wide_partitions: int
    huge_partitions: int
    metadata_calls: int
    s3_records: int
    repeats: int
    drop_page_cache: bool
    archive_records: int
    archive_interval_ms: int
    archive_paced_duration_s: int
    keyed_records: int
    round_partitions: int
    rounds: int
    s3_paced_duration: str


FULL = Sizes(
    lambda_records=1_000_000,
    lambda_paced_duration="15s",
    produce_records=2_000_000,
    e2e_duration="20s",
    paced_duration="15s",
    wide_partitions=1_000,
    huge_partitions=10_000,
    metadata_calls=20,
    s3_records=500_000,
    repeats=3,
    drop_page_cache=True,
    archive_records=1_000_000,
    archive_interval_ms=5_000,
    archive_paced_duration_s=30,
    keyed_records=1_000_000,
    round_partitions=400,
    rounds=20,
    s3_paced_duration="15s",
)
SMOKE = Sizes(
    lambda_records=5_000,
    lambda_paced_duration="2s",
    produce_records=2_000,
    e2e_duration="2s",
    paced_duration="2s",
    wide_partitions=20,
    huge_partitions=50,
    metadata_calls=3,
    s3_records=1_000,
    repeats=1,
    drop_page_cache=False,
    archive_records=2_000,
    archive_interval_ms=500,
    archive_paced_duration_s=2,
    keyed_records=2_000,
    round_partitions=20,
    rounds=2,
    s3_paced_duration="2s",
)


@dataclass
class Row:
    scenario: str
    setting: str
    figure: str
    target: str = ""
    met: str = ""
    details: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    page_cache: str | None = None

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.scenario}: {row.figure} {row.met}".rstrip(), file=sys.stderr, flush=True)


# (codec producers send, topic compression.type) pairs the recompression rows measure.
RECOMPRESSIONS = (("none", "lz4"), ("lz4", "zstd"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SkiffDev:
    """One `skiff dev` process: started on free ports, waited for, stopped with SIGTERM."""

    started = 0

    def __init__(self, binary: Path, data_dir: Path, extra: Sequence[str], env: dict[str, str]) -> None:
        self.kafka_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.metrics_url: str | None = None
        args = [str(binary), "dev", "--data-dir", str(data_dir), "--kafka-addr", self.bootstrap, *extra]
        if supports_flag(binary, "--metrics-addr"):
            metrics_addr = f"127.0.0.1:{free_port()}"
            args += ["--metrics-addr", metrics_addr]
            self.metrics_url = f"http://{metrics_addr}/metrics"
        data_dir.mkdir(parents=True, exist_ok=True)
        SkiffDev.started += 1
        self.log_path = data_dir.parent / f"skiff-{SkiffDev.started}-{data_dir.name}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while READY_MARKER not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"skiff dev exited with {self.process.returncode}; log: {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"skiff dev not ready after {READY_TIMEOUT_S} s; log: {self.log_path}")
            time.sleep(0.1)

    def peak_rss_bytes(self) -> int | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the broker process has used so far."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


_flag_cache: dict[tuple[str, str], bool] = {}


def supports_flag(binary: Path, flag: str) -> bool:
    key = (str(binary), flag)
    if key not in _flag_cache:
        text = subprocess.run([str(binary), "dev", "--help"], capture_output=True, text=True, check=True).stdout
        _flag_cache[key] = flag in text
    return _flag_cache[key]


@contextmanager
def skiff_dev(binary: Path, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[SkiffDev]:
    dev = SkiffDev(binary, data_dir, extra, env or {})
    try:
        yield dev
    finally:
        dev.stop()


def bench(binary: Path, dev: SkiffDev, mode: str, *args: str) -> dict:
    command = [str(binary), "bench", mode, "--bootstrap", dev.bootstrap, "--json", *args]
    if dev.metrics_url:
        command += ["--metrics-url", dev.metrics_url]
    broker_before = dev.cpu_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker_after = dev.cpu_seconds()
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    # A run with delivery errors is a result too (reported in its row), not a reason to stop.
    summary = json.loads(result.stdout)
    # Client and broker share two cores, so throughput alone mixes their costs; CPU time per
    # GB tells them apart. The broker is not a waited-for child, so RUSAGE_CHILDREN is the
    # load generator's alone.
    summary["client_cpu_s"] = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime)
    if broker_before is not None and broker_after is not None:
        summary["broker_cpu_s"] = broker_after - broker_before
    return summary


def cpu_per_gb(summary: dict, who: str) -> float | None:
    seconds = summary.get(f"{who}_cpu_s")
    gigabytes = summary.get("bytes", 0) / 1e9
    return seconds / gigabytes if seconds is not None and gigabytes > 0 else None


def cpu_text(summary: dict) -> str:
    broker, client = cpu_per_gb(summary, "broker"), cpu_per_gb(summary, "client")
    if broker is None or client is None:
        return ""
    return f"CPU-s per GB: broker {broker:.2f}, load generator {client:.2f}"


def segment_files(objects_dir: Path) -> int:
    return sum(1 for path in objects_dir.rglob("*.seg"))


def mb(summary: dict) -> str:
    text = f"{summary['mb_per_sec']:.0f} MB/s ({summary['records_per_sec']:,.0f} rec/s)"
    if summary.get("errors"):
        text += f", **{summary['errors']:,} errors** ({summary.get('first_error')})"
    return text


def latency(summary: dict, key: str = "latency") -> str:
    lat = summary.get(key) or {}
    if not lat:
        return ""
    return f"p50 {lat['p50_ms']:.1f} / p99 {lat['p99_ms']:.1f} / max {lat['max_ms']:.1f} ms"


def object_store_text(summary: dict) -> str:
    store = summary.get("object_store") or {}
    parts = []
    if store.get("puts") is not None:
        parts.append(f"{store['puts']} PUTs ({store['puts_per_gb']:.0f}/GB)")
    if store.get("gets") is not None:
        parts.append(f"{store['gets']} GETs ({store['gets_per_gb']:.0f}/GB)")
    return ", ".join(parts)


def join_details(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def metadata_latency_ms(bootstrap: str, topic: str | None, calls: int) -> tuple[float, float]:
    """Median and worst Metadata round trip as a stock client (confluent-kafka) sees it."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.list_topics(timeout=30)  # connect first: the handshake is not the request we measure
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        admin.list_topics(topic=topic, timeout=30)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def produce_args(records: int, partitions: int, *extra: str) -> list[str]:
    return ["--records", str(records), "--partitions", str(partitions), "--record-size", "1KiB", "--acks", "all", *extra]


def wipe(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def median_run(runs: list[dict]) -> dict:
    """The run with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run["mb_per_sec"])
    return ordered[(len(ordered) - 1) // 2]


def spread(runs: list[dict]) -> str:
    if len(runs) < 2:
        return ""
    figures = " / ".join(f"{run['mb_per_sec']:.0f}" for run in sorted(runs, key=lambda run: run["mb_per_sec"]))
    return f"median of {len(runs)} runs ({figures} MB/s)"


def settle_page_cache(report: Report, drop: bool) -> None:
    """Writes back and, where allowed (root), drops the OS page cache before a produce run.

    On the development VM a run that starts with gigabytes of earlier runs still cached cost
    the broker up to 2.7 times the CPU per GB of one that starts with the memory free (the same
    long-lived broker went from 182 to 595 centiseconds per 2 GB and back after a drop), which
    is the kernel's doing, not Skiff's. Without root the runs are only synced, and say so.
    Smoke runs (CI) only sync: dropping a shared machine's cache would slow everything else."""
    os.sync()
    if not drop:
        report.page_cache = report.page_cache or "synced before each produce run"
        return
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        report.page_cache = "synced and dropped before each produce run"
    except OSError:
        if report.page_cache is None:
            report.page_cache = "synced (not dropped: needs root) before each produce run"


def cpu_ratio_text(base_runs: list[dict], other_runs: list[dict]) -> str:
    """How the broker's and the load generator's CPU per GB compare between two sets of runs."""
    parts = []
    for who in ("broker", "client"):
        base = [v for v in (cpu_per_gb(run, who) for run in base_runs) if v]
        other = [v for v in (cpu_per_gb(run, who) for run in other_runs) if v]
        if base and other:
            name = "broker" if who == "broker" else "load generator"
            parts.append(f"{name} {statistics.median(other) / statistics.median(base):.0%}")
    return f"CPU per GB vs 8 partitions (medians): {', '.join(parts)}" if parts else ""


def file_store_scenarios(binary: Path, work: Path, sizes: Sizes, report: Report, cache_memory: int) -> None:
    data = work / "file"
    objects = work / "file-objects"
    cache_dir = work / "file-cache"
    # A file store gets no disk cache tier (the objects are on the same disk), so the memory
    # tier is the whole cache.
    store = ["--object-store", f"file://{objects}", "--cache-dir", str(cache_dir),
             "--cache-memory-bytes", str(cache_memory)]

    # Each repetition starts a new process on empty directories and writes the same bytes to
    # 8 and to 10,000 partitions, in alternating order, each from a settled page cache (see
    # settle_page_cache): on this machine the kernel's handling of gigabytes written by earlier
    # runs moved the broker's CPU per GB more than anything Skiff does.
    plain_runs: list[dict] = []
    huge_runs: list[dict] = []
    peak_rss = 0
    # Produce per codec: what validating records (decompressing them) costs the broker shows
    # in its CPU per GB next to the uncompressed run's.
    codec_runs: dict[str, dict] = {}
    recompress_runs: dict[tuple[str, str], dict] = {}
    for repetition in range(sizes.repeats):
        wipe(data, objects, cache_dir)
        with skiff_dev(binary, data, *store) as dev:
            subprocess.run([str(binary), "topic", "create", "huge", "--partitions", str(sizes.huge_partitions),
                            "--bootstrap", dev.bootstrap], check=True, capture_output=True)
            if repetition == 0:
                median_ms, worst_ms = metadata_latency_ms(dev.bootstrap, "huge", sizes.metadata_calls)
                report.add(Row(f"Metadata of one topic with {sizes.huge_partitions:,} partitions",
                               "confluent-kafka list_topics", f"median {median_ms:.1f} ms, max {worst_ms:.1f} ms",
                               "< 100 ms", verdict(worst_ms < 100)))
            runs = [("p8", 8, plain_runs), ("huge", sizes.huge_partitions, huge_runs)]
            for topic, partitions, into in runs if repetition % 2 == 0 else reversed(runs):
                settle_page_cache(report, sizes.drop_page_cache)
                into.append(bench(binary, dev, "produce", "--topic", topic, *produce_args(sizes.produce_records, partitions)))
            if repetition == 0:
                for codec in ("gzip", "snappy", "lz4", "zstd"):
                    settle_page_cache(report, sizes.drop_page_cache)
                    codec_runs[codec] = bench(binary, dev, "produce", "--topic", f"p8-{codec}",
                                              *produce_args(sizes.produce_records, 8, "--compression", codec))
                # A topic whose compression.type differs from what producers send: every batch is
                # recompressed on produce (issue 20); its CPU per GB is the cost next to the rows above.
                for sent, stored in RECOMPRESSIONS:
                    topic = f"p8-{sent}-as-{stored}"
                    subprocess.run([str(binary), "topic", "create", topic, "--partitions", "8",
                                    "--config", f"compression.type={stored}", "--bootstrap", dev.bootstrap],
                                   check=True, capture_output=True)
                    settle_page_cache(report, sizes.drop_page_cache)
                    recompress_runs[(sent, stored)] = bench(
                        binary, dev, "produce", "--topic", topic,
                        *produce_args(sizes.produce_records, 8, "--compression", sent))
            peak_rss = max(peak_rss, dev.peak_rss_bytes() or 0)

    plain = median_run(plain_runs)
    report.add(Row("produce 1 KiB × 8 partitions, acks=all", "file store, flush 100 ms", mb(plain),
                   "≥ 250 MB/s", verdict(plain["mb_per_sec"] >= 250),
                   join_details(spread(plain_runs), f"ack {latency(plain)}", cpu_text(plain), object_store_text(plain))))
    for codec, run in codec_runs.items():
        report.add(Row(f"the same with {codec}", "file store, records validated", mb(run), "", "",
                       join_details(f"ack {latency(run)}", cpu_text(run), "payload is repetitive filler")))
    for (sent, stored), run in recompress_runs.items():
        report.add(Row(f"the same, {sent} sent to a compression.type={stored} topic",
                       "file store, every batch recompressed", mb(run), "", "",
                       join_details(f"ack {latency(run)}", cpu_text(run), "payload is repetitive filler")))
    huge = median_run(huge_runs)
    ratio = huge["mb_per_sec"] / plain["mb_per_sec"] if plain["mb_per_sec"] else 0.0
    ratios = ", ".join(f"{h['mb_per_sec'] / p['mb_per_sec']:.0%}" for p, h in zip(plain_runs, huge_runs) if p["mb_per_sec"])
    report.add(Row(f"produce across {sizes.huge_partitions:,} partitions", "file store, flush 100 ms, same records",
                   mb(huge), "within 25% of 8 partitions", verdict(ratio >= 0.75),
                   join_details(f"{ratio:.0%} of the 8-partition median; per repetition {ratios}", spread(huge_runs),
                                f"ack {latency(huge)}", cpu_text(huge), cpu_ratio_text(plain_runs, huge_runs))))
    if peak_rss:
        limit = 300 * MiB + cache_memory
        report.add(Row("broker peak resident memory at full produce rate",
                       f"memory cache {cache_memory // MiB} MiB, 8 and {sizes.huge_partitions:,} partitions",
                       f"{peak_rss / MiB:.0f} MiB", f"< 300 MiB + cache = {limit // MiB} MiB", verdict(peak_rss < limit),
                       f"highest of {len(plain_runs)} processes"))

    # Cold: a new process with an empty cache reads everything from the store (whose files
    # the OS may still hold in its page cache); cached: the same process reads it again.
    cold_runs: list[dict] = []
    warm_runs: list[dict] = []
    # The produce runs may have dropped these objects from the OS page cache; read them once so
    # every repetition measures Skiff reading a local store, not the VM's disk.
    for path in objects.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(8 * MiB):
                    pass
    for _ in range(sizes.repeats):
        wipe(cache_dir)
        with skiff_dev(binary, data, *store) as dev:
            cold_runs.append(bench(binary, dev, "consume", "--topic", "p8"))
            warm_runs.append(bench(binary, dev, "consume", "--topic", "p8"))
    produced = plain_runs[-1]["records"]
    for run in cold_runs + warm_runs:
        if run["records"] != produced:
            raise RuntimeError(f"consumed {run['records']} records, produced {produced}")
    cold = median_run(cold_runs)
    report.add(Row("catch-up consume, cold cache", "file store (in the OS page cache), new process", mb(cold), "≥ 500 MB/s",
                   verdict(cold["mb_per_sec"] >= 500), join_details(spread(cold_runs), cpu_text(cold), object_store_text(cold))))
    warm = median_run(warm_runs)
    report.add(Row("catch-up consume, second read", f"same process, memory cache {cache_memory // MiB} MiB",
                   mb(warm), "≥ 500 MB/s", verdict(warm["mb_per_sec"] >= 500),
                   join_details(spread(warm_runs), object_store_text(warm))))

    # Each scenario's data goes as soon as it is read back: the full suite writes several GB.
    wipe(data, objects, cache_dir)
    # Gigabytes written above may still be in writeback; the Raft log's fsyncs would wait on it
    # and the latency run would measure the previous scenario's disk traffic.
    settle_page_cache(report, sizes.drop_page_cache)
    with skiff_dev(binary, data, *store, "--flush-interval-ms", "10") as dev:
        e2e = bench(binary, dev, "e2e", "--topic", "e2e", "--partitions", "8", "--record-size", "1KiB",
                    "--throughput", "20MB/s", "--duration", sizes.e2e_duration)
        p99 = (e2e.get("latency") or {}).get("p99_ms")
        report.add(Row("e2e latency at 20 MB/s", "flush 10 ms, 8 partitions", latency(e2e), "p99 < 30 ms",
                       verdict(p99 is not None and p99 < 30), join_details(f"consumer read {mb(e2e)}", object_store_text(e2e))))
        tail_gets = (e2e.get("object_store") or {}).get("gets")
        if tail_gets is not None:
            report.add(Row("GETs while consumers tail the writing broker", "during the e2e run", str(tail_gets),
                           "0", verdict(tail_gets == 0)))

    wide_objects = work / "wide-objects"
    wipe(data, wide_objects)
    settle_page_cache(report, sizes.drop_page_cache)
    with ExitStack() as stack:
        dev = stack.enter_context(skiff_dev(binary, data, "--object-store", f"file://{wide_objects}",
                                            "--cache-dir", str(cache_dir)))
        wide = bench(binary, dev, "produce", "--topic", "wide", *produce_args(sizes.produce_records, sizes.wide_partitions))
        report.add(Row(f"produce across {sizes.wide_partitions:,} partitions", "file store, flush 100 ms",
                       mb(wide), "", "", f"ack {latency(wide)}"))
        # At full rate the 8 MiB size trigger flushes more often than the interval; the bound is
        # about partition count, so it is checked at a rate the interval alone governs. A file
        # store flushes as often as every 10 ms by default (a PUT costs nothing there), so the
        # minimum is set to the interval, as on S3, whose promise this row checks.
        if supports_flag(binary, "--min-flush-interval-ms"):
            dev.stop()
            dev = stack.enter_context(skiff_dev(binary, data, "--object-store", f"file://{wide_objects}",
                                                "--cache-dir", str(cache_dir), "--min-flush-interval-ms", "100"))
        before = segment_files(wide_objects)
        paced = bench(binary, dev, "produce", "--topic", "wide", "--partitions", str(sizes.wide_partitions),
                      "--record-size", "1KiB", "--acks", "all", "--duration", sizes.paced_duration,
                      "--throughput", "20MB/s")
        puts = segment_files(wide_objects) - before
        puts_per_s = puts / paced["elapsed_secs"] if paced["elapsed_secs"] else 0.0
        report.add(Row("segment PUTs per second", f"{sizes.wide_partitions:,} partitions at 20 MB/s, flush 100 ms, minimum 100 ms",
                       f"{puts_per_s:.1f} PUT/s ({puts} segments in {paced['elapsed_secs']:.1f} s)",
                       "≤ 1000 / 100 ms = 10 PUT/s", verdict(puts_per_s <= 10.5)))

    wipe(data, wide_objects, objects, cache_dir)


def s3_scenarios(binary: Path, work: Path, sizes: Sizes, report: Report, only: str | None) -> None:
    endpoint = os.environ["SKIFF_BENCH_S3_ENDPOINT"]
    bucket = os.environ["SKIFF_BENCH_S3_BUCKET"]
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    data = work / "s3"
    cache_dir = work / "s3-cache"
    prefix = f"run-{int(time.time())}"
    store = ["--object-store", f"s3://{bucket}/{prefix}", "--s3-endpoint", endpoint, "--cache-dir", str(cache_dir)]
    if only != "wide":
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(cache_dir, ignore_errors=True)
        with skiff_dev(binary, data, *store, env=env) as dev:
            produced = bench(binary, dev, "produce", "--topic", "s3p8", *produce_args(sizes.s3_records, 8))
            report.add(Row("produce 1 KiB × 8 partitions, acks=all", "LocalStack S3", mb(produced), "", "",
                           join_details(f"ack {latency(produced)}", object_store_text(produced))))
            paced = bench(binary, dev, "produce", "--topic", "s3paced", "--partitions", "8", "--record-size", "1KiB",
                          "--acks", "all", "--duration", sizes.s3_paced_duration, "--throughput", f"{S3_PACED_MB_PER_S}MB/s")
            p99 = (paced.get("latency") or {}).get("p99_ms")
            puts = (paced.get("object_store") or {}).get("puts")
            puts_text = f"{puts / paced['elapsed_secs']:.1f} PUT/s" if puts is not None and paced["elapsed_secs"] else ""
            report.add(Row(f"produce ack latency at a steady {S3_PACED_MB_PER_S} MB/s", "LocalStack S3, defaults",
                           latency(paced), "p99 < 250 ms", verdict(p99 is not None and p99 < 250),
                           join_details(mb(paced), puts_text, "≤ 10 PUT/s at flush 100 ms")))
        shutil.rmtree(cache_dir, ignore_errors=True)
        with skiff_dev(binary, data, *store, env=env) as dev:
            cold = bench(binary, dev, "consume", "--topic", "s3p8")
            report.add(Row("catch-up consume, cold cache", "LocalStack S3", mb(cold), "", "", object_store_text(cold)))
        for moved in (data, cache_dir):
            shutil.rmtree(moved, ignore_errors=True)
    wide_store = ["--object-store", f"s3://{bucket}/{prefix}-wide", "--s3-endpoint", endpoint,
                  "--cache-dir", str(cache_dir)]
    wide_scenarios(binary, work / "wide-s3", sizes, report, "LocalStack S3", wide_store, env, keyed_target=0.6,
                   round_target_s=None)
    shutil.rmtree(cache_dir, ignore_errors=True)


# ---- Many partitions (issue 21): what applications with keyed records see ----

S3_PACED_MB_PER_S = 50


def partition_rounds(bootstrap: str, topic: str, partitions: int, rounds: int) -> list[float]:
    """Seconds per round of one record to each partition, each round flushed (acks=all)
    before the next, from a stock client (confluent-kafka) at its default settings."""
    from confluent_kafka import Producer

    failures: list[str] = []

    def delivered(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.list_topics(topic=topic, timeout=30)
    seconds = []
    # The first round also fetches the partition leaders; it is not counted.
    for round_number in range(rounds + 1):
        started = time.perf_counter()
        for partition in range(partitions):
            producer.produce(topic, b"r" * 100, partition=partition, on_delivery=delivered)
        if producer.flush(60) != 0:
            raise RuntimeError(f"round {round_number} of {partitions} records not delivered in 60 s")
        if round_number:
            seconds.append(time.perf_counter() - started)
    if failures:
        raise RuntimeError(f"{len(failures)} records failed, first: {failures[0]}")
    return seconds


def wide_scenarios(binary: Path, work: Path, sizes: Sizes, report: Report, store_name: str,
                   store: Sequence[str], env: dict[str, str] | None, keyed_target: float,
                   round_target_s: float | None) -> None:
    """Keyed records spread over many partitions against the same records over 8, and rounds
    of one record to each of many partitions, both at the broker's default flush settings."""
    data = work / "data"
    wipe(work)
    wide = sizes.wide_partitions
    with skiff_dev(binary, data, *store, env=env) as dev:
        for topic, partitions in (("k8", 8), (f"k{wide}", wide), ("rounds", sizes.round_partitions)):
            subprocess.run([str(binary), "topic", "create", topic, "--partitions", str(partitions),
                            "--bootstrap", dev.bootstrap], check=True, capture_output=True)
        narrow_runs: list[dict] = []
        wide_runs: list[dict] = []
        runs = [("k8", 8, narrow_runs), (f"k{wide}", wide, wide_runs)]
        for repetition in range(sizes.repeats):
            for topic, partitions, into in runs if repetition % 2 == 0 else reversed(runs):
                settle_page_cache(report, sizes.drop_page_cache and store_name == "file store")
                into.append(bench(binary, dev, "produce", "--topic", topic,
                                  *produce_args(sizes.keyed_records, partitions, "--keyed")))
        narrow, spread_wide = median_run(narrow_runs), median_run(wide_runs)
        ratio = spread_wide["mb_per_sec"] / narrow["mb_per_sec"] if narrow["mb_per_sec"] else 0.0
        report.add(Row(f"keyed produce across {wide:,} partitions", f"{store_name}, defaults, librdkafka",
                       mb(spread_wide), f"≥ {keyed_target:.0%} of 8 partitions", verdict(ratio >= keyed_target),
                       join_details(f"{ratio:.0%} of {mb(narrow)} over 8 keyed partitions", spread(wide_runs),
                                    f"ack {latency(spread_wide)}", cpu_text(spread_wide),
                                    object_store_text(spread_wide))))
        seconds = sorted(partition_rounds(dev.bootstrap, "rounds", sizes.round_partitions, sizes.rounds))
        worst = seconds[-1]
        report.add(Row(f"1 record to each of {sizes.round_partitions} partitions, per round",
                       f"{store_name}, defaults, confluent-kafka",
                       f"median {statistics.median(seconds):.3f} s, max {worst:.3f} s",
                       f"< {round_target_s} s" if round_target_s else "",
                       verdict(worst < round_target_s) if round_target_s else "",
                       f"{len(seconds)} rounds, each flushed before the next"))
    wipe(work)


# ---- Archive (issue 15): records → Parquet in the topic's Iceberg table ----

ARCHIVE_PACED_MB_PER_S = 50


def archive_status(binary: Path, dev: SkiffDev, topic: str) -> dict | None:
    """The topic's `skiff archive status --json` entry, or None when it cannot say yet."""
    result = subprocess.run([str(binary), "archive", "status", topic, "--json", "--bootstrap", dev.bootstrap],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        return None
    topics = json.loads(result.stdout)["topics"]
    return topics[0] if topics else None


def wait_archived(binary: Path, dev: SkiffDev, topic: str, records: int, timeout_s: float) -> dict:
    """Polls until every one of `records` records is archived; returns the last status."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = archive_status(binary, dev, topic)
        if status and status["lag_records"] == 0 and sum(p["end_offset"] or 0 for p in status["partitions"]) >= records:
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"{topic} not archived after {timeout_s:.0f} s: {status}")
        time.sleep(0.1)


def archive_scenarios(binary: Path, work: Path, sizes: Sizes, report: Report) -> None:
    """Produce with and without archiving (alternating, fresh process each), archive throughput
    per CPU core (a stored backlog turned into Parquet after `skiff.archive.enable` is set, the
    process doing nothing else), and the archive's lag at a steady produce rate."""
    data = work / "archive"
    objects = work / "archive-objects"
    interval_ms = sizes.archive_interval_ms
    store = ["--object-store", f"file://{objects}", "--archive-interval-ms", str(interval_ms)]
    plain_runs: list[dict] = []
    archiving_runs: list[dict] = []
    archive_runs: list[tuple[int, float, float]] = []  # (bytes, broker CPU s, wall s)
    for repetition in range(sizes.repeats):
        for archiving in (False, True) if repetition % 2 == 0 else (True, False):
            wipe(data, objects)
            with skiff_dev(binary, data, *store, *(["--archive-all-topics"] if archiving else [])) as dev:
                settle_page_cache(report, sizes.drop_page_cache)
                run = bench(binary, dev, "produce", "--topic", "arch", *produce_args(sizes.archive_records, 8))
                (archiving_runs if archiving else plain_runs).append(run)
                if archiving:
                    wait_archived(binary, dev, "arch", run["records"], 600)
                    continue
                # The backlog: archived from the log start once the topic opts in.
                cpu_before, started = dev.cpu_seconds(), time.monotonic()
                subprocess.run([str(binary), "topic", "alter-config", "arch", "--set", "skiff.archive.enable=true",
                                "--bootstrap", dev.bootstrap], check=True, capture_output=True)  # fmt: skip
                wait_archived(binary, dev, "arch", run["records"], 600)
                wall = time.monotonic() - started
                cpu = (dev.cpu_seconds() or 0.0) - (cpu_before or 0.0)
                archive_runs.append((run["bytes"], cpu, wall))

    per_core = sorted(b / 1e6 / cpu for b, cpu, _ in archive_runs if cpu > 0)
    median_per_core = statistics.median(per_core) if per_core else 0.0
    walls = ", ".join(f"{b / 1e6 / wall:.0f} MB/s in {wall:.1f} s" for b, _, wall in archive_runs)
    report.add(Row("archive throughput per core, records → Parquet", f"file store, {sizes.archive_records:,} stored "
                   "1 KiB records (8 partitions) archived after skiff.archive.enable is set",
                   f"{median_per_core:.0f} MB/s per core", "≥ 100 MB/s per core", verdict(median_per_core >= 100),
                   join_details(f"record bytes / skiff dev CPU seconds, median of {len(per_core)} "
                                f"({' / '.join(f'{v:.0f}' for v in per_core)})",
                                f"wall clock (includes up to one archive interval before the job): {walls}",
                                "payload is repetitive filler (compresses well)")))  # fmt: skip
    plain, archiving = median_run(plain_runs), median_run(archiving_runs)
    ratio = archiving["mb_per_sec"] / plain["mb_per_sec"] if plain["mb_per_sec"] else 0.0
    report.add(Row("produce 1 KiB × 8 partitions while archiving", f"file store, --archive-all-topics, "
                   f"interval {interval_ms} ms", mb(archiving), "within 15% of without", verdict(ratio >= 0.85),
                   join_details(f"{ratio:.0%} of the median without archiving ({mb(plain)})",
                                spread(archiving_runs), f"without: {spread(plain_runs)}",
                                f"ack {latency(archiving)}", cpu_text(archiving))))  # fmt: skip

    # Lag at a steady rate: sampled through `skiff archive status` while producing.
    wipe(data, objects)
    settle_page_cache(report, sizes.drop_page_cache)
    samples: list[tuple[float, int]] = []
    with skiff_dev(binary, data, *store, "--archive-all-topics") as dev:
        subprocess.run([str(binary), "topic", "create", "paced", "--partitions", "8", "--bootstrap", dev.bootstrap],
                       check=True, capture_output=True)  # fmt: skip
        command = [str(binary), "bench", "produce", "--bootstrap", dev.bootstrap, "--json", "--topic", "paced",
                   "--record-size", "1KiB", "--acks", "all", "--duration", f"{sizes.archive_paced_duration_s}s",
                   "--throughput", f"{ARCHIVE_PACED_MB_PER_S}MB/s"]  # fmt: skip
        producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        while producer.poll() is None:
            status = archive_status(binary, dev, "paced")
            if status is not None:
                samples.append((time.monotonic() - started, status["lag_records"]))
            time.sleep(0.25)
        out, err = producer.communicate()
        if producer.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({producer.returncode}): {err.strip()[-2000:]}")
        paced = json.loads(out)
        ended = time.monotonic()
        wait_archived(binary, dev, "paced", paced["records"], 600)
        drained = time.monotonic() - ended
    rate = paced["records"] / paced["elapsed_secs"] if paced["elapsed_secs"] else 0.0
    # Lag in time: the records not archived yet, at the rate they arrive.
    lags_s = [lag / rate for _, lag in samples if rate] or [0.0]
    worst = max(lags_s)
    target_s = 2 * interval_ms / 1000
    report.add(Row("archive lag at a steady produce rate", f"{ARCHIVE_PACED_MB_PER_S} MB/s offered, 1 KiB × 8 "
                   f"partitions, interval {interval_ms} ms, file store", f"max {worst:.1f} s "
                   f"(median {statistics.median(lags_s):.1f} s)", f"< 2 intervals = {target_s:.0f} s",
                   verdict(worst < target_s),
                   join_details(f"produced {mb(paced)} for {paced['elapsed_secs']:.0f} s",
                                f"lag sampled {len(samples)} times (records not archived / produce rate)",
                                f"archived to the end {drained:.1f} s after the last acknowledgement")))  # fmt: skip
    wipe(data, objects)


# ---- Lambda trigger: `skiff trigger` invoking a no-op function under `cargo lambda watch` ----

LAMBDA_PARTITIONS = 8
LAMBDA_BATCH_SIZE = 1_000
LAMBDA_WINDOW_MS = 500
LAMBDA_RECORD_BYTES = 100
LAMBDA_PACED_RATE = 20_000


def cargo_lambda_bin() -> Path | None:
    for configured in (os.environ.get("SKIFF_BENCH_CARGO_LAMBDA"), os.environ.get("SKIFF_TEST_CARGO_LAMBDA")):
        if configured:
            return Path(configured)
    venv = REPO_ROOT / ".venv-cargo-lambda" / "bin" / "cargo-lambda"
    if venv.exists():
        return venv
    found = shutil.which("cargo-lambda")
    return Path(found) if found else None


class SinkFile:
    """What bench-sink wrote: one line per invocation, each record's produce → invoke delay in ms."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read_new(self) -> list[list[int]]:
        """Whole lines written since the last call."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [[int(x) for x in line.split()] for line in data[:end].decode().splitlines()]


@contextmanager
def lambda_emulator(cargo_lambda: Path, work: Path, release: bool, sink: Path) -> Iterator[str]:
    """`cargo lambda watch` serving bench-sink; yields its endpoint once a first call answered."""
    port = free_port()
    env = {**os.environ, "PATH": f"{cargo_lambda.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    log = (work / "cargo-lambda-watch.log").open("ab")
    args = ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--ignore-changes",
            "--concurrency", "2", "--env-var", f"SKIFF_BENCH_SINK_FILE={sink}"]  # fmt: skip
    if release:
        args.append("--release")
    # Run in the function's own directory: cargo then builds that package alone, without the
    # workspace's features (which would pull in the trigger, librdkafka and the AWS SDK).
    process = subprocess.Popen(args, cwd=REPO_ROOT / "bench" / "lambda-sink", stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        empty = json.dumps({"eventSource": "SelfManagedKafka", "bootstrapServers": "x:1", "records": {}}).encode()
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cargo lambda watch exited with {process.returncode}; log: {log.name}")
            try:
                request = urllib.request.Request(f"{endpoint}/2015-03-31/functions/bench-sink/invocations", data=empty, method="POST")
                with urllib.request.urlopen(request, timeout=900) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cargo lambda watch did not answer within 900 s; log: {log.name}")
            time.sleep(0.5)
        yield endpoint
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextmanager
def trigger(binary: Path, dev: SkiffDev, endpoint: str, topic: str, log_path: Path) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(binary), "trigger", "--bootstrap", dev.bootstrap, "--topic", topic, "--group", f"{topic}-fn",
         "--function-name", "bench-sink", "--lambda-endpoint", endpoint, "--batch-size", str(LAMBDA_BATCH_SIZE),
         "--batching-window-ms", str(LAMBDA_WINDOW_MS)],
        stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return float(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))])


def lambda_scenarios(binary: Path, work: Path, sizes: Sizes, report: Report, release: bool) -> None:
    cargo_lambda = cargo_lambda_bin()
    if cargo_lambda is None:
        report.notes.append("Lambda trigger scenario skipped: no cargo-lambda (bench/run installs it into .venv-cargo-lambda)")
        return
    data = work / "lambda"
    wipe(data)
    data.mkdir(parents=True)
    sink = SinkFile(data / "sink.txt")
    setting = (f"{LAMBDA_PARTITIONS} partitions, {LAMBDA_RECORD_BYTES}-byte records, batch {LAMBDA_BATCH_SIZE}, "
               f"window {LAMBDA_WINDOW_MS} ms, no-op function under cargo lambda watch")  # fmt: skip
    with lambda_emulator(cargo_lambda, data, release, sink.path) as endpoint, \
            skiff_dev(binary, data / "dev", "--flush-interval-ms", "10", "--group-initial-rebalance-delay-ms", "0") as dev:
        subprocess.run([str(binary), "topic", "create", "lam", "--partitions", str(LAMBDA_PARTITIONS),
                        "--bootstrap", dev.bootstrap], check=True, capture_output=True)  # fmt: skip
        # Throughput: a backlog, then the time from the first invocation to the last record.
        bench(binary, dev, "produce", "--topic", "lam", "--records", str(sizes.lambda_records),
              "--record-size", str(LAMBDA_RECORD_BYTES), "--acks", "all")  # fmt: skip
        sink.read_new()
        total, delivered, invocations, first_at, last_at = 0, 0, 0, None, None
        with trigger(binary, dev, endpoint, "lam", data / "trigger.log") as process:
            deadline = time.monotonic() + 600
            while total < sizes.lambda_records:
                now = time.monotonic()
                for line in sink.read_new():
                    if not line:
                        continue
                    # The clock starts with the first invocation (after the group join), so
                    # its records are not counted.
                    if first_at is None:
                        first_at = now
                    else:
                        delivered += len(line)
                    total += len(line)
                    invocations += 1
                    last_at = now
                if process.poll() is not None:
                    raise RuntimeError(f"skiff trigger exited with {process.returncode}; log: {data / 'trigger.log'}")
                if now > deadline:
                    raise RuntimeError(f"the trigger delivered {total} of {sizes.lambda_records} records in 600 s")
                time.sleep(0.05)
            elapsed = (last_at or 0) - (first_at or 0)
            rate = delivered / elapsed if elapsed > 0 else 0.0
            report.add(Row("Lambda trigger throughput, catch-up", setting, f"{rate:,.0f} records/s",
                           "≥ 50,000 records/s", verdict(rate >= 50_000),
                           f"{delivered:,} records in {invocations:,} invocations over {elapsed:.1f} s "
                           f"({'release' if release else 'debug'} function)"))  # fmt: skip

            # Latency: the trigger is caught up; records arrive at a steady rate.
            time.sleep(1.0)
            sink.read_new()
            bench(binary, dev, "produce", "--topic", "lam", "--duration", sizes.lambda_paced_duration,
                  "--throughput", str(LAMBDA_PACED_RATE), "--record-size", str(LAMBDA_RECORD_BYTES), "--acks", "1")  # fmt: skip
            time.sleep((LAMBDA_WINDOW_MS + 2000) / 1000)
            delays = sorted(d for line in sink.read_new() for d in line)
        p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
        target = LAMBDA_WINDOW_MS + 100
        report.add(Row("Lambda trigger produce → invoke latency", f"{LAMBDA_PACED_RATE:,} records/s offered; {setting}; "
                       "broker flush 10 ms", f"p50 {p50:.0f} / p99 {p99:.0f} / max {delays[-1] if delays else float('nan'):.0f} ms",
                       f"p99 < window + 100 = {target} ms", verdict(p99 < target),
                       f"{len(delays):,} records; from the producer's timestamp to the start of the invocation"))  # fmt: skip


def machine_lines(binary: Path) -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    lock = (REPO_ROOT / "Cargo.lock").read_text()
    rdkafka = re.search(r'name = "rdkafka-sys"\nversion = "([^"]+)"', lock)
    lines = [
        f"- machine: {os.cpu_count()} cores ({cpu}), {memory} RAM, {platform.system()} {platform.release()}",
        f"- skiff: {version} ({binary.parent.name} build), {rustc}",
        f"- load generator: `skiff bench` on the same machine, librdkafka via rdkafka-sys {rdkafka.group(1) if rdkafka else '?'}",
    ]
    if os.environ.get("SKIFF_BENCH_LOCALSTACK_VERSION"):
        lines.append(f"- S3: LocalStack {os.environ['SKIFF_BENCH_LOCALSTACK_VERSION']} in host mode on the same machine")
    return lines


def write_results(path: Path, binary: Path, sizes: Sizes, smoke: bool, report: Report, seconds: float) -> None:
    lines = [
        "# Skiff benchmark results",
        "",
        "Written by `bench/run`" + (" --smoke (tiny sizes: not a measurement)" if smoke else "") +
        f" on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, in {seconds / 60:.1f} minutes.",
        "",
        *machine_lines(binary),
        f"- settings: `skiff dev` defaults (flush 100 ms / 8 MiB) unless the row says otherwise; "
        f"{sizes.produce_records:,} records of 1 KiB per produce run; acks=all; linger 5 ms; batch 1 MB; "
        f"OS page cache {report.page_cache or 'left alone'}",
        "",
        "| scenario | setting | measured | target | met | details |",
        "|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        lines.append(f"| {row.scenario} | {row.setting} | {row.figure} | {row.target} | {row.met} | {row.details} |")
    if report.notes:
        lines += ["", *[f"- {note}" for note in report.notes]]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skiff-bin", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.md")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--cache-memory-mib", type=int, default=256)
    parser.add_argument("--only", choices=["lambda", "archive", "wide"], help="run only this group of scenarios")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    report = Report()
    started = time.monotonic()
    if args.only is None:
        file_store_scenarios(args.skiff_bin, args.work_dir, sizes, report, args.cache_memory_mib * MiB)
    if args.only in (None, "wide"):
        wide_scenarios(args.skiff_bin, args.work_dir / "wide-file", sizes, report, "file store",
                       ["--object-store", f"file://{args.work_dir / 'wide-file' / 'objects'}",
                        "--cache-dir", str(args.work_dir / "wide-file" / "cache")],
                       None, keyed_target=0.8, round_target_s=0.5)
    if args.only in (None, "lambda"):
        lambda_scenarios(args.skiff_bin, args.work_dir, sizes, report, release=args.skiff_bin.parent.name == "release")
    if args.only in (None, "archive"):
        archive_scenarios(args.skiff_bin, args.work_dir, sizes, report)
    if args.only in (None, "wide") and not args.no_s3 and os.environ.get("SKIFF_BENCH_S3_ENDPOINT"):
        s3_scenarios(args.skiff_bin, args.work_dir, sizes, report, args.only)
    elif args.only in (None, "wide") and not args.no_s3:
        report.notes.append("S3 scenarios skipped: no SKIFF_BENCH_S3_ENDPOINT (bench/run starts LocalStack)")
    write_results(args.out, args.skiff_bin, sizes, args.smoke, report, time.monotonic() - started)
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
