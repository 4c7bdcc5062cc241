//! Compaction over real tables, on a local directory and on S3: after many small commits the
//! head lists few manifests and few data files, every row reads back exactly once after each
//! commit, and once older snapshots expire the replaced files are orphans the collector
//! deletes without touching a row.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, SystemTime};

use iceberg::spec::{ManifestList, Operation, TableMetadata};
use skiff_archive::orphans::reachable;
use skiff_archive::{CompactionConfig, PassConfig, collect_orphans, table_path};
use skiff_records::Compression;
use skiff_storage::{ObjectPath, SegmentStore, StoreConfig};
use support::{Produced, Row, START_MS, archive_with, expected_row, read_table, stored_batch};

const COMMITS: i64 = 24;
const PER_COMMIT: i64 = 5;

fn config(snapshot_max_age: Duration) -> PassConfig {
    PassConfig {
        snapshot_max_age,
        compaction: Some(CompactionConfig {
            max_manifests: 4,
            min_small_files: 4,
            ..CompactionConfig::default()
        }),
        ..PassConfig::default()
    }
}

/// `count` records from `first`, a second apart (all in one UTC day), with keys, tombstones
/// and headers as the other tests produce them.
fn records(first: i64, count: i64) -> Vec<Produced> {
    support::records(first, count, START_MS)
        .into_iter()
        .map(|r| Produced {
            timestamp_ms: START_MS + r.offset * 1_000,
            ..r
        })
        .collect()
}

struct Head {
    manifests: usize,
    data_files: usize,
    operation: Operation,
}

async fn head(store: &SegmentStore, location: &str) -> Head {
    let io = skiff_archive::pass::file_io(store);
    let metadata = TableMetadata::read_from(&io, location).await.unwrap();
    let snapshot = metadata.current_snapshot().unwrap();
    let list = ManifestList::parse_with_version(
        &io.new_input(snapshot.manifest_list())
            .unwrap()
            .read()
            .await
            .unwrap(),
        metadata.format_version(),
    )
    .unwrap();
    let mut data_files = 0;
    for manifest in list.entries() {
        let manifest = manifest.load_manifest(&io).await.unwrap();
        data_files += manifest.entries().iter().filter(|e| e.is_alive()).count();
    }
    Head {
        manifests: list.entries().len(),
        data_files,
        operation: snapshot.summary().operation.clone(),
    }
}

async fn data_files(store: &SegmentStore) -> BTreeSet<String> {
    store
        .list(&ObjectPath::parse(format!("{}/data", table_path("t"))).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path.to_string())
        .collect()
}

async fn many_small_commits_compact(store: SegmentStore) {
    // Snapshots expire at once, so the replaced files are orphans right after the commit
    // that replaced them.
    let config = config(Duration::ZERO);
    let mut expected: BTreeMap<(i32, i64), Row> = BTreeMap::new();
    let mut location: Option<String> = None;
    let mut from = BTreeMap::new();
    let mut replaces = 0;
    let mut most_manifests = 0;
    for commit in 0..COMMITS {
        let mut batches = Vec::new();
        for partition in [0, 1] {
            let produced = records(commit * PER_COMMIT, PER_COMMIT);
            for record in &produced {
                expected.insert((partition, record.offset), expected_row("t", record));
            }
            batches.push((
                partition,
                stored_batch(&produced, Compression::Lz4),
                produced,
            ));
        }
        let done = archive_with(&store, location.as_deref(), &from, &batches, &config)
            .await
            .unwrap();
        from = done.last_offsets.iter().map(|(p, o)| (*p, o + 1)).collect();
        location = Some(done.metadata_location.clone());
        // Every row exactly once (read_table fails on a duplicate), none lost, after every
        // commit, compacted or not.
        assert_eq!(read_table(&store, &done.metadata_location).await, expected);
        let head = head(&store, &done.metadata_location).await;
        most_manifests = most_manifests.max(head.manifests);
        if head.operation == Operation::Replace {
            replaces += 1;
            assert_eq!(head.manifests, 1);
        }
    }
    let location = location.unwrap();
    let head = head(&store, &location).await;
    // Without compaction: 24 manifests and 48 files (one per partition per commit).
    assert!(replaces >= 3, "{replaces} compactions");
    assert!(most_manifests <= 5, "{most_manifests} manifests at most");
    assert!(head.manifests <= 5, "{} manifests", head.manifests);
    assert!(
        head.data_files <= (COMMITS / 2) as usize,
        "{} live data files",
        head.data_files
    );

    // The replaced files are orphans: the collector deletes them and the table reads the same.
    let before = data_files(&store).await;
    assert!(before.len() > (2 * COMMITS) as usize);
    let later = SystemTime::now() + Duration::from_secs(3_600);
    let sweep = collect_orphans(&store, "t", &location, later, 10_000)
        .await
        .unwrap();
    assert!(sweep.deleted > 0);
    let after = data_files(&store).await;
    let reached: HashSet<String> = reachable(&store, &location)
        .await
        .unwrap()
        .files
        .into_iter()
        .collect();
    assert!(after.iter().all(|f| reached.contains(f)));
    assert_eq!(after.len(), head.data_files);
    assert_eq!(read_table(&store, &location).await, expected);
}

#[tokio::test]
async fn many_small_commits_compact_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SegmentStore::open(&StoreConfig::for_url(format!(
        "file://{}",
        dir.path().display()
    )))
    .unwrap();
    many_small_commits_compact(store).await;
}

#[tokio::test]
async fn many_small_commits_compact_on_s3() {
    let Some(target) = support::s3_target() else {
        support::skip_s3();
        return;
    };
    let prefix = format!("archive-compaction-test-{}", uuid::Uuid::new_v4());
    let store = SegmentStore::open(&support::s3_config(&target, &prefix)).unwrap();
    many_small_commits_compact(store).await;
}
