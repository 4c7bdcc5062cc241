//! Archive passes over real stored batches (all four codecs and uncompressed), to a local
//! directory and to S3, read back through the iceberg crate's own scan (Parquet reader) and
//! checked row by row against what was produced.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeMap;

use skiff_archive::{publish_version_hint, table_path};
use skiff_records::Compression;
use skiff_storage::{ObjectPath, SegmentStore, StoreConfig};
use support::{
    Row, START_MS, archive, expected_row, first_batches, read_table, records, stored_batch,
};

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
