//! Orphan collection over real tables, on a local directory and on S3: what a pass that never
//! committed left is deleted once it is old enough, everything the committed table reaches
//! stays and reads back whole, and an earlier table of the same name keeps its files.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use skiff_archive::PassConfig;
use skiff_archive::orphans::{OrphanSweep, reachable};
use skiff_archive::{collect_orphans, publish_version_hint, table_path};
use skiff_records::Compression;
use skiff_storage::{ObjectPath, SegmentStore, StoreConfig};
use support::{START_MS, archive, archive_with, first_batches, read_table, records, stored_batch};

const TOPIC: &str = "t";

async fn files(store: &SegmentStore) -> BTreeSet<String> {
    store
        .list(&ObjectPath::from(table_path(TOPIC).as_str()))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path.to_string())
        .collect()
}

async fn collect(store: &SegmentStore, committed: &str, written_before: SystemTime) -> OrphanSweep {
    collect_orphans(store, TOPIC, committed, written_before, 1_000)
        .await
        .unwrap()
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3_600)
}

async fn dead_pass_files_go_and_the_table_stays(store: SegmentStore) {
    let batches = first_batches();
    // A pass that wrote everything and died before its commit reached the controller.
    let dead = archive(&store, None, &BTreeMap::new(), &batches)
        .await
        .unwrap();
    let after_dead = files(&store).await;
    // The pass that committed, from the same (empty) progress.
    let live = archive(&store, None, &BTreeMap::new(), &batches)
        .await
        .unwrap();
    assert_ne!(live.metadata_location, dead.metadata_location);
    publish_version_hint(&store, TOPIC, &live.metadata_location)
        .await
        .unwrap();
    let before = files(&store).await;
    let rows = read_table(&store, &live.metadata_location).await;
    assert_eq!(rows.len(), 24);

    // Everything is younger than the cut-off: nothing goes.
    let early = collect(&store, &live.metadata_location, SystemTime::UNIX_EPOCH).await;
    assert_eq!(early.deleted, 0);
    assert_eq!(early.too_young, after_dead.len());
    assert_eq!(files(&store).await, before);

    let sweep = collect(&store, &live.metadata_location, later()).await;
    let after = files(&store).await;
    // Exactly the dead pass's files went (its data files, manifest, manifest list and both
    // metadata versions); what remains is what the table reaches, plus the hint.
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(gone, after_dead);
    assert_eq!(sweep.deleted, after_dead.len());
    let reached = reachable(&store, &live.metadata_location).await.unwrap();
    let mut expected: BTreeSet<String> = reached.files.into_iter().collect();
    expected.insert(format!("{}/metadata/version-hint.text", table_path(TOPIC)));
    assert_eq!(after, expected);
    assert_eq!(read_table(&store, &live.metadata_location).await, rows);

    // A second collection finds nothing more.
    assert_eq!(
        collect(&store, &live.metadata_location, later())
            .await
            .deleted,
        0
    );

    // The topic is deleted and created again: its new table takes the folder over, and the
    // earlier table's files (older than the takeover) stay readable by its metadata path.
    let again = archive(&store, None, &BTreeMap::new(), &batches[..1])
        .await
        .unwrap();
    let sweep = collect(&store, &again.metadata_location, later()).await;
    assert_eq!(sweep.deleted, 0);
    assert_eq!(sweep.earlier_table, after.len() - 1);
    assert_eq!(read_table(&store, &live.metadata_location).await, rows);
    assert_eq!(read_table(&store, &again.metadata_location).await.len(), 6);
}

/// Snapshots past their age are expired at each commit (the latest stays): the rows stay,
/// and the expired snapshots' manifest lists become orphans to collect.
async fn expired_snapshots_leave_their_manifest_lists(store: SegmentStore) {
    let batches = first_batches();
    let first = archive(&store, None, &BTreeMap::new(), &batches)
        .await
        .unwrap();
    let produced = records(11, 3, START_MS);
    let more = vec![(0, stored_batch(&produced, Compression::Zstd), produced)];
    let from = BTreeMap::from([(0, 11), (1, 13)]);
    let no_history = PassConfig {
        snapshot_max_age: Duration::ZERO,
        ..PassConfig::default()
    };
    let second = archive_with(
        &store,
        Some(&first.metadata_location),
        &from,
        &more,
        &no_history,
    )
    .await
    .unwrap();
    let io = skiff_archive::pass::file_io(&store);
    let first_meta = iceberg::spec::TableMetadata::read_from(&io, &first.metadata_location)
        .await
        .unwrap();
    let second_meta = iceberg::spec::TableMetadata::read_from(&io, &second.metadata_location)
        .await
        .unwrap();
    assert_eq!(first_meta.snapshots().len(), 1);
    assert_eq!(
        second_meta.snapshots().len(),
        1,
        "the first snapshot expired"
    );
    assert_eq!(
        read_table(&store, &second.metadata_location).await.len(),
        27
    );

    let first_list = first_meta.current_snapshot().unwrap().manifest_list();
    let first_list = first_list
        .strip_prefix(&format!("{}/", store.root_url()))
        .unwrap()
        .to_string();
    assert!(files(&store).await.contains(&first_list));
    let sweep = collect(&store, &second.metadata_location, later()).await;
    assert_eq!(sweep.deleted, 1);
    assert!(!files(&store).await.contains(&first_list));
    assert_eq!(
        read_table(&store, &second.metadata_location).await.len(),
        27
    );
}

#[tokio::test]
async fn expired_snapshots_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SegmentStore::open(&StoreConfig::for_url(format!(
        "file://{}",
        dir.path().display()
    )))
    .unwrap();
    expired_snapshots_leave_their_manifest_lists(store).await;
}

#[tokio::test]
async fn orphans_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SegmentStore::open(&StoreConfig::for_url(format!(
        "file://{}",
        dir.path().display()
    )))
    .unwrap();
    dead_pass_files_go_and_the_table_stays(store).await;
}

#[tokio::test]
async fn orphans_on_s3() {
    let Some(target) = support::s3_target() else {
        support::skip_s3();
        return;
    };
    let prefix = format!("archive-orphans-{}", uuid::Uuid::new_v4());
    let store = SegmentStore::open(&support::s3_config(&target, &prefix)).unwrap();
    dead_pass_files_go_and_the_table_stays(store).await;
}

#[test]
fn collection_is_due_when_a_commit_crosses_a_multiple() {
    use skiff_archive::orphans::collection_due;
    let v = |n: u32| format!("s3://b/archive/t/metadata/v{n}.metadata.json");
    assert!(!collection_due(None, &v(2), 16));
    assert!(collection_due(Some(&v(15)), &v(16), 16));
    // A gap (versions taken by passes that never committed) still crosses.
    assert!(collection_due(Some(&v(14)), &v(18), 16));
    assert!(!collection_due(Some(&v(16)), &v(17), 16));
    assert!(collection_due(Some(&v(2)), &v(3), 1));
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `skiff.archive.retention.ms`: a commit removes the data files whose records all passed the
/// retention (in a delete snapshot after its append), keeps the others, including those
/// written in the same pass as expired ones; the removed files are collected once no kept
/// snapshot reads them.
async fn retention_removes_old_files(store: SegmentStore) {
    const DAY_MS: i64 = 24 * 3_600_000;
    // Partition 0: ten days old; partition 1: the last day and a half. One pass, one manifest.
    let old = records(0, 11, now_ms() - 10 * DAY_MS);
    let recent = records(0, 13, now_ms() - 36 * 3_600_000 - 60_000);
    let batches = vec![
        (0, stored_batch(&old, Compression::Lz4), old),
        (1, stored_batch(&recent, Compression::None), recent),
    ];
    let first = archive(&store, None, &BTreeMap::new(), &batches)
        .await
        .unwrap();
    let before = files(&store).await;

    // New records in partition 0, with a five-day archive retention and no time travel.
    let new = records(11, 3, now_ms() - 33 * 3_600_000);
    let more = vec![(0, stored_batch(&new, Compression::Zstd), new)];
    let config = PassConfig {
        retention: Some(Duration::from_millis(5 * DAY_MS as u64)),
        snapshot_max_age: Duration::ZERO,
        ..PassConfig::default()
    };
    let second = archive_with(
        &store,
        Some(&first.metadata_location),
        &BTreeMap::from([(0, 11), (1, 13)]),
        &more,
        &config,
    )
    .await
    .unwrap();
    let rows = read_table(&store, &second.metadata_location).await;
    let kept: BTreeSet<(i32, i64)> = rows.keys().copied().collect();
    let expected: BTreeSet<(i32, i64)> = (0..13)
        .map(|o| (1, o))
        .chain((11..14).map(|o| (0, o)))
        .collect();
    assert_eq!(
        kept, expected,
        "partition 0's old rows left, the rest stayed"
    );

    let io = skiff_archive::pass::file_io(&store);
    let meta = iceberg::spec::TableMetadata::read_from(&io, &second.metadata_location)
        .await
        .unwrap();
    let head = meta.current_snapshot().unwrap();
    assert_eq!(head.summary().operation, iceberg::spec::Operation::Delete);
    assert_eq!(
        head.summary().additional_properties.get("deleted-records"),
        Some(&"11".to_string())
    );
    // Only the delete: the first pass's snapshot expired, and the append the delete followed
    // in the same version was never anyone's head.
    assert_eq!(meta.snapshots().len(), 1);

    // Partition 0's old files are no longer reachable and go; the table still reads whole.
    let old_data: BTreeSet<String> = before
        .iter()
        .filter(|f| f.contains("/data/partition=0/"))
        .cloned()
        .collect();
    assert!(!old_data.is_empty());
    collect(&store, &second.metadata_location, later()).await;
    let after = files(&store).await;
    assert!(old_data.is_disjoint(&after), "expired data files collected");
    assert!(
        after.iter().any(|f| f.contains("/data/partition=1/")),
        "partition 1's files stay"
    );
    assert_eq!(read_table(&store, &second.metadata_location).await, rows);

    // The next pass (nothing more expires) appends on top of the delete.
    let newer = records(14, 2, now_ms() - 42 * 3_600_000);
    let third = archive_with(
        &store,
        Some(&second.metadata_location),
        &BTreeMap::from([(0, 14), (1, 13)]),
        &[(0, stored_batch(&newer, Compression::Gzip), newer)],
        &config,
    )
    .await
    .unwrap();
    assert_eq!(
        read_table(&store, &third.metadata_location).await.len(),
        rows.len() + 2
    );
}

#[tokio::test]
async fn retention_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SegmentStore::open(&StoreConfig::for_url(format!(
        "file://{}",
        dir.path().display()
    )))
    .unwrap();
    retention_removes_old_files(store).await;
}

#[tokio::test]
async fn retention_on_s3() {
    let Some(target) = support::s3_target() else {
        support::skip_s3();
        return;
    };
    let prefix = format!("archive-retention-{}", uuid::Uuid::new_v4());
    let store = SegmentStore::open(&support::s3_config(&target, &prefix)).unwrap();
    retention_removes_old_files(store).await;
}
