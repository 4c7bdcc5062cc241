"""The controller API with a cluster secret (issue 18): 3 controllers and 2 brokers share one
`--cluster-secret-file`; an unsigned request is refused with 401; `skiff controller admin`
works only with the secret; a broker with another secret cannot join (it exits with a clear
message and never shows in the metadata stock clients read), and one with the right secret
joins."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confluent_kafka.admin import ConfigResource

from harness import confluent_client
from harness.cluster import Cluster
from harness.controller_auth import write_secret
from harness.deadlines import wait_until
from harness.server_process import ServerProcess, free_port
from harness.stores import FILE_STORE

TIMEOUT_S = 30


def _unsigned(addr: str, method: str, path: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(f"http://{addr}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _extra_broker(skiff_bin: Path, cluster: Cluster, work: Path, broker_id: int, secret_file: Path) -> ServerProcess:
    addr = f"127.0.0.1:{free_port()}"
    return ServerProcess(
        f"broker-{broker_id}",
        skiff_bin,
        ["broker", "--broker-id", str(broker_id), "--controllers", ",".join(cluster.controller_addrs),
         "--kafka-addr", addr, "--data-dir", str(work / f"broker-{broker_id}"), "--cache-disk-bytes", "0",
         "--object-store", f"file://{work / 'objects'}", "--cluster-secret-file", str(secret_file)],
        work / f"broker-{broker_id}.log",
        f"skiff broker ready: broker {broker_id}, Kafka on {addr}",
    )  # fmt: skip


def _assert_secret_not_shown(cluster: Cluster, work: Path, skiff_bin: Path) -> None:
    """The secret is in no process's log, in no broker config a Kafka client can read, and not
    in `--help` (which shows only the file's path, from SKIFF_CLUSTER_SECRET_FILE)."""
    assert cluster.secret_file is not None
    secret = cluster.secret_file.read_text().strip()
    logs = sorted(work.glob("*.log"))
    assert len(logs) >= 5, logs
    for log in logs:
        assert secret not in log.read_text(errors="replace"), f"the secret is in {log}"
    admin = confluent_client.admin(cluster.bootstrap)
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "1")]).values()
    values = {name: entry.value or "" for name, entry in future.result(timeout=TIMEOUT_S).items()}
    assert values, "broker 1 describes its configs"
    assert not [name for name, value in values.items() if secret in value], values
    env = {**os.environ, "SKIFF_CLUSTER_SECRET_FILE": str(cluster.secret_file)}
    for command in (["broker"], ["controller"], ["controller", "admin"], ["dev"], ["archive", "run"]):
        shown = subprocess.run([str(skiff_bin), *command, "--help"], capture_output=True, timeout=TIMEOUT_S,
                               check=True, env=env).stdout.decode()  # fmt: skip
        assert "--cluster-secret-file" in shown and str(cluster.secret_file) in shown, (command, shown)
        assert secret not in shown, command


def _broker_ids(cluster: Cluster) -> set[int]:
    admin = confluent_client.admin(cluster.bootstrap)
    return set(admin.list_topics(timeout=TIMEOUT_S).brokers)


@pytest.mark.timeout(240)
def test_the_controller_api_needs_the_cluster_secret(tmp_path: Path, skiff_bin: Path) -> None:
    work = tmp_path / "cluster"
    cluster = Cluster(skiff_bin, work, FILE_STORE, "unused")
    extra: list[ServerProcess] = []
    try:
        cluster.start()
        assert wait_until(lambda: _broker_ids(cluster) == {1, 2} or None, TIMEOUT_S, "brokers 1 and 2 live")
        addr = cluster.controller_addrs[0]
        assert _unsigned(addr, "GET", "/v1/status?format=json") == 401
        assert _unsigned(addr, "GET", "/v1/snapshot") == 401
        assert _unsigned(addr, "POST", "/v1/propose", b"\x00\x01") == 401
        # The harness's own signed status (harness/controller_auth.py) is accepted.
        assert cluster.leader_id() in (1, 2, 3)

        admin = [str(skiff_bin), "controller", "admin", "-c", ",".join(cluster.controller_addrs), "--json", "status"]
        refused = subprocess.run(admin, capture_output=True, timeout=TIMEOUT_S, check=False)
        assert refused.returncode != 0
        assert "--cluster-secret-file" in refused.stderr.decode(), refused.stderr.decode()
        allowed = subprocess.run([*admin, *cluster.secret_args], capture_output=True, timeout=TIMEOUT_S, check=False)
        assert allowed.returncode == 0, allowed.stderr.decode()
        assert json.loads(allowed.stdout)["leader"] in (1, 2, 3)

        wrong = _extra_broker(skiff_bin, cluster, work, 3, write_secret(tmp_path / "wrong-secret"))
        extra.append(wrong)
        wrong.spawn()
        (exit_code,) = wait_until(
            lambda: None if wrong.exit_code() is None else (wrong.exit_code(),), 60, "the broker with the wrong secret to exit"
        )
        assert exit_code != 0
        log = wrong.log_since_start()
        assert "refused" in log and "--cluster-secret-file" in log, wrong.log_tail()
        assert _broker_ids(cluster) == {1, 2}, "the refused broker is not in the metadata"

        right = _extra_broker(skiff_bin, cluster, work, 4, cluster.secret_file)
        extra.append(right)
        right.spawn()
        right.wait_ready()
        assert wait_until(lambda: _broker_ids(cluster) == {1, 2, 4} or None, TIMEOUT_S, "broker 4 live")
        _assert_secret_not_shown(cluster, work, skiff_bin)
        right.terminate()
        cluster.stop()
    finally:
        for process in extra:
            process.kill()
        cluster.kill_all()


@pytest.mark.timeout(120)
def test_skiff_dev_controller_addr_with_a_secret(skiff_factory, skiff_bin: Path, tmp_path: Path) -> None:
    """`skiff dev --controller-addr` takes the same `--cluster-secret-file` (here through its
    variable, SKIFF_CLUSTER_SECRET_FILE, for the admin command): unsigned requests get 401 and
    `skiff controller admin status` works only with the secret."""
    secret = write_secret(tmp_path / "secret")
    controller_addr = f"127.0.0.1:{free_port()}"
    skiff_factory(FILE_STORE, "--controller-addr", controller_addr, "--cluster-secret-file", str(secret))
    assert _unsigned(controller_addr, "GET", "/v1/status") == 401
    argv = [str(skiff_bin), "controller", "admin", "-c", controller_addr, "--json", "status"]
    refused = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
    assert refused.returncode != 0 and "HTTP 401" in refused.stderr.decode(), refused.stderr.decode()
    env = {**os.environ, "SKIFF_CLUSTER_SECRET_FILE": str(secret)}
    allowed = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False, env=env)
    assert allowed.returncode == 0, allowed.stderr.decode()
    assert json.loads(allowed.stdout)["leader"] == 1
