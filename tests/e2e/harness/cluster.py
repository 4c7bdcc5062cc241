"""A distributed Skiff under test: 3 `skiff controller` + 2 (or more) `skiff broker` processes on
free ports.

Every process keeps its ports and data dir across restarts (clients and peers know those
addresses), logs to its own file (appended across starts, after a marker line) and dies with
pytest: each is a `server_process.ServerProcess`, as `skiff dev` is inside `SkiffProcess`.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .certificates import controller_tls_args, make_controller_certificates
from .controller_auth import authorization, read_secret, write_secret
from .deadlines import wait_until
from .server_process import ServerProcess, free_port
from .stores import StoreConfig

CONTROLLERS = 3
BROKERS = 2


class Cluster:
    """3 controllers + `brokers` brokers (2 unless told) sharing one object store (a bucket prefix
    of its own).

    Ports are chosen once with free_port(); a port taken by someone else between choosing and
    binding makes the start fail with the process's log, which is rare enough on loopback.

    Every process gets the same `--cluster-secret-file` (a random secret under `work_dir`), so
    the controller API is authenticated as in production; `secret=False` runs it open.
    `tls=True` also serves the controller API over TLS with client certificates (one CA, one
    certificate for 127.0.0.1 that every process presents).
    """

    def __init__(
        self,
        binary: Path,
        work_dir: Path,
        store: StoreConfig,
        object_prefix: str,
        broker_args: Sequence[str] = (),
        controller_args: Sequence[str] = (),
        brokers: int = BROKERS,
        secret: bool = True,
        tls: bool = False,
    ) -> None:
        self.store = store
        self.object_prefix = object_prefix
        env = {name: value for name, value in os.environ.items() if name != "SKIFF_LOG"}
        work_dir.mkdir(parents=True, exist_ok=True)
        self.secret_file = write_secret(work_dir / "cluster-secret") if secret else None
        # What every command talking to the controllers needs (`archive run`, `controller admin`):
        # the secret, and with tls=True the certificate flags.
        self.secret_args = ["--cluster-secret-file", str(self.secret_file)] if self.secret_file else []
        self.tls_paths = make_controller_certificates(work_dir / "controller-tls") if tls else None
        if self.tls_paths is not None:
            self.secret_args += controller_tls_args(self.tls_paths)
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
                    *self.secret_args,
                    *objects,
                    *controller_args,
                ],
                work_dir / f"controller-{node}.log",
                f"skiff controller ready: node {node} on ",
                env,
            )
            for node, addr in enumerate(self.controller_addrs, start=1)
        ]  # fmt: skip
        self.broker_addrs = [f"127.0.0.1:{free_port()}" for _ in range(brokers)]
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
                    *self.secret_args,
                    *objects,
                    *broker_args,
                ],
                work_dir / f"broker-{broker_id}.log",
                f"skiff broker ready: broker {broker_id}, Kafka on {addr}",
                env,
            )
            for broker_id, addr in enumerate(self.broker_addrs, start=1)
        ]  # fmt: skip

    @property
    def processes(self) -> list[ServerProcess]:
        return [*self.controllers, *self.brokers]

    @property
    def bootstrap(self) -> str:
        """Every broker, as a client configured for failover would list them."""
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
        path = "/v1/status?format=json"
        scheme = "https" if self.tls_paths else "http"
        request = urllib.request.Request(f"{scheme}://{self.controller_addrs[node - 1]}{path}")
        if self.secret_file is not None:
            request.add_header("Authorization", authorization(read_secret(self.secret_file), "GET", path))
        try:
            with urllib.request.urlopen(request, timeout=timeout_s, context=self.tls_context()) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    def tls_context(self) -> ssl.SSLContext | None:
        """What a client of the controller API presents and trusts, with `tls=True`."""
        if self.tls_paths is None:
            return None
        context = ssl.create_default_context(cafile=str(self.tls_paths["ca"]))
        context.load_cert_chain(str(self.tls_paths["node.pem"]), str(self.tls_paths["node.key"]))
        return context

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
