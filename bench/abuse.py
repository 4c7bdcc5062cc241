"""Issue 23's abuse patterns against a fresh `skiff dev`, with the broker's resident memory
under each: run it against a binary before and after a change to compare them.

    .venv-tests/bin/python bench/abuse.py --skiff-bin target/release/skiff [--label after]

Patterns (each on the same broker, one after the other, sockets closed in between):
  fetch-unread     8 connections ask Fetch max_bytes=2^31-1 on a 200 MB partition, read nothing
  partial-frames   20 connections claim 100 MiB frames and send 80 MiB of each
  create-unread    4 connections send CreateTopics (100,000 names, validate_only), read nothing
  slow-frames      2,000 connections send 2 bytes of a frame; can a new client still be served?
  idle-after       all closed, 20 s later: is memory given back?
Prints one markdown table row per pattern (RSS during, in MiB).
"""

from __future__ import annotations

import argparse
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import SkiffDev  # noqa: E402

MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def request(api_key: int, version: int, body: bytes) -> bytes:
    frame = struct.pack(">hhi", api_key, version, 1) + string("abuse") + body
    return struct.pack(">i", len(frame)) + frame


def fetch_everything(topic: str) -> bytes:
    body = struct.pack(">iiiib", -1, 0, 0, 2**31 - 1, 0) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 2**31 - 1)
    return request(1, 4, body)


def create_many(count: int) -> bytes:
    topics = b"".join(string(f"abuse-topic-{i:06d}") + struct.pack(">ihii", 1, -1, 0, 0) for i in range(count))
    return request(19, 2, struct.pack(">i", count) + topics + struct.pack(">ib", 30_000, 1))


def connect(bootstrap: str) -> socket.socket:
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    # A small receive buffer, so unread responses stay in the broker, not in our kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    return sock


def served(bootstrap: str, timeout_s: float) -> str:
    """Whether a client from another address (127.0.0.2: the slow ones hold 127.0.0.1's
    per-address allowance) gets an answer."""
    started = time.monotonic()
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s, source_address=("127.0.0.2", 0)) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(request(18, 0, b""))
            head = sock.recv(4)
            if len(head) < 4:
                return "closed"
            return f"yes, in {time.monotonic() - started:.2f} s"
    except OSError as error:
        return f"no ({error.__class__.__name__})"


def settle(pid: int, seconds: float) -> float:
    """The highest RSS seen over `seconds`."""
    peak = 0.0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        peak = max(peak, rss_mib(pid))
        time.sleep(0.2)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skiff-bin", required=True, type=Path)
    parser.add_argument("--work-dir", type=Path, default=Path("bench/.work/abuse"))
    parser.add_argument("--label", default="")
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = args.work_dir / f"data-{int(time.time())}"
    dev = SkiffDev(args.skiff_bin, data_dir, [], {})
    pid = dev.process.pid
    rows: list[tuple[str, str]] = []
    try:
        rows.append(("started", f"{rss_mib(pid):.0f}"))
        subprocess.run([str(args.skiff_bin), "bench", "produce", "--bootstrap", dev.bootstrap, "--topic", "big",
                        "--partitions", "1", "--record-size", "1KiB", "--records", str(args.megabytes * 1024)],
                       check=True, capture_output=True)  # fmt: skip
        rows.append((f"after producing {args.megabytes} MB", f"{settle(pid, 2):.0f}"))

        socks = [connect(dev.bootstrap) for _ in range(8)]
        for sock in socks:
            sock.sendall(fetch_everything("big"))
        rows.append(("fetch-unread (8 x max_bytes 2^31-1)", f"{settle(pid, 8):.0f}"))
        for sock in socks:
            sock.close()

        socks = [connect(dev.bootstrap) for _ in range(20)]

        def partial(sock: socket.socket) -> None:
            try:
                sock.sendall(struct.pack(">i", 100 * MiB))
                chunk = bytes(MiB)
                for _ in range(80):
                    sock.sendall(chunk)
            except OSError:
                pass

        threads = [threading.Thread(target=partial, args=(s,), daemon=True) for s in socks]
        for thread in threads:
            thread.start()
        rows.append(("partial-frames (20 x 80 of 100 MiB)", f"{settle(pid, 10):.0f}"))
        for sock in socks:
            sock.close()

        socks = [connect(dev.bootstrap) for _ in range(4)]
        payload = create_many(100_000)
        for sock in socks:
            threading.Thread(target=lambda s=sock: s.sendall(payload), daemon=True).start()
        rows.append(("create-unread (4 x 100,000 names)", f"{settle(pid, 10):.0f}"))
        for sock in socks:
            sock.close()

        slow = []
        for _ in range(2000):
            try:
                sock = socket.create_connection(tuple([dev.bootstrap.rsplit(':', 1)[0], int(dev.bootstrap.rsplit(':', 1)[1])]), timeout=5)
                sock.sendall(b"\x00\x00")
                slow.append(sock)
            except OSError:
                break
        rows.append((f"slow-frames ({len(slow)} connections); new client served: {served(dev.bootstrap, 40)}",
                     f"{settle(pid, 1):.0f}"))  # fmt: skip
        for sock in slow:
            sock.close()
        rows.append(("idle-after (20 s after closing everything)", f"{settle(pid, 20):.0f}"))
    finally:
        dev.stop()
    print(f"| pattern | RSS MiB {args.label} |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
