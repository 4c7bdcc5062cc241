"""Fixtures for Skiff's end-to-end tests: skiff processes, object stores and the stock clients.

Environment (tests/run sets all of it):
  SKIFF_BIN               the skiff binary (default: <repo>/target/debug/skiff)
  SKIFF_TEST_S3_ENDPOINT  an S3-compatible endpoint; S3 tests are skipped without it
  SKIFF_TEST_S3_BUCKET    bucket for S3 tests (default skiff-test)
  SKIFF_TEST_S3_PID       pid of the S3 server, for the store-outage test (SIGSTOP/SIGCONT)
  SKIFF_TEST_S3_LOG       the S3 server's log, shown when an S3 test fails
  SKIFF_REQUIRE_S3        when set, a missing S3 endpoint fails the S3 tests instead of skipping them
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
"""

from __future__ import annotations

import os
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from harness.clients import CLIENT_NAMES, CLIENTS
from harness.cluster import Cluster
from harness.run_lock import held
from harness.skiff_process import SkiffProcess
from harness.stores import FILE_STORE, NO_DOCKER, S3_ENDPOINT_UNSET, S3Settings, StoreConfig, docker_daemon_answers

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL_LINES = 50
MINIO_BUCKET = "skiff-test"

SKIFF_PROCESSES = pytest.StashKey[list[SkiffProcess]]()
USED_STORES = pytest.StashKey[set[str]]()


def _safe_name(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:limit]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Under pytest-xdist, a test marked `exclusive` runs with no other test beside it. The lock
    is taken around the whole test, outside pytest-timeout's timer (this wrapper runs first),
    so time spent waiting for an exclusive test is not counted against the waiting one."""
    with held(exclusive=item.get_closest_marker("exclusive") is not None):
        return (yield)


@pytest.fixture(scope="session")
def skiff_bin() -> Path:
    binary = Path(os.environ.get("SKIFF_BIN") or REPO_ROOT / "target" / "debug" / "skiff")
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"no skiff binary at {binary}: run `cargo build -p skiff-cli` or set SKIFF_BIN", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def s3_settings() -> S3Settings:
    settings = S3Settings.from_env()
    if settings is None:
        if os.environ.get("SKIFF_REQUIRE_S3"):
            pytest.fail(f"SKIFF_REQUIRE_S3 is set (as tests/run does), but {S3_ENDPOINT_UNSET}", pytrace=False)
        pytest.skip(S3_ENDPOINT_UNSET)
    return settings


@pytest.fixture(scope="session")
def minio_settings() -> Iterator[S3Settings]:
    if not docker_daemon_answers():
        pytest.skip(NO_DOCKER)
    from testcontainers.community.minio import MinioContainer

    container = MinioContainer()
    # Docker publishes ports on every interface unless told an address (docker-py's one-element
    # tuple: this address, any free port); a test server stays reachable from this machine only.
    container.ports = {port: ("127.0.0.1",) for port in container.ports}
    with container:
        container.get_client().make_bucket(MINIO_BUCKET)
        config = container.get_config()
        yield S3Settings(
            endpoint=f"http://{config['endpoint']}",
            bucket=MINIO_BUCKET,
            access_key_id=config["access_key"],
            secret_access_key=config["secret_key"],
            region="us-east-1",
        )


@pytest.fixture
def store(request: pytest.FixtureRequest) -> StoreConfig:
    """The object store for the skiff under test; parametrise indirectly with "file", "s3", "minio"."""
    kind = getattr(request, "param", "file")
    request.node.stash.setdefault(USED_STORES, set()).add(kind)
    if kind == "file":
        return FILE_STORE
    if kind == "s3":
        return StoreConfig(kind="s3", s3=request.getfixturevalue("s3_settings"))
    if kind == "minio":
        return StoreConfig(kind="minio", s3=request.getfixturevalue("minio_settings"))
    raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture(params=CLIENT_NAMES)
def client(request: pytest.FixtureRequest) -> ModuleType:
    """Each stock client in turn: confluent-kafka (librdkafka), then kafka-python."""
    return CLIENTS[request.param]


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    return f"e2e-{_safe_name(request.node.name, 80)}-{uuid.uuid4().hex[:6]}"


SkiffFactory = Callable[..., SkiffProcess]


@pytest.fixture
def skiff_factory(request: pytest.FixtureRequest, tmp_path: Path, skiff_bin: Path) -> Iterator[SkiffFactory]:
    """Starts `skiff dev` processes: `skiff_factory(store, *extra_args)`. Each gets its own data dir
    and log under the test's tmp dir, and (for S3 stores) its own key prefix. Processes still
    running at the end are stopped with SIGINT, which must exit 0."""
    processes: list[SkiffProcess] = []
    request.node.stash[SKIFF_PROCESSES] = processes

    def start(store: StoreConfig = FILE_STORE, *extra_args: str) -> SkiffProcess:
        number = len(processes) + 1
        prefix = f"e2e/{_safe_name(request.node.name)}-{uuid.uuid4().hex[:8]}"
        process = SkiffProcess(
            binary=skiff_bin,
            data_dir=tmp_path / f"skiff-{number}",
            log_path=tmp_path / f"skiff-{number}.log",
            extra_args=[*store.skiff_args(prefix), *extra_args],
            object_prefix=prefix,
        )
        processes.append(process)
        return process.start()

    yield start

    for process in processes:
        if process.is_running():
            process.stop()


@pytest.fixture
def skiff(skiff_factory: SkiffFactory, store: StoreConfig) -> SkiffProcess:
    """One running skiff on the test's store (the file store unless `store` is parametrised)."""
    return skiff_factory(store)


# ---- Distributed Skiff (issue 4): 3 controllers + 2 brokers for the test_cluster_* fault tests ----

# Segments are flushed every 20 ms: keeps acks quick against LocalStack without a PUT per record.
CLUSTER_BROKER_ARGS = ("--flush-interval-ms", "20")


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path, skiff_bin: Path, s3_settings: S3Settings) -> Iterator[Cluster]:
    """A running cluster on the LocalStack S3 tests/run starts, under a key prefix of its own.
    Parametrise indirectly with {"broker_config": TOML} to give both brokers a --config file, and
    {"controller_args": [...]} for extra controller flags.
    Its logs join the failure report like skiff dev's; whatever still runs at the end is killed."""
    options = getattr(request, "param", {})
    broker_args = list(CLUSTER_BROKER_ARGS)
    if "broker_config" in options:
        config = tmp_path / "broker.toml"
        config.write_text(options["broker_config"])
        broker_args += ["--config", str(config)]
    request.node.stash.setdefault(USED_STORES, set()).add("s3")
    prefix = f"e2e/{_safe_name(request.node.name)}-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(skiff_bin, tmp_path / "cluster", StoreConfig(kind="s3", s3=s3_settings), prefix,
                      broker_args=broker_args, controller_args=options.get("controller_args", ()))  # fmt: skip
    # ServerProcess has the log_path/log_tail the report hook below reads.
    request.node.stash[SKIFF_PROCESSES] = cluster.processes  # type: ignore[assignment]
    try:
        yield cluster.start()
    finally:
        cluster.kill_all()


# ---- end of the cluster section ----


def _tail_of(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as handle:
            return b"".join(deque(handle, maxlen=lines)).decode("utf-8", errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.failed:
        for process in item.stash.get(SKIFF_PROCESSES, []):
            report.sections.append((f"skiff log {process.log_path.name}", process.log_tail(LOG_TAIL_LINES)))
        s3_log = os.environ.get("SKIFF_TEST_S3_LOG")
        if s3_log and "s3" in item.stash.get(USED_STORES, set()):
            report.sections.append((f"S3 server log {s3_log}", _tail_of(Path(s3_log), 20)))
    return report
