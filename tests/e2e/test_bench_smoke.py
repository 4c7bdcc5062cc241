"""The benchmark suite as a smoke test: bench/suite.py with tiny sizes against the debug binary.

It asserts that every scenario runs and reports a figure, never how fast: performance targets live
in bench/results.md, not in timed tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "produce 1 KiB × 8 partitions, acks=all",
    "the same with zstd",
    "the same, lz4 sent to a compression.type=zstd topic",
    "broker peak resident memory at full produce rate",
    "catch-up consume, cold cache",
    "catch-up consume, second read",
    "e2e latency at 20 MB/s",
    "produce across 20 partitions",
    "segment PUTs per second",
    "Metadata of one topic with 50 partitions",
    "produce across 50 partitions",
    "keyed produce across 20 partitions",
    "1 record to each of 20 partitions, per round",
    "Lambda trigger throughput, catch-up",
    "Lambda trigger produce → invoke latency",
    "archive throughput per core, records → Parquet",
    "produce 1 KiB × 8 partitions while archiving",
    "archive lag at a steady produce rate",
]


@pytest.mark.exclusive
@pytest.mark.timeout(480)
def test_the_bench_suite_runs_every_scenario_and_reports_figures(skiff_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "suite.py"), "--smoke", "--no-s3",
         "--skiff-bin", str(skiff_bin), "--work-dir", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=450, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "--smoke (tiny sizes: not a measurement)" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    for scenario in SCENARIOS:
        assert scenario in rows, f"no row for {scenario!r} in\n{text}"
        measured = rows[scenario].split("|")[3]
        assert re.search(r"\d", measured), f"{scenario!r} reported no figure: {rows[scenario]}"
    e2e = rows["e2e latency at 20 MB/s"]
    percentiles = [float(x) for x in re.findall(r"p50 ([\d.]+) / p99 ([\d.]+) / max ([\d.]+)", e2e)[0]]
    assert percentiles == sorted(percentiles), e2e
