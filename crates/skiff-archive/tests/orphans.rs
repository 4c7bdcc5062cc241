//! Orphan collection over real tables, on a local directory and on S3: what a pass that never
//! committed left is deleted once it is old enough, everything the committed table reaches
//! stays and reads back whole, and an earlier table of the same name keeps its files.
#![allow(clippy::unwrap_used)]

mod support;

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
