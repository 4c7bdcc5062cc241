"""The controller API over TLS with client certificates (issue 18): 3 controllers and 2 brokers
with `--controller-tls-*` and no cluster secret, so the certificates alone authenticate. A
plain-HTTP request, a TLS client without a certificate and one with another CA's certificate
get no answer; `skiff controller admin` works only with a certificate the cluster's CA signed;
a broker whose certificate another CA signed exits with a clear message and never joins; and
confluent-kafka produces and consumes through the cluster."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness import confluent_client
from harness.certificates import make_controller_certificates
from harness.cluster import Cluster
from harness.deadlines import wait_until
from harness.server_process import ServerProcess, free_port
from harness.stores import FILE_STORE

TIMEOUT_S = 30
RECORDS = 500


def _status_reachable(url: str, context: ssl.SSLContext | None) -> bool:
    """Whether GET `url` gets any HTTP answer (a refused handshake or connection gets none)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=context) as response:
            return response.status > 0
    except urllib.error.HTTPError:
        return True
    except (OSError, http.client.HTTPException):
        # Refused handshakes (ssl.SSLError), resets, and TLS alert bytes that are no HTTP reply.
        return False


def _broker_ids(cluster: Cluster) -> set[int]:
    admin = confluent_client.admin(cluster.bootstrap)
    return set(admin.list_topics(timeout=TIMEOUT_S).brokers)


@pytest.mark.timeout(300)
def test_controller_api_with_mutual_tls(tmp_path: Path, skiff_bin: Path) -> None:
    work = tmp_path / "cluster"
    cluster = Cluster(skiff_bin, work, FILE_STORE, "unused", secret=False, tls=True)
    other = make_controller_certificates(tmp_path / "other", ("intruder",))
    assert cluster.tls_paths is not None
    wrong_broker: ServerProcess | None = None
    try:
        cluster.start()
        assert wait_until(lambda: _broker_ids(cluster) == {1, 2} or None, TIMEOUT_S, "brokers 1 and 2 live")
        addr = cluster.controller_addrs[0]
        url = f"https://{addr}/v1/status?format=json"

        # With the cluster's certificate: answered (the harness's own status, over TLS).
        assert cluster.leader_id() in (1, 2, 3)
        assert _status_reachable(url, cluster.tls_context())
        # Plain HTTP, no client certificate, another CA's certificate: no HTTP answer at all.
        assert not _status_reachable(f"http://{addr}/v1/status", None)
        no_certificate = ssl.create_default_context(cafile=str(cluster.tls_paths["ca"]))
        assert not _status_reachable(url, no_certificate)
        foreign = ssl.create_default_context(cafile=str(cluster.tls_paths["ca"]))
        foreign.load_cert_chain(str(other["intruder.pem"]), str(other["intruder.key"]))
        assert not _status_reachable(url, foreign)

        admin = [str(skiff_bin), "controller", "admin", "-c", ",".join(cluster.controller_addrs), "--json", "status"]
        plain = subprocess.run(admin, capture_output=True, timeout=TIMEOUT_S, check=False)
        assert plain.returncode != 0, plain.stdout.decode()
        ca_only = ["--controller-tls-client-ca-file", str(cluster.tls_paths["ca"])]
        refused = subprocess.run([*admin, *ca_only], capture_output=True, timeout=TIMEOUT_S, check=False)
        assert refused.returncode != 0
        assert "TLS with" in refused.stderr.decode() and "--controller-tls" in refused.stderr.decode(), refused.stderr
        allowed = subprocess.run([*admin, *cluster.secret_args], capture_output=True, timeout=TIMEOUT_S, check=False)
        assert allowed.returncode == 0, allowed.stderr.decode()
        status = json.loads(allowed.stdout)
        assert status["leader"] in (1, 2, 3)
        assert all(node["reachable"] for node in status["nodes"]), status

        broker_addr = f"127.0.0.1:{free_port()}"
        wrong_broker = ServerProcess(
            "broker-3",
            skiff_bin,
            ["broker", "--broker-id", "3", "--controllers", ",".join(cluster.controller_addrs),
             "--kafka-addr", broker_addr, "--data-dir", str(work / "broker-3"), "--cache-disk-bytes", "0",
             "--object-store", f"file://{work / 'objects'}",
             "--controller-tls-cert-file", str(other["intruder.pem"]),
             "--controller-tls-key-file", str(other["intruder.key"]),
             "--controller-tls-client-ca-file", str(cluster.tls_paths["ca"])],
            work / "broker-3.log",
            f"skiff broker ready: broker 3, Kafka on {broker_addr}",
        )  # fmt: skip
        wrong_broker.spawn()
        (exit_code,) = wait_until(
            lambda: None if wrong_broker.exit_code() is None else (wrong_broker.exit_code(),),
            60,
            "the broker with another CA's certificate to exit",
        )
        assert exit_code != 0
        log = wrong_broker.log_since_start()
        assert "refused" in log and "--controller-tls" in log, wrong_broker.log_tail()
        assert _broker_ids(cluster) == {1, 2}, "the refused broker is not in the metadata"

        confluent_client.create_topic(cluster.bootstrap, "over-tls", 3)
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "enable.idempotence": True, "linger.ms": 5})
        errors: list[str] = []
        for i in range(RECORDS):
            producer.produce(
                "over-tls",
                key=f"k{i}".encode(),
                value=f"v{i}".encode(),
                partition=i % 3,
                on_delivery=lambda error, _message: errors.append(str(error)) if error else None,
            )
        assert producer.flush(TIMEOUT_S) == 0
        assert errors == []
        ends = {partition: high for partition, (_, high) in confluent_client.watermarks(
            cluster.bootstrap, "over-tls", [0, 1, 2]).items()}  # fmt: skip
        assert sum(ends.values()) == RECORDS, ends
        records = confluent_client.consume(cluster.bootstrap, "over-tls", ends, TIMEOUT_S)
        assert sorted(r.value for r in records) == sorted(f"v{i}".encode() for i in range(RECORDS))
        cluster.stop()
    finally:
        if wrong_broker is not None:
            wrong_broker.kill()
        cluster.kill_all()
