"""Reading a topic's archive (an Iceberg table) the way a user would, with Skiff out of the loop:
DuckDB with the avro and iceberg extensions loaded from their pinned wheels (no network at query
time), over the table's folder; a table on S3 is first copied out of the bucket with a plain S3
client, and read with allow_moved_paths (its metadata names s3:// locations)."""

from __future__ import annotations

from pathlib import Path

from harness.stores import S3Settings


def duckdb_offline():
    """A DuckDB connection with the avro and iceberg extensions loaded from their wheels, with
    every automatic download turned off."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions=false")
    con.execute("SET autoload_known_extensions=false")
    for module, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
        path = Path(module.__file__).parent / "extensions" / "v1.5.5" / f"{name}.duckdb_extension"
        con.execute(f"LOAD '{path}'")
    return con


def copy_table_from_s3(s3: S3Settings, prefix: str, topic: str, dest: Path) -> Path:
    """Downloads every object under `<prefix>/archive/<topic>/` into `dest/<topic>/`; returns that
    folder (the table's copy)."""
    client = s3.minio_client()
    table_prefix = f"{prefix}/archive/{topic}/"
    table = dest / topic
    for obj in client.list_objects(s3.bucket, prefix=table_prefix, recursive=True):
        target = table / obj.object_name[len(table_prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.fget_object(s3.bucket, obj.object_name, str(target))
    return table


def offsets_once(con, table: Path, moved: bool = False) -> dict[tuple[int, int], bytes | None]:
    """(partition, offset) -> value of every row iceberg_scan reads; fails on an offset read twice."""
    option = ", allow_moved_paths=true" if moved else ""
    rows = con.execute(f"SELECT partition, \"offset\", value FROM iceberg_scan('{table}'{option})").fetchall()
    out: dict[tuple[int, int], bytes | None] = {}
    for partition, offset, value in rows:
        assert (partition, offset) not in out, f"offset {partition}:{offset} read twice"
        out[(partition, offset)] = bytes(value) if value is not None else None
    return out
