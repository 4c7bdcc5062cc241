//! Archive passes over real stored batches (all four codecs and uncompressed), to a local
//! directory and to S3, read back through the iceberg crate's own scan (Parquet reader) and
//! checked row by row against what was produced.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use skiff_archive::{ArchivePass, PassConfig, publish_version_hint, table_path};
use skiff_records::Compression;
use skiff_storage::{ObjectPath, SegmentStore, StoreConfig};
use support::{Produced, records, stored_batch};

/// 2026-12-05T20:00:00Z: the test records run across the next UTC midnight.
const START_MS: i64 = 1_796_500_800_000;

#[derive(Debug, PartialEq, Eq)]
struct Row {
    topic: String,
    timestamp_ms: i64,
    timestamp_type: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn expected_row(topic: &str, produced: &Produced) -> Row {
    Row {
        topic: topic.to_string(),
        timestamp_ms: produced.timestamp_ms,
        timestamp_type: "CREATE_TIME".to_string(),
        key: produced.key.clone(),
        value: produced.value.clone(),
        headers: produced.headers.clone(),
    }
}

/// Every row of the table's current snapshot, by (partition, offset).
async fn read_table(store: &SegmentStore, location: &str) -> BTreeMap<(i32, i64), Row> {
    let file_io = skiff_archive::pass::file_io(store);
    let metadata = iceberg::spec::TableMetadata::read_from(&file_io, location)
        .await
        .unwrap();
    let table = iceberg::table::Table::builder()
        .file_io(file_io)
        .metadata_location(location)
        .metadata(metadata)
        .identifier(iceberg::TableIdent::from_strs(["skiff", "t"]).unwrap())
        .readonly(true)
        .runtime(iceberg::Runtime::try_current().unwrap())
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = table
        .scan()
        .select_all()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut rows = BTreeMap::new();
    for batch in batches {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, skiff_archive::schema::COLUMNS);
        let topic = batch.column(0).as_string::<i32>();
        let partition = batch.column(1).as_primitive::<Int32Type>();
        let offset = batch.column(2).as_primitive::<Int64Type>();
        let timestamp = batch.column(3).as_primitive::<TimestampMicrosecondType>();
        let timestamp_type = batch.column(4).as_string::<i32>();
        let key = batch.column(5).as_binary::<i64>();
        let value = batch.column(6).as_binary::<i64>();
        let headers = batch.column(7).as_list::<i32>();
        for i in 0..batch.num_rows() {
            let header_rows = headers.value(i);
            let header_rows = header_rows.as_struct();
            let header_keys = header_rows.column(0).as_string::<i32>();
            let header_values = header_rows.column(1).as_binary::<i64>();
            let row = Row {
                topic: topic.value(i).to_string(),
                timestamp_ms: timestamp.value(i) / 1000,
                timestamp_type: timestamp_type.value(i).to_string(),
                key: key.is_valid(i).then(|| key.value(i).to_vec()),
                value: value.is_valid(i).then(|| value.value(i).to_vec()),
                headers: (0..header_rows.len())
                    .map(|h| {
                        (
                            header_keys.value(h).to_string(),
                            header_values
                                .is_valid(h)
                                .then(|| header_values.value(h).to_vec()),
                        )
                    })
                    .collect(),
            };
            let previous = rows.insert((partition.value(i), offset.value(i)), row);
            assert!(previous.is_none(), "offset {} twice", offset.value(i));
        }
    }
    rows
}

/// Partition 0: uncompressed and gzip; partition 1: snappy, lz4 and zstd.
fn first_batches() -> Vec<(i32, Vec<u8>, Vec<Produced>)> {
    let mut out = Vec::new();
    let mut add = |partition: i32, first: i64, count: i64, codec: Compression| {
        let produced = records(first, count, START_MS);
        out.push((partition, stored_batch(&produced, codec), produced));
    };
    add(0, 0, 6, Compression::None);
    add(0, 6, 5, Compression::Gzip);
    add(1, 0, 4, Compression::Snappy);
    add(1, 4, 4, Compression::Lz4);
    add(1, 8, 5, Compression::Zstd);
    out
}

async fn archive(
    store: &SegmentStore,
    current: Option<&str>,
    from: &BTreeMap<i32, i64>,
    batches: &[(i32, Vec<u8>, Vec<Produced>)],
) -> Option<skiff_archive::ArchiveCommit> {
    let mut pass = ArchivePass::begin(store, "t", current, &PassConfig::default())
        .await
        .unwrap();
    for partition in [0, 1] {
        pass.start_partition(partition, from.get(&partition).copied().unwrap_or(0))
            .await
            .unwrap();
        for (p, bytes, _) in batches {
            if *p == partition {
                pass.append(bytes).await.unwrap();
            }
        }
    }
    pass.commit().await.unwrap()
}

async fn object_text(store: &SegmentStore, path: &str) -> String {
    let bytes = store
        .get_object(&ObjectPath::parse(path).unwrap())
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn roundtrip(store: SegmentStore) {
    let table = table_path("t");
    let batches = first_batches();
    let commit = archive(&store, None, &BTreeMap::new(), &batches)
        .await
        .expect("the first pass archives something");
    // v1 is the created table, v2 its first snapshot.
    assert_eq!(
        commit.metadata_location,
        format!("{}/{table}/metadata/v2.metadata.json", store.root_url())
    );
    assert_eq!(commit.rows, 24);
    assert_eq!(commit.last_offsets, BTreeMap::from([(0, 10), (1, 12)]));
    publish_version_hint(&store, "t", &commit.metadata_location)
        .await
        .unwrap();
    assert_eq!(
        object_text(&store, &format!("{table}/metadata/version-hint.text")).await,
        "2"
    );

    // Hive-style folders: partition, then the UTC day; records cross midnight, so both days.
    let data_files: Vec<String> = store
        .list(&ObjectPath::parse(format!("{table}/data")).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path.to_string())
        .collect();
    for folder in [
        "partition=0/date=2026-12-05",
        "partition=0/date=2026-12-06",
        "partition=1/date=2026-12-07",
    ] {
        assert!(
            data_files
                .iter()
                .any(|f| f.contains(folder) && f.ends_with(".parquet")),
            "no data file under {folder}: {data_files:?}"
        );
    }
    assert_eq!(data_files.len(), commit.data_files);

    let rows = read_table(&store, &commit.metadata_location).await;
    let expected: BTreeMap<(i32, i64), Row> = batches
        .iter()
        .flat_map(|(p, _, produced)| produced.iter().map(move |r| ((*p, r.offset), r)))
        .map(|(at, r)| (at, expected_row("t", r)))
        .collect();
    assert_eq!(rows, expected);

    // A second pass from the committed progress: the same batches again plus new ones; only
    // the new records are added.
    let mut more = first_batches();
    let produced = records(11, 3, START_MS);
    more.push((0, stored_batch(&produced, Compression::Zstd), produced));
    let from = commit
        .last_offsets
        .iter()
        .map(|(p, o)| (*p, o + 1))
        .collect();
    let second = archive(&store, Some(&commit.metadata_location), &from, &more)
        .await
        .unwrap();
    assert_eq!(second.rows, 3);
    assert_eq!(second.last_offsets, BTreeMap::from([(0, 13)]));
    assert!(second.metadata_location.ends_with("/v3.metadata.json"));
    let rows = read_table(&store, &second.metadata_location).await;
    assert_eq!(rows.len(), 27);
    let partition0: Vec<i64> = rows
        .keys()
        .filter(|(p, _)| *p == 0)
        .map(|(_, o)| *o)
        .collect();
    assert_eq!(partition0, (0..14).collect::<Vec<_>>());

    // A stale pass (it started from v2, like one that lost its lease) never replaces v3: it
    // writes v4, which the controller would refuse to commit. v3 still reads as before.
    let v3_before = object_text(&store, &format!("{table}/metadata/v3.metadata.json")).await;
    let stale = archive(&store, Some(&commit.metadata_location), &from, &more)
        .await
        .unwrap();
    assert!(stale.metadata_location.ends_with("/v4.metadata.json"));
    assert_eq!(
        object_text(&store, &format!("{table}/metadata/v3.metadata.json")).await,
        v3_before
    );

    // Nothing new: no commit, no metadata.
    let from = second
        .last_offsets
        .iter()
        .chain(commit.last_offsets.iter().filter(|(p, _)| **p == 1))
        .map(|(p, o)| (*p, o + 1))
        .collect();
    assert_eq!(
        archive(&store, Some(&second.metadata_location), &from, &more).await,
        None
    );
}

#[tokio::test]
async fn archives_all_codecs_to_a_local_directory_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = SegmentStore::open(&StoreConfig::for_url(format!(
        "file://{}",
        dir.path().display()
    )))
    .unwrap();
    roundtrip(store).await;
}

#[tokio::test]
async fn archives_all_codecs_to_s3_and_reads_them_back() {
    let Some(target) = support::s3_target() else {
        support::skip_s3();
        return;
    };
    let prefix = format!("archive-test-{}", uuid::Uuid::new_v4());
    let store = SegmentStore::open(&support::s3_config(&target, &prefix)).unwrap();
    roundtrip(store).await;
}
