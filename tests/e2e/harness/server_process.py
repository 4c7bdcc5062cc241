"""One long-running skiff server process (`skiff dev`, `skiff controller` or `skiff broker`).

Every start appends to the same log file after a marker line naming the attempt, so a test
searches only what this start logged while a failure report shows the whole history. The
process dies with pytest (PR_SET_PDEATHSIG).
"""

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

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
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


class ServerProcess:
    """A skiff server started with `args`, ready once it logs `ready_line`.

    `args` and `ready_line` may change between starts (a first start may have to move to
    another port); the log file and the start count carry over.
    """

    def __init__(
        self,
        name: str,
        binary: Path,
        args: Sequence[str],
        log_path: Path,
        ready_line: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.binary = Path(binary)
        self.args = list(args)
        self.log_path = Path(log_path)
        self.ready_line = ready_line
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset_at_start = 0
        self.env = dict(env if env is not None else os.environ)
        # tracing-subscriber honours NO_COLOR: keeps escape codes out of the log we search and show.
        self.env["NO_COLOR"] = "1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        """The exit code once the process has exited; None while it runs or before it started."""
        return self._proc.poll() if self._proc is not None else None

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
        """SIGTERM, then require a clean exit."""
        self.stop_with(signal.SIGTERM, timeout_s)

    def stop_with(self, sig: signal.Signals, timeout_s: float) -> None:
        """Sends `sig`, then requires a clean exit: code 0 and the `stopped` line."""
        proc = self.require_running()
        proc.send_signal(sig)
        try:
            exit_code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise SkiffError(f"{self.name} did not exit within {timeout_s:.0f} s of {sig.name}\n{self.log_tail()}") from None
        if exit_code != 0:
            raise SkiffError(f"{self.name} exited with code {exit_code} after {sig.name} (expected 0)\n{self.log_tail()}")
        if STOPPED_MARKER not in self.log_since_start():
            raise SkiffError(f"{self.name} exited 0 after {sig.name} without logging {STOPPED_MARKER!r}\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye. Nothing to do when the process is not running."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)

    def require_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise SkiffError(f"{self.name} was never started")
        if self._proc.poll() is not None:
            raise SkiffError(f"{self.name} is not running (it exited with code {self._proc.returncode})\n{self.log_tail()}")
        return self._proc

    def log_since_start(self) -> str:
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
