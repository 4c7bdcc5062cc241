"""`skiff store check` and the controller's start-up check, on LocalStack (tests/run's) and on moto
(started here): a fresh bucket passes, a lifecycle rule that expires Skiff's prefix fails with a
data-risk finding and exit 1, and `skiff controller` refuses such a bucket unless given
--allow-unsafe-store."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio.commonconfig import ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from harness.moto import moto_server
from harness.server_process import ServerProcess, free_port
from harness.stores import S3Settings

CHECK_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def moto_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Settings]:
    """moto's S3 server from this venv (moto[server]), in memory, on a free port."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server(log) as endpoint:
        settings = S3Settings(endpoint, "skiff-moto", "test", "test", "us-east-1")
        settings.minio_client().make_bucket(settings.bucket)
        yield settings


@pytest.fixture(params=["localstack", "moto"])
def server(request: pytest.FixtureRequest) -> S3Settings:
    return request.getfixturevalue("s3_settings" if request.param == "localstack" else "moto_settings")


def s3_flags(settings: S3Settings) -> list[str]:
    return [
        "--s3-endpoint", settings.endpoint, "--s3-region", settings.region,
        "--s3-access-key-id", settings.access_key_id, "--s3-secret-access-key", settings.secret_access_key,
    ]  # fmt: skip


def new_bucket(settings: S3Settings) -> str:
    bucket = f"skiff-check-{uuid.uuid4().hex[:12]}"
    settings.minio_client().make_bucket(bucket)
    return bucket


def expire_prefix(settings: S3Settings, bucket: str, prefix: str, days: int) -> None:
    rule = Rule(ENABLED, rule_filter=Filter(prefix=f"{prefix}/"), rule_id="expire-old-data", expiration=Expiration(days=days))
    settings.minio_client().set_bucket_lifecycle(bucket, LifecycleConfig([rule]))


def store_check(skiff_bin: Path, url: str, settings: S3Settings, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(skiff_bin), "store", "check", url, *s3_flags(settings), *extra],
        capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False,
    )  # fmt: skip


def test_a_fresh_bucket_passes(skiff_bin: Path, server: S3Settings) -> None:
    bucket = new_bucket(server)
    result = store_check(skiff_bin, f"s3://{bucket}/skiff", server)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("bucket", "write", "create-only-put", "read", "list", "delete", "lifecycle"):
        assert f"PASS  {check}" in result.stdout, result.stdout
    assert "412 Precondition Failed" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("result: the bucket is safe for Skiff")

    as_json = store_check(skiff_bin, f"s3://{bucket}/skiff", server, "--json")
    report = json.loads(as_json.stdout)
    assert (as_json.returncode, report["ok"], report["risks_data"]) == (0, True, False)
    assert report["store"] == f"s3://{bucket}/skiff"
    assert {f["check"] for f in report["findings"] if f["status"] == "pass"} >= {"create-only-put", "lifecycle"}


def test_an_expiry_on_the_prefix_fails_as_a_data_risk(skiff_bin: Path, server: S3Settings) -> None:
    bucket = new_bucket(server)
    expire_prefix(server, bucket, "skiff", days=30)

    result = store_check(skiff_bin, f"s3://{bucket}/skiff", server)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'FAIL  lifecycle' in result.stdout and 'rule "expire-old-data" expires objects under skiff/ after 30 days' in result.stdout
    assert result.stderr.strip() == (
        "error: 1 check(s) failed, 1 of them risk acknowledged data: do not run Skiff on this bucket as it is"
    )
    report = json.loads(store_check(skiff_bin, f"s3://{bucket}/skiff", server, "--json").stdout)
    assert (report["ok"], report["risks_data"]) == (False, True)
    [risk] = [f for f in report["findings"] if f["status"] == "fail"]
    assert (risk["check"], risk["risk"]) == ("lifecycle", "data_loss")

    # The same rule on another prefix of the bucket cannot touch Skiff's objects.
    assert store_check(skiff_bin, f"s3://{bucket}/other", server).returncode == 0


def test_bad_input_gets_one_clear_error(skiff_bin: Path, s3_settings: S3Settings) -> None:
    not_s3 = store_check(skiff_bin, "file:///tmp/objects", s3_settings)
    assert (not_s3.returncode, not_s3.stderr.strip()) == (
        1, "error: store check applies to s3:// object stores, not file:///tmp/objects"
    )
    missing = store_check(skiff_bin, f"s3://skiff-no-such-bucket-{uuid.uuid4().hex[:8]}/skiff", s3_settings)
    assert missing.returncode == 1
    assert "FAIL  bucket" in missing.stdout and "does not exist" in missing.stdout, missing.stdout


def controller(skiff_bin: Path, tmp_path: Path, settings: S3Settings, url: str, *extra: str) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        "controller",
        skiff_bin,
        ["controller", "--node-id", "1", "--listen", f"127.0.0.1:{port}", "--peers", f"1=127.0.0.1:{port}",
         "--data-dir", str(tmp_path / "controller"), "--object-store", url, *s3_flags(settings), *extra],
        tmp_path / "controller.log",
        "skiff controller ready: node 1",
    )  # fmt: skip


def test_a_controller_refuses_a_bucket_that_expires_its_data(skiff_bin: Path, tmp_path: Path, s3_settings: S3Settings) -> None:
    bucket = new_bucket(s3_settings)
    expire_prefix(s3_settings, bucket, "cluster", days=7)

    # Refused before it ever listens: the process exits 1 by itself.
    port = free_port()
    refused = subprocess.run(
        [str(skiff_bin), "controller", "--node-id", "1", "--listen", f"127.0.0.1:{port}", "--peers", f"1=127.0.0.1:{port}",
         "--data-dir", str(tmp_path / "refused"), "--object-store", f"s3://{bucket}/cluster", *s3_flags(s3_settings)],
        capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert f"refusing to start on s3://{bucket}/cluster" in refused.stderr, refused.stderr
    assert "expires objects under cluster/ after 7 days" in refused.stderr, refused.stderr
    assert "--allow-unsafe-store" in refused.stderr, refused.stderr

    allowed = controller(skiff_bin, tmp_path, s3_settings, f"s3://{bucket}/cluster", "--allow-unsafe-store")
    allowed.spawn()
    try:
        allowed.wait_ready()
        assert "starting anyway (--allow-unsafe-store)" in allowed.log_since_start()
    finally:
        allowed.terminate()


def test_a_controller_starts_on_a_safe_bucket_after_checking_it(skiff_bin: Path, tmp_path: Path, s3_settings: S3Settings) -> None:
    bucket = new_bucket(s3_settings)
    node = controller(skiff_bin, tmp_path, s3_settings, f"s3://{bucket}/cluster")
    node.spawn()
    try:
        node.wait_ready()
        log = node.log_since_start()
        assert "store check passed" in log and "create-only" in log, log
    finally:
        node.terminate()
