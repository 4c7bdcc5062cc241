"""Issue 15: `skiff archive run` (and, on its own, the archive job the controller leader plans for
a topic with skiff.archive.enable=true) turns a topic into an Iceberg table of Parquet files
in the object store, and engines read it with Skiff stopped: DuckDB (offline, extensions loaded
from the pinned wheels) with iceberg_scan over the table and read_parquet over the data files,
and pyarrow over the same files. Records come from confluent-kafka with every codec, keyed and
null keys, tombstones, headers (one with a null value) and bytes that are not UTF-8."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness.archive_table import duckdb_offline
from harness.cluster import Cluster
from harness.confluent_client import create_topic
from harness.deadlines import wait_until
from harness.server_process import free_port
from harness.skiff_cli import cli_ok
from harness.stores import FILE_STORE

PARTITIONS = 3
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PER_CODEC = 40


def _produce(bootstrap: str, topic: str) -> dict[tuple[int, int], dict]:
    """Produces every codec's records; returns what was acknowledged, by (partition, offset)."""
    acked: dict[tuple[int, int], dict] = {}
    errors: list[str] = []
    for codec in CODECS:
        producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20})
        for n in range(PER_CODEC):
            key = None if n % 4 == 0 else f"{codec}-key-{n}".encode()
            value = None if n % 7 == 3 else f"{codec}-value-{n}-".encode() + bytes([0xFF, 0x00, n])
            headers = [("trace", bytes([0xC3, 0x28, n])), ("nothing", None)] if n % 2 else []
            sent = {"key": key, "value": value, "headers": headers}

            def on_delivery(err, msg, sent=sent) -> None:  # noqa: ANN001
                if err is not None:
                    errors.append(str(err))
                    return
                _, timestamp = msg.timestamp()
                acked[(msg.partition(), msg.offset())] = {**sent, "timestamp_ms": timestamp}

            producer.produce(topic, value=value, key=key, headers=headers, partition=n % PARTITIONS,
                             on_delivery=on_delivery)  # fmt: skip
        assert producer.flush(60) == 0, "records left unacknowledged"
    assert errors == []
    return acked


def _archive_run(skiff_bin: Path, cluster: Cluster, topic: str, objects: Path) -> dict:
    result = subprocess.run(
        [str(skiff_bin), "archive", "run", topic, "--controllers", ",".join(cluster.controller_addrs),
         *cluster.secret_args, "--object-store", f"file://{objects}", "--json"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)


def _rows(con, source: str) -> dict[tuple[int, int], dict]:
    rows = con.execute(
        f"SELECT topic, partition, \"offset\", epoch_ms(\"timestamp\"), timestamp_type, key, value, headers FROM {source}"
    ).fetchall()
    out: dict[tuple[int, int], dict] = {}
    for topic, partition, offset, timestamp_ms, timestamp_type, key, value, headers in rows:
        assert (partition, offset) not in out, f"offset {partition}:{offset} twice"
        out[(partition, offset)] = {
            "topic": topic,
            "timestamp_type": timestamp_type,
            "key": bytes(key) if key is not None else None,
            "value": bytes(value) if value is not None else None,
            "headers": [(h["key"], bytes(h["value"]) if h["value"] is not None else None) for h in headers],
            "timestamp_ms": timestamp_ms,
        }
    return out


@pytest.mark.timeout(240)
def test_archive_run_writes_an_iceberg_table_duckdb_and_pyarrow_read_offline(
    tmp_path: Path, skiff_bin: Path, topic_name: str
) -> None:
    work = tmp_path / "cluster"
    cluster = Cluster(skiff_bin, work, FILE_STORE, "unused", broker_args=("--flush-interval-ms", "20"))
    objects = work / "objects"
    try:
        cluster.start()
        create_topic(cluster.bootstrap, topic_name, PARTITIONS, {"skiff.archive.enable": "true"})
        acked = _produce(cluster.bootstrap, topic_name)
        first = _archive_run(skiff_bin, cluster, topic_name, objects)
        assert first["archived"] is True and first["rows"] == len(acked)
        # Nothing new: a second run commits nothing.
        assert _archive_run(skiff_bin, cluster, topic_name, objects)["archived"] is False
        cluster.stop()
    finally:
        cluster.kill_all()

    table = objects / "archive" / topic_name
    assert (table / "metadata" / "version-hint.text").read_text() == "2"
    assert (table / "metadata" / "v2.metadata.json").is_file()
    data_files = sorted(table.glob("data/partition=*/date=*/*.parquet"))
    assert data_files, "no data files in Hive-style folders"

    expected = {
        at: {"topic": topic_name, "timestamp_type": "CREATE_TIME", **sent} for at, sent in acked.items()
    }
    con = duckdb_offline()
    from_table = _rows(con, f"iceberg_scan('{table}')")
    assert from_table == expected
    from_files = _rows(con, f"read_parquet('{table}/data/**/*.parquet')")
    assert from_files == expected
    for partition in range(PARTITIONS):
        offsets = sorted(o for (p, o) in from_table if p == partition)
        assert offsets == list(range(len(offsets))), f"partition {partition} offsets are not contiguous from 0"

    import pyarrow.parquet as pq

    # No Hive partitioning: the folder names repeat columns the files already hold.
    read = pq.read_table([str(f) for f in data_files], partitioning=None)
    assert read.column_names == ["topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value",
                                 "headers"]  # fmt: skip
    assert read.num_rows == len(acked)
    assert sorted(zip(read.column("partition").to_pylist(), read.column("offset").to_pylist())) == sorted(acked)
    metadata = pq.ParquetFile(data_files[0]).metadata
    columns = [metadata.row_group(0).column(i) for i in range(metadata.row_group(0).num_columns)]
    by_name = {c.path_in_schema: c for c in columns}
    assert by_name["offset"].compression == "ZSTD"
    assert by_name["offset"].statistics.has_min_max and by_name["timestamp"].statistics.has_min_max


@pytest.mark.timeout(120)
def test_skiff_dev_archives_on_its_own_and_duckdb_reads_the_table_offline(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    """No `archive run`: `skiff dev --archive-all-topics --archive-interval-ms 1000` archives a topic
    created without any config by itself (the leader plans the job, the broker runs it), `skiff
    archive status --json` says when it caught up, and DuckDB reads exactly what was acknowledged
    with Skiff stopped. A topic created with skiff.archive.enable=false is left alone."""
    skiff = skiff_factory(
        FILE_STORE, "--archive-all-topics", "--archive-interval-ms", "1000", "--flush-interval-ms", "20"
    )
    create_topic(skiff.bootstrap, topic_name, PARTITIONS)
    create_topic(skiff.bootstrap, f"{topic_name}-off", 1, {"skiff.archive.enable": "false"})
    acked = _produce(skiff.bootstrap, topic_name)

    def caught_up() -> dict | None:
        status = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", topic_name, "--json"))
        (topic,) = status["topics"]
        ends = sum(p["end_offset"] for p in topic["partitions"])
        return topic if topic["lag_records"] == 0 and ends == len(acked) else None

    status = wait_until(caught_up, 60, "the archive job to take every record", interval_s=0.2)
    assert [p["archived_until"] for p in status["partitions"]] == [
        1 + max(o for (p, o) in acked if p == partition) for partition in range(PARTITIONS)
    ]
    # Every archiving topic is listed when none is named; the one that opted out is not.
    listed = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", "--json"))
    assert [t["topic"] for t in listed["topics"]] == [topic_name]
    skiff.stop()

    table = skiff.data_dir / "objects" / "archive" / topic_name
    assert status["metadata_location"].endswith(f"/v{status['metadata_version']}.metadata.json")
    assert (table / "metadata" / "version-hint.text").read_text() == str(status["metadata_version"])
    expected = {
        at: {"topic": topic_name, "timestamp_type": "CREATE_TIME", **sent} for at, sent in acked.items()
    }
    con = duckdb_offline()
    assert _rows(con, f"iceberg_scan('{table}')") == expected


@pytest.mark.timeout(120)
def test_archive_retention_leaves_old_records_out_and_duckdb_reads_the_rest(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    """skiff.archive.retention.ms: records whose timestamps passed it leave the table (whole
    Parquet files, in a delete snapshot Skiff writes by hand), the others stay, and DuckDB reads
    the result offline. A bad value is refused with INVALID_CONFIG naming the key."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    from harness.confluent_client import admin

    skiff = skiff_factory(FILE_STORE, "--archive-interval-ms", "1000", "--flush-interval-ms", "20")
    day_ms = 24 * 3600 * 1000
    client = admin(skiff.bootstrap)  # outlives its futures
    bad = client.create_topics(
        [NewTopic(f"{topic_name}-bad", 1, 1, config={"skiff.archive.retention.ms": "-2"})]
    )
    with pytest.raises(KafkaException) as refused:
        bad[f"{topic_name}-bad"].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert "skiff.archive.retention.ms" in refused.value.args[0].str()

    create_topic(skiff.bootstrap, topic_name, 2,
                 {"skiff.archive.enable": "true", "skiff.archive.retention.ms": str(5 * day_ms)})  # fmt: skip
    import time

    now_ms = int(time.time() * 1000)
    acked: dict[tuple[int, int], int] = {}
    producer = Producer({"bootstrap.servers": skiff.bootstrap, "linger.ms": 5})

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        acked[(msg.partition(), msg.offset())] = msg.timestamp()[1]

    for n in range(20):
        # Partition 0: ten days old, past the archive's retention; partition 1: an hour old.
        old = n % 2 == 0
        producer.produce(topic_name, value=f"v{n}".encode(), partition=0 if old else 1,
                         timestamp=now_ms - (10 * day_ms if old else 3_600_000), on_delivery=on_delivery)  # fmt: skip
    assert producer.flush(30) == 0

    def caught_up() -> dict | None:
        status = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", topic_name, "--json"))
        (topic,) = status["topics"]
        ends = sum(p["end_offset"] for p in topic["partitions"])
        return topic if topic["lag_records"] == 0 and ends == len(acked) else None

    wait_until(caught_up, 60, "the archive job to take every record", interval_s=0.2)
    skiff.stop()

    table = skiff.data_dir / "objects" / "archive" / topic_name
    con = duckdb_offline()
    rows = con.execute(f"SELECT partition, \"offset\", epoch_ms(\"timestamp\") FROM iceberg_scan('{table}')").fetchall()
    expected = sorted((p, o, ts) for (p, o), ts in acked.items() if p == 1)
    assert sorted(rows) == expected
    operation = con.execute(
        f"SELECT operation FROM iceberg_snapshots('{table}') ORDER BY timestamp_ms DESC LIMIT 1"
    ).fetchall()
    assert operation == [("delete",)]


@pytest.mark.timeout(120)
def test_archive_commits_register_the_table_in_glue(
    skiff_factory, skiff_bin: Path, topic_name: str, tmp_path: Path
) -> None:
    """--archive-glue-database: after each archive commit the topic's table in (moto's) Glue is an
    Iceberg table whose metadata_location is the committed metadata, with the previous one kept in
    previous_metadata_location, as Athena expects; the name is the topic's, made Glue-safe."""
    import boto3

    from harness.moto import moto_server

    with moto_server(tmp_path / "moto.log") as endpoint:
        glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        glue.create_database(DatabaseInput={"Name": "skiff_archive"})
        skiff = skiff_factory(
            FILE_STORE, "--archive-interval-ms", "500", "--flush-interval-ms", "20",
            "--archive-glue-database", "skiff_archive", "--archive-glue-endpoint", endpoint,
        )  # fmt: skip
        topic = f"{topic_name}.Orders-EU"
        create_topic(skiff.bootstrap, topic, 2, {"skiff.archive.enable": "true"})
        glue_name = topic.lower().replace(".", "_").replace("-", "_")

        def archived(count: int) -> dict | None:
            status = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", topic, "--json"))
            (state,) = status["topics"]
            ends = sum(p["end_offset"] for p in state["partitions"])
            return state if state["lag_records"] == 0 and ends == count else None

        def glue_parameters(location: str) -> dict | None:
            try:
                table = glue.get_table(DatabaseName="skiff_archive", Name=glue_name)["Table"]
            except glue.exceptions.EntityNotFoundException:
                return None
            return table if table["Parameters"].get("metadata_location") == location else None

        producer = Producer({"bootstrap.servers": skiff.bootstrap})
        for n in range(10):
            producer.produce(topic, value=f"v{n}".encode(), partition=n % 2)
        assert producer.flush(30) == 0
        first = wait_until(lambda: archived(10), 60, "the first archive commit", interval_s=0.2)
        table = wait_until(lambda: glue_parameters(first["metadata_location"]), 30, "the Glue table", interval_s=0.2)
        assert table["Parameters"]["table_type"] == "ICEBERG"
        assert table["TableType"] == "EXTERNAL_TABLE"
        assert table["StorageDescriptor"]["Location"].endswith(f"/archive/{topic}")
        assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
            "topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers"
        ]  # fmt: skip

        for n in range(10, 16):
            producer.produce(topic, value=f"v{n}".encode(), partition=n % 2)
        assert producer.flush(30) == 0
        second = wait_until(lambda: archived(16), 60, "the second archive commit", interval_s=0.2)
        assert second["metadata_location"] != first["metadata_location"]
        table = wait_until(lambda: glue_parameters(second["metadata_location"]), 30, "the Glue update", interval_s=0.2)
        # The commit before the second: the first, or one between them if the records came in two.
        previous = table["Parameters"]["previous_metadata_location"]

        def version(location: str) -> int:
            return int(location.rsplit("/v", 1)[1].removesuffix(".metadata.json"))

        assert version(first["metadata_location"]) <= version(previous) < version(second["metadata_location"])
        skiff.stop()


@pytest.mark.timeout(180)
def test_many_small_archive_commits_are_compacted_and_duckdb_reads_each_offset_once(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    """Twenty archive commits of a few records each (one small Parquet file per partition per
    commit): the commits that pass the thresholds (8 small files in a folder, 16 manifests)
    add a `replace` snapshot that rewrites the small files into one and lists one manifest, and
    DuckDB's iceberg_scan (offline, Skiff stopped) reads every acknowledged offset exactly once
    from a head of few manifests and files."""
    skiff = skiff_factory(FILE_STORE, "--archive-interval-ms", "100", "--flush-interval-ms", "20")
    create_topic(skiff.bootstrap, topic_name, 2, {"skiff.archive.enable": "true"})
    producer = Producer({"bootstrap.servers": skiff.bootstrap, "linger.ms": 0})
    acked: dict[tuple[int, int], bytes] = {}

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        acked[(msg.partition(), msg.offset())] = msg.value()

    def archived(count: int) -> dict | None:
        status = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", topic_name, "--json"))
        (topic,) = status["topics"]
        ends = sum(p["end_offset"] for p in topic["partitions"])
        return topic if topic["lag_records"] == 0 and ends == count else None

    versions = set()
    for round_ in range(20):
        for n in range(6):
            producer.produce(topic_name, value=f"r{round_}-{n}".encode() + bytes([0xFF, n]), partition=n % 2,
                             on_delivery=on_delivery)  # fmt: skip
        assert producer.flush(30) == 0
        # Each round is archived before the next is produced: at least one commit per round.
        status = wait_until(lambda: archived(len(acked)), 60, f"round {round_} to be archived", interval_s=0.05)
        versions.add(status["metadata_version"])
    assert len(versions) == 20
    skiff.stop()

    table = skiff.data_dir / "objects" / "archive" / topic_name
    con = duckdb_offline()
    rows = con.execute(f"SELECT partition, \"offset\", value FROM iceberg_scan('{table}')").fetchall()
    assert len(rows) == len(acked), "an offset is missing or read twice"
    assert {(p, o): bytes(v) for p, o, v in rows} == acked
    operations = [op for (op,) in con.execute(f"SELECT operation FROM iceberg_snapshots('{table}')").fetchall()]
    assert operations.count("replace") >= 2, operations
    # The head's files and manifests, as DuckDB sees them.
    manifests, files = con.execute(
        f"SELECT count(DISTINCT manifest_path), count(*) FROM iceberg_metadata('{table}') WHERE status != 'DELETED'"
    ).fetchone()
    assert manifests <= 16, manifests
    assert files < 2 * 20, files
    on_disk = list(table.glob("data/partition=*/date=*/*.parquet"))
    assert len(on_disk) > files, "no file was rewritten"


@pytest.mark.timeout(120)
def test_archive_run_against_skiff_dev_shows_progress_on_a_terminal(
    skiff_factory, skiff_bin: Path, topic_name: str
) -> None:
    """`skiff dev --controller-addr` serves the embedded controller's API, so `skiff archive run
    TOPIC -c ADDR` archives against it. On a terminal the command draws a progress bar on stderr
    (bytes read of the total); with --json, or when stderr is not a terminal, it draws none. The
    archive job of skiff dev itself would only start after an hour here, so the run does the work."""
    controller_addr = f"127.0.0.1:{free_port()}"
    skiff = skiff_factory(FILE_STORE, "--controller-addr", controller_addr, "--archive-interval-ms", "3600000",
                          "--flush-interval-ms", "20")  # fmt: skip
    create_topic(skiff.bootstrap, topic_name, PARTITIONS, {"skiff.archive.enable": "true"})
    acked = _produce(skiff.bootstrap, topic_name)
    objects = skiff.data_dir / "objects"
    argv = [str(skiff_bin), "archive", "run", topic_name, "-c", controller_addr, "--object-store", f"file://{objects}"]

    # stdout and stderr on a pseudo-terminal, as in a person's shell.
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env={**os.environ, "TERM": "xterm"})
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 60
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the command exited
                chunk = b""
            if not chunk:
                break
            screen += chunk
        assert time.monotonic() < deadline, f"archive run still running: {screen[-500:]!r}"
    assert proc.wait(30) == 0, screen.decode(errors="replace")
    os.close(leader)
    text = screen.decode(errors="replace")
    assert "to Parquet" in text, f"no progress bar drawn: {text!r}"
    assert f"archived {len(acked)} rows" in text, text

    # Nothing new: the next run commits nothing and, with --json, draws no bar on a pipe.
    again = subprocess.run([*argv, "--json"], capture_output=True, timeout=60, check=False)
    assert again.returncode == 0, again.stderr.decode(errors="replace")
    assert json.loads(again.stdout)["archived"] is False
    assert b"to Parquet" not in again.stderr

    status = json.loads(cli_ok(skiff_bin, skiff.bootstrap, "archive", "status", topic_name, "--json"))
    assert status["topics"][0]["lag_records"] == 0
    skiff.stop()
    table = objects / "archive" / topic_name
    expected = {
        at: {"topic": topic_name, "timestamp_type": "CREATE_TIME", **sent} for at, sent in acked.items()
    }
    assert _rows(duckdb_offline(), f"iceberg_scan('{table}')") == expected
