"""A distributed Skiff under test: 3 `skiff controller` + 2 `skiff broker` processes on free ports.

Every process keeps its ports and data dir across restarts (clients and peers know those
addresses), logs to its own file (appended across starts, after a marker line) and dies with
pytest (PR_SET_PDEATHSIG), as `skiff_process.SkiffProcess` does for `skiff dev`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from .deadlines import wait_until
from .skiff_process import ANSI_ESCAPE, SkiffError, _die_with_parent, free_port
from .stores import StoreConfig

CONTROLLERS = 3
BROKERS = 2
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
STOPPED_MARKER = "stopped"


class ServerProcess:
    """One long-running skiff server (controller or broker) started with fixed arguments."""

    def __init__(self, name: str, binary: Path, args: Sequence[str], log_path: Path, ready_line: str) -> None:
        self.name = name
        self.binary = binary
        self.args = list(args)
        self.log_path = log_path
        self.ready_line = ready_line
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset_at_start = 0
        self.env = dict(os.environ)
        # tracing-subscriber honours NO_COLOR: keeps escape codes out of the log we search and show.
        self.env["NO_COLOR"] = "1"
        self.env.pop("SKIFF_LOG", None)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn(self) -> None:
        """Starts the process without waiting for it (controllers must start together to elect)."""
        if self.is_running():
            raise SkiffError(f"{self.name} is already running")
        self.starts += 1
        argv = [str(self.binary), *self.args]
        with open(self.log_path, "ab") as log:
            log.write(f"==== harness: start #{self.starts}: {' '.join(argv)}\n".encode())
            log.flush()
            self._log_offset_at_start = log.tell()
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while self.ready_line not in self.log_since_start():
            exit_code = self._proc.poll() if self._proc is not None else None
            if exit_code is not None:
                raise SkiffError(f"{self.name} exited with code {exit_code} before it was ready\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                self.kill()
                raise SkiffError(f"{self.name} did not log {self.ready_line!r} within {timeout_s:.0f} s\n{self.log_tail()}")
            time.sleep(0.05)

    def terminate(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then require a clean exit: code 0 and the `stopped` line."""
        proc = self._require_running()
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise SkiffError(f"{self.name} did not exit within {timeout_s:.0f} s of SIGTERM\n{self.log_tail()}") from None
        if exit_code != 0:
            raise SkiffError(f"{self.name} exited with code {exit_code} after SIGTERM (expected 0)\n{self.log_tail()}")
        if STOPPED_MARKER not in self.log_since_start():
            raise SkiffError(f"{self.name} exited 0 after SIGTERM without logging {STOPPED_MARKER!r}\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)

    def _require_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise SkiffError(f"{self.name} is not running (exit code {code})\n{self.log_tail()}")
        return self._proc

    def log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset_at_start)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 50) -> str:
        try:
            with open(self.log_path, "rb") as log:
                tail = deque(log, maxlen=lines)
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        text = b"".join(tail).decode("utf-8", errors="replace")
        return f"--- last {len(tail)} lines of {self.log_path} ---\n{ANSI_ESCAPE.sub('', text)}"


class Cluster:
    """3 controllers + 2 brokers sharing one object store (a bucket prefix of its own).

    Ports are chosen once with free_port(); a port taken by someone else between choosing and
    binding makes the start fail with the process's log, which is rare enough on loopback.
    """

    def __init__(
        self,
        binary: Path,
        work_dir: Path,
        store: StoreConfig,
        object_prefix: str,
        broker_args: Sequence[str] = (),
        controller_args: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.object_prefix = object_prefix
        work_dir.mkdir(parents=True, exist_ok=True)
        # Brokers write segments there; controllers garbage-collect there (uncommitted objects).
        objects = store.skiff_args(object_prefix) or ["--object-store", f"file://{work_dir / 'objects'}"]
        self.controller_addrs = [f"127.0.0.1:{free_port()}" for _ in range(CONTROLLERS)]
        peers = ",".join(f"{i + 1}={addr}" for i, addr in enumerate(self.controller_addrs))
        self.controllers = [
            ServerProcess(
                f"controller-{node}",
                binary,
                [
                    "controller",
                    "--node-id", str(node),
                    "--listen", addr,
                    "--peers", peers,
                    "--data-dir", str(work_dir / f"controller-{node}"),
                    *objects,
                    *controller_args,
                ],
                work_dir / f"controller-{node}.log",
                f"skiff controller ready: node {node} on ",
            )
            for node, addr in enumerate(self.controller_addrs, start=1)
        ]  # fmt: skip
        self.broker_addrs = [f"127.0.0.1:{free_port()}" for _ in range(BROKERS)]
        self.brokers = [
            ServerProcess(
                f"broker-{broker_id}",
                binary,
                [
                    "broker",
                    "--broker-id", str(broker_id),
                    "--controllers", ",".join(self.controller_addrs),
                    "--kafka-addr", addr,
                    "--data-dir", str(work_dir / f"broker-{broker_id}"),
                    # No disk cache: nothing to warm, less disk I/O on a small machine.
                    "--cache-disk-bytes", "0",
                    *objects,
                    *broker_args,
                ],
                work_dir / f"broker-{broker_id}.log",
                f"skiff broker ready: broker {broker_id}, Kafka on {addr}",
            )
            for broker_id, addr in enumerate(self.broker_addrs, start=1)
        ]  # fmt: skip

    @property
    def processes(self) -> list[ServerProcess]:
        return [*self.controllers, *self.brokers]

    @property
    def bootstrap(self) -> str:
        """Both brokers, as a client configured for failover would list them."""
        return ",".join(self.broker_addrs)

    def start(self) -> Cluster:
        for controller in self.controllers:
            controller.spawn()
        for controller in self.controllers:
            controller.wait_ready()
        for broker in self.brokers:
            broker.spawn()
        for broker in self.brokers:
            broker.wait_ready()
        return self

    def stop(self) -> None:
        """SIGTERM to every process, brokers first (they flush to the controllers), each must exit 0."""
        for process in [*self.brokers, *self.controllers]:
            if process.is_running():
                process.terminate()

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()

    def node_status(self, node: int, timeout_s: float = 2.0) -> dict | None:
        """GET /v1/status?format=json from controller `node` (1-based), or None if it does not answer."""
        if not self.controllers[node - 1].is_running():
            return None
        url = f"http://{self.controller_addrs[node - 1]}/v1/status?format=json"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    def controller_status(self, timeout_s: float = 2.0) -> dict | None:
        """The status from the first live controller that answers, or None."""
        for node in range(1, len(self.controllers) + 1):
            status = self.node_status(node, timeout_s)
            if status is not None:
                return status
        return None

    def leader_id(self, timeout_s: float = 30.0) -> int:
        """The controller leader's node id, once a live controller names one that is running."""

        def probe() -> int | None:
            status = self.controller_status()
            leader = status.get("leader") if status else None
            if leader is not None and self.controllers[int(leader) - 1].is_running():
                return int(leader)
            return None

        return wait_until(probe, timeout_s, "a controller leader that is running")
