"""Runs the `skiff` client commands (topic, produce, consume, …) the way a person at a terminal
would, for tests that check them against stock clients."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CLI_TIMEOUT_S = 120.0


class SkiffCliError(AssertionError):
    """A `skiff` command exited differently than the test required."""


def run_cli(binary: Path, bootstrap: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`skiff ARGS --bootstrap BOOTSTRAP`, with a hard time limit; the caller checks the exit."""
    return subprocess.run(
        [str(binary), *args, "--bootstrap", bootstrap],
        input=stdin,
        capture_output=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def cli_ok(binary: Path, bootstrap: str, *args: str, stdin: bytes | None = None) -> bytes:
    """Runs a command that must succeed; returns its stdout."""
    result = run_cli(binary, bootstrap, *args, stdin=stdin)
    if result.returncode != 0:
        raise SkiffCliError(
            f"skiff {' '.join(args)} exited {result.returncode}\nstderr: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout


def cli_json_lines(binary: Path, bootstrap: str, *args: str) -> list[dict]:
    """Runs a command printing one JSON object per line (consume --format json)."""
    return [json.loads(line) for line in cli_ok(binary, bootstrap, *args).decode().splitlines()]
