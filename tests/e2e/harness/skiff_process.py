"""One `skiff dev` process under test: start on a free port, wait for readiness, stop, restart, kill."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from .server_process import ServerProcess, SkiffError, free_port

READY_MARKER = "skiff dev ready: Kafka on "


class SkiffProcess:
    """A `skiff dev` process with its own data dir and log file.

    The port is picked once and kept across restarts, so clients reconnect to the same address.
    Every start appends to the same log, after a marker line naming the attempt.
    """

    def __init__(
        self,
        binary: Path,
        data_dir: Path,
        log_path: Path,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        ready_timeout_s: float = 60.0,
        object_prefix: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.ready_timeout_s = ready_timeout_s
        # The key prefix this skiff writes segments under, when its store is a bucket.
        self.object_prefix = object_prefix
        self.port: int | None = None
        # Arguments and ready line name the port, so they are filled in by each start.
        self._server = ServerProcess("skiff", binary, [], log_path, "", env)

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise SkiffError("skiff has not been started, so it has no address yet")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._server.log_path

    @property
    def starts(self) -> int:
        return self._server.starts

    @property
    def pid(self) -> int | None:
        return self._server.pid

    def is_running(self) -> bool:
        return self._server.is_running()

    def start(self) -> SkiffProcess:
        if self.is_running():
            raise SkiffError(f"skiff is already running on {self.bootstrap}")
        first_start = self.port is None
        # A port picked by binding to 0 can be taken by someone else before skiff binds it; only a
        # first start may move to another port (a restart must keep the address clients know).
        attempts = 3 if first_start else 1
        for attempt in range(1, attempts + 1):
            if first_start:
                self.port = free_port()
            try:
                self._spawn_and_wait_ready()
                return self
            except SkiffError:
                if attempt < attempts and "in use" in self._server.log_since_start():
                    continue
                raise
        raise SkiffError("unreachable: start attempts exhausted")

    def _spawn_and_wait_ready(self) -> None:
        self._server.name = f"skiff on {self.bootstrap}"
        self._server.args = ["dev", "--data-dir", str(self.data_dir), "--kafka-addr", self.bootstrap, *self.extra_args]
        self._server.ready_line = f"{READY_MARKER}{self.bootstrap}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server.spawn()
        self._server.wait_ready(self.ready_timeout_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGINT, then require a clean exit: code 0 and the `stopped` line (skiff flushes first)."""
        self._server.stop_with(signal.SIGINT, timeout_s)

    def restart(self) -> SkiffProcess:
        """Clean stop, then start again on the same data dir and port."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye — what a crash looks like to the data dir."""
        self._server.require_running()
        self._server.kill()

    def log_tail(self, lines: int = 50) -> str:
        """The last `lines` lines of the log (all starts), as text for a failure message."""
        return self._server.log_tail(lines)
