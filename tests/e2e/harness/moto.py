"""moto's AWS server (moto[server], in this venv), in memory on a free port: S3 for the store
checks, Glue for the archive's catalog registration."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.server_process import free_port

START_TIMEOUT_S = 30


@contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    """Runs moto_server until the block ends; yields its endpoint URL once it accepts
    connections."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"moto_server did not start:\n{log_path.read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
