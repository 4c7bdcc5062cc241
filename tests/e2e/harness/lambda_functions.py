"""Lambda functions for the trigger tests: the real runtime under `cargo lambda watch`, a
controllable fake speaking Lambda's Invoke API, and `skiff trigger` processes.

The fake answers `POST /2015-03-31/functions/<name>/invocations` the way Lambda does: 200 with
the function's answer, 200 with `X-Amz-Function-Error` for a function error, 404
`ResourceNotFoundException` for an unknown function. A test gives it a `respond` callable that
sees every event (parsed) and decides the answer, and can hold invocations to kill a trigger
mid-batch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .deadlines import wait_until
from .server_process import ServerProcess, free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
TRIGGER_READY = "trigger started"
# What `cargo lambda watch` compiles and runs: the README's example function.
EXAMPLE_FUNCTION = "orders-function"
EXAMPLE_DIR = REPO_ROOT / "examples" / "lambda-function"


@dataclass
class Invocation:
    function: str
    event: dict
    body_bytes: int
    at: float

    def records(self) -> list[dict]:
        return [record for records in self.event.get("records", {}).values() for record in records]

    def offsets(self) -> list[tuple[int, int]]:
        return [(r["partition"], r["offset"]) for r in self.records()]


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"null"
    function_error: str | None = None
    error_type: str | None = None


def ok(body: object = None) -> Answer:
    return Answer(body=json.dumps(body).encode())


def function_error(message: str) -> Answer:
    body = {"errorType": "Error", "errorMessage": message}
    return Answer(body=json.dumps(body).encode(), function_error="Unhandled")


Respond = Callable[[Invocation, int], Answer]


@dataclass
class FakeLambda:
    """A threaded HTTP server on 127.0.0.1 answering invocations of `functions`."""

    respond: Respond = field(default=lambda invocation, call: ok())
    functions: set[str] = field(default_factory=lambda: {"fake-fn"})
    invocations: list[Invocation] = field(default_factory=list)
    # The invocation with this number (1 = the first) waits for `release` before answering;
    # `held` is set while it waits.
    hold_call: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeLambda:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                match = INVOKE_PATH.match(self.path.split("?")[0])
                if match is None:
                    self._send(Answer(status=400, body=b'{"message":"not an invoke path"}'))
                    return
                name = urllib.request.unquote(match.group(1))
                if name not in fake.functions:
                    self._send(Answer(status=404, body=json.dumps({"Type": "User", "message": f"Function not found: {name}"}).encode(),
                                      error_type="ResourceNotFoundException"))  # fmt: skip
                    return
                invocation = Invocation(name, json.loads(body), len(body), time.monotonic())
                with fake._lock:
                    fake.invocations.append(invocation)
                    call = len(fake.invocations)
                if call == fake.hold_call:
                    fake.held.set()
                    fake.release.wait(timeout=120)
                self._send(fake.respond(invocation, call))

            def _send(self, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("X-Amz-Executed-Version", "$LATEST")
                if answer.function_error:
                    self.send_header("X-Amz-Function-Error", answer.function_error)
                if answer.error_type:
                    self.send_header("X-Amzn-ErrorType", answer.error_type)
                self.end_headers()
                try:
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the trigger went away (a test killed it)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def snapshot(self) -> list[Invocation]:
        with self._lock:
            return list(self.invocations)

    def delivered(self) -> set[tuple[int, int]]:
        """(partition, offset) of every record any invocation carried."""
        return {offset for invocation in self.snapshot() for offset in invocation.offsets()}

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def cargo_lambda_bin() -> Path | None:
    """The cargo-lambda tests/run installs (SKIFF_TEST_CARGO_LAMBDA), or one on PATH."""
    configured = os.environ.get("SKIFF_TEST_CARGO_LAMBDA")
    if configured:
        return Path(configured)
    venv = REPO_ROOT / ".venv-cargo-lambda" / "bin" / "cargo-lambda"
    if venv.exists():
        return venv
    found = shutil.which("cargo-lambda")
    return Path(found) if found else None


class CargoLambdaWatch:
    """`cargo lambda watch` on 127.0.0.1:<free port> in the example function's directory:
    Lambda's runtime API for that function, compiled on first invocation. Run there (not at the
    workspace root), cargo builds the package alone, without the features the workspace's
    other members turn on (the trigger's librdkafka and AWS SDK)."""

    def __init__(self, binary: Path, log_path: Path, extra: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ)
        env["PATH"] = f"{binary.parent}{os.pathsep}{env.get('PATH', '')}"
        env["NO_COLOR"] = "1"
        self._log = open(log_path, "ab")
        self._proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(self.port), "--ignore-changes", *extra],
            cwd=EXAMPLE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def invoke(self, function: str, event: dict, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            f"{self.endpoint}/2015-03-31/functions/{function}/invocations",
            data=json.dumps(event).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def wait_ready(self, function: str, timeout_s: float) -> None:
        """Waits for the listener, then for a first invocation to compile and answer."""

        def listening() -> bool:
            if self._proc.poll() is not None:
                raise AssertionError(f"cargo lambda watch exited with {self._proc.returncode}\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(listening, 60, "cargo lambda watch to listen")
        empty = {"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:1", "records": {}}
        status, _, body = self.invoke(function, empty, timeout_s)
        if status != 200:
            raise AssertionError(f"warm-up invocation of {function} answered {status}: {body[:500]!r}\n{self.log_tail()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self._proc.poll() is None:
            # The whole session: cargo, the function process it started, and watch itself.
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._log.close()


class TriggerProcess:
    """One `skiff trigger` process; ready once it logs that every trigger started."""

    def __init__(self, binary: Path, log_path: Path, args: Sequence[str], triggers: int = 1) -> None:
        self.triggers = triggers
        env = dict(os.environ)
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        env.setdefault("AWS_REGION", "us-east-1")
        # Never reach for EC2's metadata service from a test machine.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        self._server = ServerProcess("skiff trigger", binary, ["trigger", *args], log_path, TRIGGER_READY, env)

    @property
    def log_path(self) -> Path:
        return self._server.log_path

    def start(self, timeout_s: float = 60) -> TriggerProcess:
        self._server.spawn()
        wait_until(
            lambda: self._server.log_since_start().count(TRIGGER_READY) >= self.triggers or self._exited(),
            timeout_s,
            "skiff trigger to start",
        )
        self._server.require_running()
        return self

    def _exited(self) -> bool:
        self._server.require_running()
        return False

    def log(self) -> str:
        return self._server.log_since_start()

    def is_running(self) -> bool:
        return self._server.is_running()

    def stop(self) -> None:
        self._server.stop_with(signal.SIGTERM, 60)

    def kill(self) -> None:
        self._server.kill()

    def log_tail(self, lines: int = 50) -> str:
        return self._server.log_tail(lines)


def run_trigger_expecting_failure(binary: Path, args: Sequence[str], timeout_s: float = 60) -> tuple[int, str]:
    """Runs `skiff trigger ARGS` that must exit by itself; returns its exit code and stderr."""
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_REGION", "us-east-1")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["NO_COLOR"] = "1"
    result = subprocess.run([str(binary), "trigger", *args], capture_output=True, timeout=timeout_s, env=env, check=False)
    return result.returncode, result.stderr.decode(errors="replace")


def printed_orders(log: str) -> list[dict]:
    """The JSON lines the example function printed, one per order it processed."""
    orders = []
    for line in log.splitlines():
        start = line.find('{"amount"')
        if start < 0:
            continue
        try:
            orders.append(json.loads(line[start:]))
        except json.JSONDecodeError:
            continue
    return orders
