"""kafkajs 2.2.4 (node), a Kafka client with its own protocol code, against `skiff dev`: the admin
client creates the topic, the producer writes keyed records with headers to both partitions,
and a consumer group reads every one back, over PLAINTEXT, over SASL_PLAINTEXT with each
mechanism, and over SASL_SSL with the broker's certificate checked against a test CA."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from harness.certificates import make_certificates
from harness.stores import FILE_STORE

COUNT = 40
USER = ("js-user", "js-secret")
# kafkajs names the mechanisms in lower case.
MECHANISMS = {"PLAIN": "plain", "SCRAM-SHA-256": "scram-sha-256", "SCRAM-SHA-512": "scram-sha-512"}


@pytest.fixture(scope="module")
def roundtrip_script() -> Path:
    script = os.environ.get("SKIFF_TEST_KAFKAJS")
    if not script:
        message = "kafkajs is not installed (tests/run installs it with npm ci into tests/e2e/kafkajs)"
        if os.environ.get("SKIFF_REQUIRE_KAFKAJS"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Path(script)


def roundtrip(script: Path, brokers: str, **extra) -> None:
    topic = f"kafkajs-{uuid.uuid4().hex[:8]}"
    settings = {"brokers": [brokers], "topic": topic, "group": f"{topic}-group", "count": COUNT, **extra}
    result = subprocess.run(["node", str(script), json.dumps(settings)], capture_output=True, text=True,
                            timeout=90, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    acked = {(a["partition"], int(a["baseOffset"])) for a in out["acks"]}
    assert {p for p, _ in acked} == {0, 1}
    read = out["read"]
    assert sorted(r["key"] for r in read) == sorted(f"k{i}" for i in range(COUNT))
    for record in read:
        n = int(record["key"][1:])
        assert record["value"] == f"v{n}" and record["n"] == str(n) and record["partition"] == n % 2
    for partition in (0, 1):
        offsets = sorted(r["offset"] for r in read if r["partition"] == partition)
        assert offsets == list(range(len(offsets))), f"partition {partition}: {offsets}"


def sasl_args(protocol: str) -> list[str]:
    args = ["--security-protocol", protocol]
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        args += ["--add-scram", f"{mechanism}=[name={USER[0]},password={USER[1]}]"]
    return args


@pytest.mark.timeout(120)
def test_kafkajs_produces_and_consumes_in_a_group(skiff_factory, roundtrip_script: Path) -> None:
    skiff = skiff_factory(FILE_STORE)
    roundtrip(roundtrip_script, skiff.bootstrap)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("mechanism", list(MECHANISMS))
def test_kafkajs_over_sasl_plaintext(skiff_factory, roundtrip_script: Path, mechanism: str) -> None:
    skiff = skiff_factory(FILE_STORE, *sasl_args("SASL_PLAINTEXT"))
    sasl = {"mechanism": MECHANISMS[mechanism], "username": USER[0], "password": USER[1]}
    roundtrip(roundtrip_script, skiff.bootstrap, sasl=sasl)


@pytest.mark.timeout(120)
def test_kafkajs_over_sasl_ssl(skiff_factory, roundtrip_script: Path, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    skiff = skiff_factory(
        FILE_STORE, *sasl_args("SASL_SSL"), "--tls-cert-file", str(certs / "broker.pem"),
        "--tls-key-file", str(certs / "broker.key"), "--advertised-addr", "localhost:0",
    )  # fmt: skip
    sasl = {"mechanism": "scram-sha-512", "username": USER[0], "password": USER[1]}
    roundtrip(roundtrip_script, f"localhost:{skiff.port}", sasl=sasl, ca=str(certs / "ca.pem"))


@pytest.mark.timeout(60)
def test_kafkajs_with_a_wrong_password_is_refused(skiff_factory, roundtrip_script: Path) -> None:
    skiff = skiff_factory(FILE_STORE, *sasl_args("SASL_PLAINTEXT"))
    topic = f"kafkajs-{uuid.uuid4().hex[:8]}"
    settings = {"brokers": [skiff.bootstrap], "topic": topic, "group": topic, "count": 1,
                "sasl": {"mechanism": "scram-sha-256", "username": USER[0], "password": "wrong"}}  # fmt: skip
    result = subprocess.run(["node", str(roundtrip_script), json.dumps(settings)], capture_output=True, text=True,
                            timeout=50, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "SASL SCRAM SHA256 authentication failed" in result.stderr or "SASL_AUTHENTICATION_FAILED" in result.stderr, (
        result.stderr
    )
