"""The `skiff` command for a person at a terminal and in a pipeline: every command that writes to
stdout ends quietly when its reader goes away (`| head -1`, exit 0, nothing on stderr, no panic),
and colour appears only on a terminal and never with NO_COLOR."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.server_process import free_port
from harness.skiff_cli import cli_ok
from harness.skiff_process import READY_MARKER, SkiffProcess

COMMAND_TIMEOUT_S = 60
ESC = b"\x1b["
# JSON consume output of this many records is well past the 8 KiB output buffer, so records are
# written while serde_json is still writing one (where a closed pipe once lost its kind).
RECORDS = 300


def closed_reader(argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, bytes]:
    """Runs argv with a stdout whose reader is gone before the first write (`cmd | true` that
    always loses the race): every write fails with EPIPE. Returns (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            list(argv),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    finally:
        os.close(write_end)
    return result.returncode, result.stderr


def one_line_reader(argv: Sequence[str]) -> tuple[bytes, int, bytes]:
    """`cmd | head -1`: reads one line, closes the pipe, and waits for the command to notice.
    Returns (the line, exit code, stderr)."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        proc.stdout.close()
        _, stderr = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return line, proc.returncode, stderr


@pytest.mark.timeout(400)
def test_every_command_that_writes_to_stdout_ends_quietly_when_its_reader_goes_away(
    skiff: SkiffProcess, skiff_bin: Path, topic_name: str
) -> None:
    bootstrap = ("--bootstrap", skiff.bootstrap)
    skiff_cmd = [str(skiff_bin)]
    cli_ok(skiff_bin, skiff.bootstrap, "topic", "create", topic_name, "--partitions", "3")
    lines = b"".join(b"key-%d:value %d %s\n" % (i, i, b"x" * 80) for i in range(RECORDS))
    cli_ok(skiff_bin, skiff.bootstrap, "produce", topic_name, "--key-separator", ":", stdin=lines)
    group = f"{topic_name}-g"
    cli_ok(skiff_bin, skiff.bootstrap, "consume", topic_name, "--group", group, "--from-beginning", "-n", "5")
    for extra in ("doomed-topic", "grown-topic"):
        cli_ok(skiff_bin, skiff.bootstrap, "topic", "create", f"{topic_name}-{extra}")
    cli_ok(skiff_bin, skiff.bootstrap, "consume", topic_name, "--group", f"{group}-doomed", "-n", "1")

    # Every command with output, by what it writes: streams of records, tables, JSON, one-line
    # confirmations of a change. Each runs once with its reader already gone.
    commands: list[tuple[list[str], bytes | None]] = [
        (["--help"], None),
        (["--version"], None),
        (["topic", "--help"], None),
        (["completions", "bash"], None),
        (["completions", "zsh"], None),
        (["completions", "fish"], None),
        (["consume", topic_name, *bootstrap], None),
        (["consume", topic_name, "--print-keys", "--print-offsets", *bootstrap], None),
        (["consume", topic_name, "--format", "json", *bootstrap], None),
        (["consume", topic_name, "--json", "--base64", *bootstrap], None),
        (["consume", topic_name, "--group", f"{group}-pipe", "--from-beginning", "--format", "json", *bootstrap], None),
        (["consume", topic_name, "--follow", "--partition", "0", *bootstrap], None),
        (["produce", topic_name, *bootstrap], b"one more\n"),
        (["produce", topic_name, "--json", *bootstrap], b"and another\n"),
        (["topic", "list", *bootstrap], None),
        (["topic", "list", "--json", *bootstrap], None),
        (["topic", "describe", topic_name, *bootstrap], None),
        (["topic", "describe", topic_name, "--json", *bootstrap], None),
        (["topic", "create", f"{topic_name}-new", *bootstrap], None),
        (["topic", "alter-config", topic_name, "--set", "max.message.bytes=2000000", *bootstrap], None),
        (["topic", "add-partitions", f"{topic_name}-grown-topic", "--to", "2", *bootstrap], None),
        (["topic", "delete", f"{topic_name}-doomed-topic", *bootstrap], None),
        (["group", "list", *bootstrap], None),
        (["group", "list", "--json", *bootstrap], None),
        (["group", "describe", group, *bootstrap], None),
        (["group", "describe", group, "--json", *bootstrap], None),
        (["group", "reset-offsets", group, "--topic", topic_name, "--to-earliest", "--dry-run", *bootstrap], None),
        (["group", "delete", f"{group}-doomed", *bootstrap], None),
        (["cluster", "status", *bootstrap], None),
        (["cluster", "status", "--json", *bootstrap], None),
        (["bench", "produce", "--topic", f"{topic_name}-bench", "--partitions", "1", "--records", "50",
          "--record-size", "100", *bootstrap], None),
    ]  # fmt: skip
    failures = []
    for args, stdin in commands:
        code, stderr = closed_reader([*skiff_cmd, *args], stdin)
        if code != 0 or stderr:
            failures.append(f"skiff {' '.join(args)}: exit {code}, stderr {stderr.decode(errors='replace')!r}")
    assert not failures, "\n".join(failures)

    # `| head -1` on commands with more than a pipe buffer's worth or a stream of output.
    for args in (
        ["completions", "bash"],
        ["completions", "zsh"],
        ["consume", topic_name, *bootstrap],
        ["consume", topic_name, "--format", "json", *bootstrap],
        ["consume", topic_name, "--group", f"{group}-head", "--from-beginning", "--format", "json", *bootstrap],
        ["consume", topic_name, "--follow", *bootstrap],
    ):
        line, code, stderr = one_line_reader([*skiff_cmd, *args])
        assert line.endswith(b"\n"), f"skiff {' '.join(args)} printed {line!r}"
        assert (code, stderr) == (0, b""), f"skiff {' '.join(args)}: exit {code}, stderr {stderr.decode(errors='replace')!r}"


def read_until(fd: int, marker: bytes, timeout_s: float) -> bytes:
    """Reads a pty's master side until `marker` appears (or EOF / the deadline)."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def env_with(**overrides: str | None) -> dict[str, str]:
    """The test's environment without the variables that decide colour, but for what is asked."""
    env = dict(os.environ)
    # `CI` too: anstream (like clap) colours a terminal on CI machines whatever TERM says.
    for key in ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "SKIFF_LOG", "CI"):
        env.pop(key, None)
    # A terminal that supports colour (CI machines may have no TERM at all).
    env["TERM"] = "xterm-256color"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def dev_log(skiff_bin: Path, data_dir: Path, stderr_to_pty: bool, env: dict[str, str]) -> bytes:
    """Starts `skiff dev`, takes what it logged up to its ready line, stops it with Ctrl-C."""
    bootstrap = f"127.0.0.1:{free_port()}"
    argv = [str(skiff_bin), "dev", "--data-dir", str(data_dir), "--kafka-addr", bootstrap]
    marker = f"{READY_MARKER}".encode()
    if stderr_to_pty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        try:
            log = read_until(master, marker, 60)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
            log += read_until(master, b"\x00never", 1)
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert marker in log, log[-2000:]
        return log
    log_path = data_dir.with_suffix(".log")
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env)
    try:
        deadline = time.monotonic() + 60
        while marker not in log_path.read_bytes():
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return log_path.read_bytes()


@pytest.mark.timeout(240)
def test_colour_only_on_a_terminal_and_never_with_no_color(skiff_bin: Path, tmp_path: Path) -> None:
    # `skiff dev > log 2>&1`: plain text, whatever the environment says about colour.
    to_file = dev_log(skiff_bin, tmp_path / "file", stderr_to_pty=False, env=env_with())
    assert ESC not in to_file, to_file[:2000]
    # On a terminal the log is coloured, unless NO_COLOR is set to anything non-empty.
    on_tty = dev_log(skiff_bin, tmp_path / "tty", stderr_to_pty=True, env=env_with())
    assert ESC in on_tty, on_tty[:2000]
    no_color = dev_log(skiff_bin, tmp_path / "no-color", stderr_to_pty=True, env=env_with(NO_COLOR="1"))
    assert ESC not in no_color, no_color[:2000]
    dumb = dev_log(skiff_bin, tmp_path / "dumb", stderr_to_pty=True, env=env_with(TERM="dumb"))
    assert ESC not in dumb, dumb[:2000]

    # Clap's usage errors follow the same rule.
    def usage_error(on_tty: bool, env: dict[str, str]) -> bytes:
        argv = [str(skiff_bin), "topic", "list", "--no-such-flag"]
        if not on_tty:
            result = subprocess.run(argv, capture_output=True, env=env, timeout=COMMAND_TIMEOUT_S, check=False)
            assert result.returncode == 2
            return result.stderr
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        try:
            text = read_until(master, b"\x00never", 30)
            assert proc.wait(timeout=30) == 2
        finally:
            os.close(master)
        return text

    assert ESC in usage_error(True, env_with()), "clap colours its errors on a terminal"
    assert ESC not in usage_error(True, env_with(NO_COLOR="1"))
    plain = usage_error(False, env_with())
    assert ESC not in plain and b"--no-such-flag" in plain, plain


def test_produce_from_a_terminal_says_how_to_end(skiff: SkiffProcess, skiff_bin: Path, topic_name: str) -> None:
    cli_ok(skiff_bin, skiff.bootstrap, "topic", "create", topic_name)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(skiff_bin), "produce", topic_name, "--bootstrap", skiff.bootstrap],
        stdin=slave, stdout=slave, stderr=slave, env=env_with(NO_COLOR="1"),
    )  # fmt: skip
    os.close(slave)
    try:
        prompt = read_until(master, b"Ctrl-D", 30)
        assert b"one per line; Ctrl-D sends them and ends" in prompt, prompt
        os.write(master, b"typed by hand\n\x04")
        summary = read_until(master, b"produced 1 record", 30)
        assert proc.wait(timeout=30) == 0, summary
        assert b"produced 1 record" in summary, summary
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cli_ok(skiff_bin, skiff.bootstrap, "consume", topic_name) == b"typed by hand\n"
