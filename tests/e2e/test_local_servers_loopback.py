"""Local test servers are not reachable from the network: LocalStack, as `localstack/start` and
tests/run start it (both through localstack/localstack.sh, as infra/local-cluster and bench/run
do), listens on 127.0.0.1 only. LocalStack's own gateway ignores the host in GATEWAY_LISTEN and
listens on 0.0.0.0, which localstack/serve.py corrects."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harness.server_process import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
TCP_LISTEN = "0A"


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
    return ipaddress.ip_address(b"".join(words))


def listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every local address a TCP socket listens on at `port`, IPv4 and IPv6, whoever owns it."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == TCP_LISTEN and int(hex_port, 16) == port:
                    found.append(_address(address))
    return found


def test_proc_net_tcp_addresses_decode() -> None:
    assert _address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _address("00000000") == ipaddress.ip_address("0.0.0.0")
    assert _address("00000000000000000000000001000000") == ipaddress.ip_address("::1")


def test_the_test_runs_localstack_listens_on_loopback_only() -> None:
    endpoint = os.environ.get("SKIFF_TEST_S3_ENDPOINT")
    if not endpoint:
        if os.environ.get("SKIFF_REQUIRE_S3"):
            pytest.fail("SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not", pytrace=False)
        pytest.skip("no SKIFF_TEST_S3_ENDPOINT (tests/run sets it)")
    port = urlparse(endpoint).port
    addresses = listening_addresses(port)
    assert addresses, f"nothing listens on port {port} ({endpoint})"
    assert all(a.is_loopback for a in addresses), f"LocalStack listens on {addresses}"


@pytest.mark.timeout(180)
def test_localstack_start_listens_on_loopback_only(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".venv-localstack" / "bin" / "python").exists():
        if os.environ.get("SKIFF_REQUIRE_S3"):
            pytest.fail("no .venv-localstack, which tests/run builds", pytrace=False)
        pytest.skip("no .venv-localstack (tests/run builds it)")
    port = free_port()
    log = tmp_path / "localstack-start.log"
    env = {**os.environ, "PORT": str(port), "BUCKET": "loopback-check"}
    env.pop("LISTEN_HOST", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(REPO_ROOT / "localstack" / "start")], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while b"S3 at http://" not in log.read_bytes():
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        addresses = listening_addresses(port)
        assert addresses, f"nothing listens on port {port}:\n{log.read_text(errors='replace')}"
        assert all(a.is_loopback for a in addresses), f"localstack/start listens on {addresses}"
        assert b"S3 at http://127.0.0.1:" in log.read_bytes()
    finally:
        # Ctrl-C, as a person stops it: its trap stops LocalStack before it exits.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert listening_addresses(port) == [], "LocalStack outlived localstack/start"
