"""One `skiff dev` process under test: start on a free port, wait for readiness, stop, restart, kill."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

READY_MARKER = "skiff dev ready: Kafka on "
STOPPED_MARKER = "stopped"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

# Loaded before any fork: loading a library in the child of a multi-threaded parent (librdkafka
# runs threads) can deadlock on the loader lock.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # A pytest killed by a timeout must not leave brokers running on the machine.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SkiffError(AssertionError):
    """skiff did not start, stop or exit the way a test required; the message carries its log tail."""


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
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.extra_args = list(extra_args)
        self.env = dict(env if env is not None else os.environ)
        # tracing-subscriber honours NO_COLOR: keeps escape codes out of the log we search and show.
        self.env["NO_COLOR"] = "1"
        self.ready_timeout_s = ready_timeout_s
        # The key prefix this skiff writes segments under, when its store is a bucket.
        self.object_prefix = object_prefix
        self.port: int | None = None
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset_at_start = 0

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise SkiffError("skiff has not been started, so it has no address yet")
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

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
                if attempt < attempts and "in use" in self._log_since_start():
                    continue
                raise
        raise SkiffError("unreachable: start attempts exhausted")

    def _spawn_and_wait_ready(self) -> None:
        self.starts += 1
        args = [
            str(self.binary),
            "dev",
            "--data-dir",
            str(self.data_dir),
            "--kafka-addr",
            self.bootstrap,
            *self.extra_args,
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"==== harness: start #{self.starts}: {' '.join(args)}\n".encode())
            log.flush()
            self._log_offset_at_start = log.tell()
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        ready_line = f"{READY_MARKER}{self.bootstrap}"
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if ready_line in self._log_since_start():
                return
            exit_code = self._proc.poll()
            if exit_code is not None:
                raise SkiffError(
                    f"skiff exited with code {exit_code} before it was ready on {self.bootstrap}\n{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                self._kill_now()
                raise SkiffError(
                    f"skiff did not log '{ready_line}' within {self.ready_timeout_s:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGINT, then require a clean exit: code 0 and the `stopped` line (skiff flushes first)."""
        proc = self._require_process()
        proc.send_signal(signal.SIGINT)
        try:
            exit_code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._kill_now()
            raise SkiffError(f"skiff did not exit within {timeout_s:.0f} s of SIGINT\n{self.log_tail()}") from None
        if exit_code != 0:
            raise SkiffError(f"skiff exited with code {exit_code} after SIGINT (expected 0)\n{self.log_tail()}")
        if STOPPED_MARKER not in self._log_since_start():
            raise SkiffError(f"skiff exited 0 after SIGINT without logging '{STOPPED_MARKER}'\n{self.log_tail()}")

    def restart(self) -> SkiffProcess:
        """Clean stop, then start again on the same data dir and port."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye — what a crash looks like to the data dir."""
        self._require_process()
        self._kill_now()

    def _kill_now(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise SkiffError("skiff was never started")
        if self._proc.poll() is not None:
            raise SkiffError(f"skiff is not running (it exited with code {self._proc.returncode})\n{self.log_tail()}")
        return self._proc

    def _log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset_at_start)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 50) -> str:
        """The last `lines` lines of the log (all starts), as text for a failure message."""
        try:
            with open(self.log_path, "rb") as log:
                tail = deque(log, maxlen=lines)
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        text = b"".join(tail).decode("utf-8", errors="replace")
        return f"--- last {len(tail)} lines of {self.log_path} ---\n{ANSI_ESCAPE.sub('', text)}"
