"""`skiff consume TOPIC --group GROUP --follow --format json` as a background process whose
records arrive on a queue, and `skiff group describe --json`, for tests that put the skiff
consumer in one group with stock consumers."""

from __future__ import annotations

import ctypes
import json
import queue
import signal
import subprocess
import threading
from pathlib import Path

from .skiff_cli import cli_ok, run_cli

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 60.0


def _die_with_parent() -> None:
    # A pytest killed by its timeout must not leave consumers running.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class SkiffGroupConsumer:
    """One running `skiff consume --group`; `drain()` returns the records printed so far."""

    def __init__(self, binary: Path, bootstrap: str, topic: str, group: str, *extra_args: str) -> None:
        self._proc = subprocess.Popen(
            [str(binary), "consume", topic, "--group", group, "--follow", "--format", "json",
             "--bootstrap", bootstrap, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        self._records: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._records.put(json.loads(line))

    def drain(self) -> list[dict]:
        records = []
        while True:
            try:
                records.append(self._records.get_nowait())
            except queue.Empty:
                return records

    def exited(self) -> int | None:
        return self._proc.poll()

    def stop(self) -> tuple[int, str]:
        """Ctrl-C (commit and leave the group), then the exit code and stderr."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            _, stderr = self._proc.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            _, stderr = self._proc.communicate()
            raise AssertionError(f"skiff consume did not exit within {STOP_TIMEOUT_S:.0f} s of SIGINT") from None
        self._reader.join(timeout=STOP_TIMEOUT_S)
        return self._proc.returncode, stderr.decode(errors="replace")

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()


def describe_group(binary: Path, bootstrap: str, group: str) -> dict:
    return json.loads(cli_ok(binary, bootstrap, "group", "describe", group, "--json"))


def try_describe_group(binary: Path, bootstrap: str, group: str) -> dict | None:
    """The description, or None while the group does not exist yet."""
    result = run_cli(binary, bootstrap, "group", "describe", group, "--json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def assigned_partitions(member: dict) -> set[int]:
    return {p for topic in member["assignment"] for p in topic["partitions"]}
