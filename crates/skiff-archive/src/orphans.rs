//! Collecting an archive table's orphans: files under `archive/<topic>/` that the committed
//! metadata does not reach. A pass that died, lost its lease or lost its commit race leaves
//! its Parquet files, manifests, manifest list and `v<N>.metadata.json` behind; Iceberg also
//! stops listing metadata files older than its `metadata-log` keeps.
//!
//! Why a job may delete them (the controller's collector cannot: it does not read Iceberg
//! metadata): run right after a commit the controller accepted, by the job that made it. Any
//! pass that can still commit must start from that commit's metadata (the controller refuses
//! every other), so it starts after the commit and writes only files newer than it. Files
//! older than the commit that the committed metadata does not reach can therefore never
//! become reachable, and the caller's `written_before` (the job's start, minus a margin for
//! clock skew between broker and store) keeps every file a live pass may still commit.
//!
//! A topic deleted and created again under the same name archives to the same folder; the
//! earlier table's files stay readable (by its metadata path) because the new table records
//! when it took the folder over ([`EARLIER_TABLE_BEFORE_PROPERTY`]) and older files are kept.

use std::collections::HashSet;
use std::time::SystemTime;

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::{ManifestList, TableMetadata};
use skiff_storage::{ObjectPath, SegmentStore};

use crate::error::ArchiveError;
use crate::pass::{EARLIER_TABLE_BEFORE_PROPERTY, file_io, table_path};

/// Manifests read at once while finding what the table reaches.
const MANIFEST_READS: usize = 8;
/// The file engines read to find the current version; rewritten, never an orphan.
const VERSION_HINT: &str = "version-hint.text";

/// What one collection found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanSweep {
    /// Files the committed metadata reaches (metadata, manifest lists, manifests, data).
    pub referenced: usize,
    /// Unreferenced files left because they are newer than the cut-off.
    pub too_young: usize,
    /// Files left because they belong to an earlier table of the same name.
    pub earlier_table: usize,
    pub deleted: usize,
    pub deleted_bytes: u64,
}

/// Deletes up to `max_deletes` files under `topic`'s table folder that `committed_metadata`
/// does not reach and that were last written before `written_before`. Call it only as
/// described in the module docs; a failed delete is left for the next collection.
pub async fn collect_orphans(
    store: &SegmentStore,
    topic: &str,
    committed_metadata: &str,
    written_before: SystemTime,
    max_deletes: usize,
) -> Result<OrphanSweep, ArchiveError> {
    let Reachable {
        files: referenced,
        earlier_table_before,
    } = reachable(store, committed_metadata).await?;
    let mut sweep = OrphanSweep {
        referenced: referenced.len(),
        ..OrphanSweep::default()
    };
    let folder = ObjectPath::from(table_path(topic).as_str());
    let mut listing = store.list_stream(&folder);
    while let Some(object) = listing.next().await {
        let object = object?;
        if referenced.contains(object.path.as_ref()) || object.path.filename() == Some(VERSION_HINT)
        {
            continue;
        }
        let written = SystemTime::from(object.last_modified);
        if written >= written_before {
            sweep.too_young += 1;
            continue;
        }
        if earlier_table_before.is_some_and(|before| written < before) {
            sweep.earlier_table += 1;
            continue;
        }
        if sweep.deleted >= max_deletes {
            break;
        }
        match store.delete(&object.path).await {
            Ok(()) => {
                sweep.deleted += 1;
                sweep.deleted_bytes += object.size;
                tracing::debug!(key = %object.path, bytes = object.size, "deleted an archive file no committed metadata reaches");
            }
            Err(e) => {
                tracing::warn!(key = %object.path, error = %e, "could not delete an orphaned archive file")
            }
        }
    }
    Ok(sweep)
}

/// What a committed table reaches, and what its folder keeps for an earlier table.
pub struct Reachable {
    /// Store paths (relative to the store root) of every file the metadata reaches: itself,
    /// the earlier metadata files its log lists, every snapshot's manifest list, the
    /// manifests those list and the data files the manifests hold (not the ones a manifest
    /// records as deleted).
    pub files: HashSet<String>,
    /// Files written before this belong to an earlier table of the same name.
    pub earlier_table_before: Option<SystemTime>,
}

/// What the table at `metadata_location` reaches.
pub async fn reachable(
    store: &SegmentStore,
    metadata_location: &str,
) -> Result<Reachable, ArchiveError> {
    let io = file_io(store);
    let metadata = TableMetadata::read_from(&io, metadata_location).await?;
    let earlier_table_before = metadata
        .properties()
        .get(EARLIER_TABLE_BEFORE_PROPERTY)
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(|ms| SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms));
    let relative = |location: &str| -> Result<String, ArchiveError> {
        location
            .strip_prefix(store.root_url())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_string)
            .ok_or_else(|| ArchiveError::Metadata {
                location: metadata_location.to_string(),
                reason: format!(
                    "it names {location}, outside the object store root {}",
                    store.root_url()
                ),
            })
    };
    let mut files = HashSet::new();
    files.insert(relative(metadata_location)?);
    for earlier in metadata.metadata_log() {
        files.insert(relative(&earlier.metadata_file)?);
    }
    // Metadata files older than the log are Iceberg's to drop (its
    // `write.metadata.previous-versions-max`), so only the logged ones count.
    let mut manifests = Vec::new();
    let mut seen_manifests = HashSet::new();
    for snapshot in metadata.snapshots() {
        let list_path = relative(snapshot.manifest_list())?;
        let bytes = store
            .get_object(&ObjectPath::from(list_path.as_str()))
            .await?;
        files.insert(list_path);
        let list = ManifestList::parse_with_version(&bytes, metadata.format_version())?;
        for manifest in list.entries() {
            if seen_manifests.insert(manifest.manifest_path.clone()) {
                files.insert(relative(&manifest.manifest_path)?);
                manifests.push(manifest.clone());
            }
        }
    }
    let data_files: Vec<Vec<String>> = futures::stream::iter(manifests)
        .map(|manifest| {
            let io = io.clone();
            async move {
                let manifest = manifest.load_manifest(&io).await?;
                Ok::<_, ArchiveError>(
                    manifest
                        .entries()
                        .iter()
                        // A DELETED entry names a file its snapshot removed; snapshots that
                        // still read it list it as ADDED or EXISTING in their own manifests.
                        .filter(|entry| entry.is_alive())
                        .map(|entry| entry.file_path().to_string())
                        .collect(),
                )
            }
        })
        .buffer_unordered(MANIFEST_READS)
        .try_collect()
        .await?;
    for path in data_files.iter().flatten() {
        files.insert(relative(path)?);
    }
    Ok(Reachable {
        files,
        earlier_table_before,
    })
}

/// Whether a commit from `previous` to `current` metadata version crossed a multiple of
/// `every`: archive jobs collect orphans on those commits only, so a table's folder is
/// listed about once per `every` commits however often it commits.
pub fn collection_due(previous: Option<&str>, current: &str, every: u32) -> bool {
    let version = |location: &str| crate::catalog::metadata_version(location).unwrap_or(0);
    let every = every.max(1);
    let previous = previous.map_or(0, version);
    version(current) / every != previous / every
}
