"""SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) over SASL_PLAINTEXT and SASL_SSL with stock
clients (confluent-kafka, kafka-python): the first user from --add-scram, a user created with
AdminClient.alter_user_scram_credentials, and clean failures (wrong password, unknown user, a
plaintext client on a SASL port) that leave the broker serving everyone else."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    NewTopic,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

from harness.certificates import make_certificates
from harness.skiff_cli import cli_ok, run_cli
from harness.stores import FILE_STORE

ADMIN = ("admin", "admin-secret")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
RECORDS = 10
TIMEOUT_S = 30


@pytest.fixture(params=["SASL_PLAINTEXT", "SASL_SSL"])
def secured(request, skiff_factory, tmp_path: Path):
    """A skiff dev on the protocol, with admin created by --add-scram for both SCRAM mechanisms."""
    protocol = request.param
    args = ["--security-protocol", protocol, "--super-users", "User:admin"]
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        args += ["--add-scram", f"{mechanism}=[name={ADMIN[0]},password={ADMIN[1]}]"]
    ca = None
    if protocol == "SASL_SSL":
        certs = make_certificates(tmp_path)
        ca = str(certs / "ca.pem")
        args += ["--tls-cert-file", str(certs / "broker.pem"), "--tls-key-file", str(certs / "broker.key")]
        # Clients check the certificate against the name they connect to: a host name, as in
        # production (port 0: the bound port).
        args += ["--advertised-addr", "localhost:0"]
    skiff = skiff_factory(FILE_STORE, *args)
    return skiff, protocol, ca


def bootstrap(skiff, ca: str | None) -> str:
    return f"localhost:{skiff.port}" if ca else skiff.bootstrap


def confluent_config(skiff, protocol: str, ca: str | None, mechanism: str, user: str, password: str) -> dict:
    config = {
        "bootstrap.servers": bootstrap(skiff, ca),
        "security.protocol": protocol,
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }
    if ca:
        config["ssl.ca.location"] = ca
    return config


def kafka_python_config(skiff, protocol: str, ca: str | None, mechanism: str, user: str, password: str) -> dict:
    config = {
        "bootstrap_servers": bootstrap(skiff, ca),
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
        "request_timeout_ms": TIMEOUT_S * 1000,
    }
    if ca:
        config["ssl_cafile"] = ca
    return config


def confluent_roundtrip(config: dict, topic: str) -> list[bytes]:
    values = [f"{topic}-{i}".encode() for i in range(RECORDS)]
    producer = Producer(config)
    errors: list[str] = []
    for value in values:
        producer.produce(topic, value, partition=0, on_delivery=lambda e, _m: e and errors.append(str(e)))
    assert producer.flush(TIMEOUT_S) == 0, "records left unacknowledged"
    assert errors == []
    consumer = Consumer({**config, "group.id": f"g-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        for message in iter(lambda: consumer.poll(1.0), "never"):
            if message is not None and message.error() is None:
                got.append(message.value())
            if len(got) >= len(values):
                break
        return got
    finally:
        consumer.close()


def kafka_python_roundtrip(config: dict, topic: str) -> list[bytes]:
    values = [f"{topic}-kp-{i}".encode() for i in range(RECORDS)]
    producer = KafkaProducer(**config)
    try:
        for future in [producer.send(topic, value, partition=0) for value in values]:
            future.get(timeout=TIMEOUT_S)
    finally:
        producer.close()
    consumer = KafkaConsumer(**config, consumer_timeout_ms=TIMEOUT_S * 1000)
    try:
        partition = KpTopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        got = []
        for record in consumer:
            if record.value.startswith(f"{topic}-kp-".encode()):
                got.append(record.value)
            if len(got) >= len(values):
                break
        return got
    finally:
        consumer.close()


def create_topic(config: dict, topic: str) -> None:
    admin = AdminClient(config)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(TIMEOUT_S)


def refused(config: dict) -> set[int]:
    """The error codes librdkafka reports for a client that must not get in (it must not)."""
    codes: set[int] = set()
    admin = AdminClient({**config, "error_cb": lambda error: codes.add(error.code())})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=1)
    admin.poll(0.2)  # serves error_cb
    return codes


def test_stock_clients_log_in_with_every_mechanism(secured, topic_name: str) -> None:
    skiff, protocol, ca = secured
    admin_config = confluent_config(skiff, protocol, ca, "SCRAM-SHA-512", *ADMIN)
    create_topic(admin_config, topic_name)
    for mechanism in MECHANISMS:
        config = confluent_config(skiff, protocol, ca, mechanism, *ADMIN)
        topic = f"{topic_name}-{mechanism.lower()}"
        create_topic(config, topic)
        sent = [f"{topic}-{i}".encode() for i in range(RECORDS)]
        assert confluent_roundtrip(config, topic) == sent, f"confluent-kafka over {protocol} with {mechanism}"
        kp = kafka_python_config(skiff, protocol, ca, mechanism, *ADMIN)
        assert kafka_python_roundtrip(kp, topic) == [f"{topic}-kp-{i}".encode() for i in range(RECORDS)], (
            f"kafka-python over {protocol} with {mechanism}"
        )


def test_users_created_with_the_admin_api_log_in_and_bad_logins_fail_cleanly(secured, topic_name: str) -> None:
    skiff, protocol, ca = secured
    admin_config = confluent_config(skiff, protocol, ca, "SCRAM-SHA-256", *ADMIN)
    admin = AdminClient(admin_config)
    create_topic(admin_config, topic_name)
    upsert = UserScramCredentialUpsertion("alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), b"alice-pw")
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(TIMEOUT_S)
    described = admin.describe_user_scram_credentials(["alice"])["alice"].result(TIMEOUT_S)
    infos = described.scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in infos] == [(ScramMechanism.SCRAM_SHA_512, 8192)]

    alice = confluent_config(skiff, protocol, ca, "SCRAM-SHA-512", "alice", "alice-pw")
    assert confluent_roundtrip(alice, topic_name) == [f"{topic_name}-{i}".encode() for i in range(RECORDS)]
    alice_plain = confluent_config(skiff, protocol, ca, "PLAIN", "alice", "alice-pw")
    assert admin.list_topics(timeout=10).topics  # the admin connection stays up meanwhile
    assert topic_name in AdminClient(alice_plain).list_topics(timeout=10).topics, "PLAIN checks the SCRAM credential"

    # Wrong password, unknown user, a mechanism the user has no credential for: refused.
    for mechanism, user, password in [
        ("SCRAM-SHA-512", "alice", "wrong"),
        ("PLAIN", "alice", "wrong"),
        ("SCRAM-SHA-256", "mallory", "alice-pw"),
        ("SCRAM-SHA-256", "alice", "alice-pw"),
    ]:
        codes = refused(confluent_config(skiff, protocol, ca, mechanism, user, password))
        assert KafkaError._AUTHENTICATION in codes, f"{mechanism} {user}: {codes}"

    # A client without SASL on the SASL port gets nowhere.
    plaintext = {"bootstrap.servers": bootstrap(skiff, ca)}
    if ca:
        plaintext.update({"security.protocol": "SSL", "ssl.ca.location": ca})
    refused(plaintext)

    # Deleting the credential stops new logins; the broker kept serving the admin throughout.
    deletion = admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion("alice", ScramMechanism.SCRAM_SHA_512)]
    )
    for future in deletion.values():
        future.result(TIMEOUT_S)
    assert KafkaError._AUTHENTICATION in refused(alice)
    assert topic_name in admin.list_topics(timeout=10).topics
    with open(skiff.log_path) as log:
        # Skiff's own lines: the harness's header repeats the command line, --add-scram included.
        text = "".join(line for line in log if not line.startswith("==== harness"))
    assert "alice-pw" not in text and "admin-secret" not in text, "secrets never reach the log"
    # Failed logins and failed TLS handshakes share one rate-limited warning per client address:
    # over SASL_SSL a client that hung up mid-handshake may have taken this interval's line.
    assert re.search(r"(SASL authentication|TLS handshake) failed; closing the connection", text)


def test_skiff_user_commands_manage_credentials_that_survive_a_restart(skiff_factory, skiff_bin, topic_name: str) -> None:
    # The CLI has no client security settings yet, so users are made on a PLAINTEXT listener;
    # the same data dir then serves SASL and the users log in.
    skiff = skiff_factory(FILE_STORE)
    cli_ok(skiff_bin, skiff.bootstrap, "user", "create", "bob", "--password", "bob-pw", "--mechanism", "SCRAM-SHA-512")
    cli_ok(skiff_bin, skiff.bootstrap, "user", "create", "carol", "--password", "carol-pw", "--iterations", "8192")
    listed = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "user", "list", "--json"))
    assert listed == {"users": [
        {"user": "bob", "credentials": [{"mechanism": "SCRAM-SHA-512", "iterations": 4096}]},
        {"user": "carol", "credentials": [{"mechanism": "SCRAM-SHA-256", "iterations": 8192}]},
    ]}
    weak = run_cli(skiff_bin, skiff.bootstrap, "user", "create", "dave", "--password", "x", "--iterations", "1000")
    assert weak.returncode != 0 and b"UNACCEPTABLE_CREDENTIAL" in weak.stderr.upper().replace(b" ", b"_"), weak.stderr
    cli_ok(skiff_bin, skiff.bootstrap, "user", "delete", "carol")
    listed = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "user", "list", "--json"))
    assert [u["user"] for u in listed["users"]] == ["bob"]

    skiff.extra_args += ["--security-protocol", "SASL_PLAINTEXT"]
    skiff.restart()
    bob = confluent_config(skiff, "SASL_PLAINTEXT", None, "SCRAM-SHA-512", "bob", "bob-pw")
    create_topic(bob, topic_name)
    assert confluent_roundtrip(bob, topic_name) == [f"{topic_name}-{i}".encode() for i in range(RECORDS)]
    carol = confluent_config(skiff, "SASL_PLAINTEXT", None, "SCRAM-SHA-256", "carol", "carol-pw")
    assert KafkaError._AUTHENTICATION in refused(carol)
