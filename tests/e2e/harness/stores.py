"""The object stores a skiff under test can write to, and how to look inside them afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

S3_ENDPOINT_UNSET = (
    "SKIFF_TEST_S3_ENDPOINT is unset: S3 tests need an S3-compatible endpoint "
    "(tests/run starts LocalStack and sets it; or export SKIFF_TEST_S3_ENDPOINT, SKIFF_TEST_S3_BUCKET "
    "and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY yourself)"
)
NO_DOCKER = "no Docker daemon: MinIO container tests skipped; the same scenarios ran against LocalStack"
SEGMENT_SUFFIX = ".seg"


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str
    # The server's pid when the test may pause it (LocalStack under tests/run), else None.
    server_pid: int | None = None

    @staticmethod
    def from_env() -> S3Settings | None:
        endpoint = os.environ.get("SKIFF_TEST_S3_ENDPOINT")
        if not endpoint:
            return None
        pid = os.environ.get("SKIFF_TEST_S3_PID")
        return S3Settings(
            endpoint=endpoint,
            bucket=os.environ.get("SKIFF_TEST_S3_BUCKET", "skiff-test"),
            access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            region=os.environ.get("AWS_REGION", "us-east-1"),
            server_pid=int(pid) if pid and pid.isdigit() else None,
        )

    def minio_client(self):
        # The MinIO SDK is a plain S3 client (SigV4); it talks to LocalStack as well as to MinIO.
        from minio import Minio

        host = self.endpoint.split("://", 1)[-1].rstrip("/")
        return Minio(
            host,
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            region=self.region,
            secure=self.endpoint.startswith("https://"),
        )


@dataclass(frozen=True)
class StoreConfig:
    """Where one skiff under test keeps its segments: `file` (its data dir) or an S3 bucket prefix."""

    kind: str  # "file", "s3" (LocalStack) or "minio"
    s3: S3Settings | None = None

    def skiff_args(self, prefix: str) -> list[str]:
        if self.s3 is None:
            return []  # skiff's default: file://<data-dir>/objects
        return [
            "--object-store",
            f"s3://{self.s3.bucket}/{prefix}",
            "--s3-endpoint",
            self.s3.endpoint,
            "--s3-region",
            self.s3.region,
            "--s3-access-key-id",
            self.s3.access_key_id,
            "--s3-secret-access-key",
            self.s3.secret_access_key,
        ]

    def segment_objects(self, data_dir: Path, prefix: str) -> list[str]:
        """Names of the segment objects skiff wrote, read from the store itself (not through skiff)."""
        if self.s3 is None:
            root = data_dir / "objects"
            return sorted(str(p.relative_to(root)) for p in root.rglob(f"*{SEGMENT_SUFFIX}"))
        client = self.s3.minio_client()
        return sorted(
            obj.object_name
            for obj in client.list_objects(self.s3.bucket, prefix=f"{prefix}/", recursive=True)
            if obj.object_name.endswith(SEGMENT_SUFFIX)
        )


def docker_daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


FILE_STORE = StoreConfig(kind="file")
