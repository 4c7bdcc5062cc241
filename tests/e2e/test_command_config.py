"""`--command-config FILE` (issue 18): the `skiff` client commands and `skiff bench` log in to a
SASL_SSL `skiff dev` with a Kafka client properties file, as Kafka's tools do. The admin (a
super user, SCRAM-SHA-512 over TLS) creates a topic, a user and an ACL with the CLI and produces
with it; confluent-kafka reads back what the CLI wrote and the CLI reads what confluent-kafka
wrote; the new user logs in with PLAIN and sees only what its ACL allows; a wrong password and a
misspelt key fail with a clear message; the bench hands the file to librdkafka."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from harness.certificates import make_certificates
from harness.skiff_cli import cli_ok, run_cli
from harness.stores import FILE_STORE

ADMIN = ("admin", "admin-secret")
TIMEOUT_S = 30


def _properties(path: Path, ca: Path, mechanism: str, user: str, password: str) -> Path:
    path.write_text(
        "# written as for kafka-topics --command-config\n"
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={mechanism}\n"
        f"sasl.username={user}\n"
        f"sasl.password={password}\n"
        f"ssl.ca.location={ca}\n"
    )
    return path


@pytest.mark.timeout(240)
def test_cli_and_bench_use_a_command_config_against_sasl_ssl(
    skiff_factory, skiff_bin: Path, tmp_path: Path, topic_name: str
) -> None:
    certs = make_certificates(tmp_path)
    ca = certs / "ca.pem"
    skiff = skiff_factory(
        FILE_STORE, "--security-protocol", "SASL_SSL",
        "--tls-cert-file", str(certs / "broker.pem"), "--tls-key-file", str(certs / "broker.key"),
        "--advertised-addr", "localhost:0",
        "--add-scram", f"SCRAM-SHA-512=[name={ADMIN[0]},password={ADMIN[1]}]",
        "--super-users", "User:admin", "--authorizer", "acl",
    )  # fmt: skip
    bootstrap = f"localhost:{skiff.port}"
    admin = _properties(tmp_path / "admin.properties", ca, "SCRAM-SHA-512", *ADMIN)
    as_admin = ("--command-config", str(admin))

    cli_ok(skiff_bin, bootstrap, "topic", "create", topic_name, "--partitions", "1", *as_admin)
    cli_ok(skiff_bin, bootstrap, "produce", topic_name, *as_admin, stdin=b"one\ntwo\nthree\n")
    cli_ok(skiff_bin, bootstrap, "user", "create", "alice", "--password", "alice-secret", *as_admin)
    cli_ok(skiff_bin, bootstrap, "acl", "create", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", topic_name, *as_admin)  # fmt: skip
    cli_ok(skiff_bin, bootstrap, "acl", "create", "--allow-principal", "User:alice", "--operation", "Read",
           "--group", "alice-", "--resource-pattern-type", "prefixed", *as_admin)  # fmt: skip
    acls = json.loads(cli_ok(skiff_bin, bootstrap, "acl", "list", "--json", *as_admin))
    assert any(a.get("principal") == "User:alice" for a in (acls if isinstance(acls, list) else acls["acls"])), acls

    # confluent-kafka, configured with the same settings, reads what the CLI wrote and writes more.
    config = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
              "sasl.username": ADMIN[0], "sasl.password": ADMIN[1], "ssl.ca.location": str(ca)}  # fmt: skip
    consumer = Consumer({**config, "group.id": "admin-reader", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic_name, 0, 0)])
        got: list[bytes] = []
        for message in iter(lambda: consumer.poll(1.0), "never"):
            if message is not None and message.error() is None:
                got.append(message.value())
            if len(got) >= 3:
                break
    finally:
        consumer.close()
    assert got == [b"one", b"two", b"three"]
    producer = Producer(config)
    producer.produce(topic_name, b"four", partition=0)
    assert producer.flush(TIMEOUT_S) == 0

    # alice logs in with PLAIN (the same stored credential) and reads, as her ACL allows.
    alice = _properties(tmp_path / "alice.properties", ca, "PLAIN", "alice", "alice-secret")
    records = cli_ok(skiff_bin, bootstrap, "consume", topic_name, "--command-config", str(alice))
    assert records.decode().split() == ["one", "two", "three", "four"]
    listed = cli_ok(skiff_bin, bootstrap, "topic", "list", "--command-config", str(alice)).decode()
    assert topic_name in listed
    refused = run_cli(skiff_bin, bootstrap, "topic", "create", f"{topic_name}-alice", "--command-config", str(alice))
    assert refused.returncode != 0 and b"authoriz" in refused.stderr.lower(), refused.stderr

    wrong = _properties(tmp_path / "wrong.properties", ca, "SCRAM-SHA-256", "alice", "not-her-password")
    failed = run_cli(skiff_bin, bootstrap, "topic", "list", "--command-config", str(wrong))
    assert failed.returncode != 0
    assert b"SASL" in failed.stderr and b"authentication failed" in failed.stderr.lower(), failed.stderr
    plain = run_cli(skiff_bin, bootstrap, "topic", "list", "--timeout-ms", "5000")
    assert plain.returncode != 0 and plain.stderr, "a plaintext client on a SASL_SSL port fails"

    # A misspelt key is refused by name, before any connection, with its value (maybe a secret) not shown.
    typo = tmp_path / "typo.properties"
    typo.write_text(admin.read_text().replace("sasl.password=", "sasl.pasword="))
    misspelt = run_cli(skiff_bin, bootstrap, "topic", "list", "--command-config", str(typo))
    assert misspelt.returncode != 0 and b'"sasl.pasword"' in misspelt.stderr, misspelt.stderr
    assert ADMIN[1].encode() not in misspelt.stderr, misspelt.stderr
    # Not even a trace log or --help shows the password (the variable names only the file).
    env = {**os.environ, "SKIFF_LOG": "trace", "SKIFF_COMMAND_CONFIG": str(admin)}
    traced = subprocess.run([str(skiff_bin), "topic", "list", "--bootstrap", bootstrap], capture_output=True,
                            timeout=TIMEOUT_S, check=False, env=env)  # fmt: skip
    assert traced.returncode == 0 and topic_name in traced.stdout.decode(), traced.stderr[-2000:]
    assert b"SASL SCRAM-SHA-512 login as admin" in traced.stderr, "the trace log covers the login"
    assert ADMIN[1].encode() not in traced.stderr
    shown = subprocess.run([str(skiff_bin), "topic", "list", "--help"], capture_output=True, timeout=TIMEOUT_S,
                           check=True, env=env).stdout  # fmt: skip
    assert str(admin).encode() in shown and ADMIN[1].encode() not in shown

    # skiff bench's librdkafka has no OpenSSL: it says so rather than failing to connect.
    bench = run_cli(skiff_bin, bootstrap, "bench", "produce", "--topic", f"{topic_name}-bench", "--records", "1",
                    *as_admin)  # fmt: skip
    assert bench.returncode != 0 and b"built without OpenSSL" in bench.stderr, bench.stderr
    assert ADMIN[1].encode() not in bench.stderr


@pytest.mark.timeout(180)
def test_bench_hands_the_command_config_to_librdkafka(
    skiff_factory, skiff_bin: Path, tmp_path: Path, topic_name: str
) -> None:
    """`skiff bench` logs in over SASL_PLAINTEXT with PLAIN (what its librdkafka supports) with
    the same properties file; a wrong password and a misspelt key fail without showing it."""
    skiff = skiff_factory(
        FILE_STORE, "--security-protocol", "SASL_PLAINTEXT",
        "--add-scram", f"SCRAM-SHA-256=[name={ADMIN[0]},password={ADMIN[1]}]",
    )  # fmt: skip
    bootstrap = f"127.0.0.1:{skiff.port}"
    props = tmp_path / "bench.properties"
    props.write_text(
        f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username={ADMIN[0]}\nsasl.password={ADMIN[1]}\n"
    )
    bench = cli_ok(skiff_bin, bootstrap, "bench", "produce", "--topic", topic_name, "--partitions", "1",
                   "--records", "200", "--record-size", "100", "--json", "--command-config", str(props))  # fmt: skip
    assert json.loads(bench)["records"] == 200
    # The records are there, as a stock client logged in the same way reads them.
    config = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
              "sasl.username": ADMIN[0], "sasl.password": ADMIN[1], "group.id": "bench-check"}  # fmt: skip
    consumer = Consumer(config)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=TIMEOUT_S)
    finally:
        consumer.close()
    assert high - low >= 200, (low, high)

    wrong = tmp_path / "wrong.properties"
    wrong.write_text(props.read_text().replace(f"sasl.password={ADMIN[1]}", "sasl.password=not-the-password"))
    refused = run_cli(skiff_bin, bootstrap, "bench", "produce", "--topic", topic_name, "--records", "1",
                      "--connect-timeout", "5s", "--command-config", str(wrong))  # fmt: skip
    assert refused.returncode != 0 and b"error:" in refused.stderr, refused.stderr
    assert b"not-the-password" not in refused.stderr, refused.stderr
    typo = tmp_path / "typo.properties"
    typo.write_text(props.read_text().replace("sasl.password=", "sasl.pasword="))
    misspelt = run_cli(skiff_bin, bootstrap, "bench", "produce", "--topic", topic_name, "--records", "1",
                       "--command-config", str(typo))  # fmt: skip
    assert misspelt.returncode != 0 and b"sasl.pasword" in misspelt.stderr, misspelt.stderr
    assert ADMIN[1].encode() not in misspelt.stderr, misspelt.stderr
