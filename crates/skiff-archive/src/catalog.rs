//! An Iceberg [`Catalog`] whose table pointers are given to it, not kept by it: Skiff's
//! controller holds each topic's current metadata location in its Raft state, so this catalog
//! only writes metadata files and reports where. It does by hand the one thing the crate's
//! `MemoryCatalog` does differently: metadata files are named `v<N>.metadata.json` (the layout
//! engines that open a table by path, through `version-hint.text`, look for), where the crate
//! names them `<N>-<uuid>.metadata.json`.
//!
//! Versions are written create-only. A version that already exists (left by a pass that died
//! before its commit, or written by a pass that lost its lease) is never replaced: the next
//! free number is taken, so version numbers may have gaps and the committed location is the
//! only truth.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use iceberg::spec::{
    MAIN_BRANCH, SnapshotReference, SnapshotRetention, TableMetadata, TableMetadataBuilder,
};
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, Namespace, NamespaceIdent, TableCommit, TableCreation, TableIdent,
    TableUpdate,
};
use parking_lot::Mutex;
use skiff_storage::{ObjectPath, SegmentStore, StorageError};

use crate::compaction::{self, CompactionConfig};
use crate::retention;
use crate::storage::store_error;
use iceberg::Runtime;
use iceberg::io::FileIO;
use parquet::file::properties::WriterProperties;

/// Versions tried past the current one before giving up; each failure is a file some earlier
/// pass left behind, so this many means something is wrong.
const MAX_VERSION_ATTEMPTS: u32 = 64;

/// The namespace every archive table is in.
pub const NAMESPACE: &str = "skiff";

#[derive(Debug)]
pub struct ArchiveCatalog {
    store: SegmentStore,
    file_io: FileIO,
    /// Table → current metadata location, as registered or committed through this catalog.
    tables: Mutex<HashMap<TableIdent, String>>,
    /// Commits expire snapshots older than this (see [`crate::PassConfig::snapshot_max_age`]).
    snapshot_max_age: Option<Duration>,
    /// Commits remove data files whose records are all older than this (see
    /// [`crate::retention`]); `None` keeps them forever.
    retention: Option<Duration>,
    /// Commits that leave too many manifests or small files add a replace snapshot (see
    /// [`crate::compaction`]), written with these Parquet settings.
    compaction: Option<(CompactionConfig, WriterProperties)>,
}

impl ArchiveCatalog {
    pub fn new(store: SegmentStore, file_io: FileIO) -> Self {
        Self {
            store,
            file_io,
            tables: Mutex::new(HashMap::new()),
            snapshot_max_age: None,
            retention: None,
            compaction: None,
        }
    }

    /// Each commit through this catalog also compacts small files and merges manifests once
    /// they pass `config`'s thresholds, rewriting files with `properties`.
    pub fn with_compaction(
        mut self,
        compaction: Option<(CompactionConfig, WriterProperties)>,
    ) -> Self {
        self.compaction = compaction;
        self
    }

    /// Each commit through this catalog also removes the data files whose records are all
    /// older than `retention` (`None`: never), in a delete snapshot after the commit's own.
    pub fn with_retention(mut self, retention: Option<Duration>) -> Self {
        self.retention = retention;
        self
    }

    /// Each commit through this catalog also removes the snapshots older than `age`, except
    /// the one the commit makes current. Done here, in the same metadata version, because the
    /// crate's expire action checks its requirement against the table after the append,
    /// which a catalog checking a commit against its base (as this one, and Iceberg's REST
    /// catalogs, do) refuses.
    pub fn expiring_snapshots_after(mut self, age: Duration) -> Self {
        self.snapshot_max_age = Some(age);
        self
    }

    /// Snapshots of `base` the commit's `updates` leave expired: older than the maximum age
    /// and not the main branch's head once the updates apply.
    fn expired_snapshots(&self, base: &TableMetadata, updates: &[TableUpdate]) -> Vec<i64> {
        let Some(age) = self.snapshot_max_age else {
            return Vec::new();
        };
        let cutoff_ms = ms_before_now(age).unwrap_or(0);
        let head = updates
            .iter()
            .rev()
            .find_map(|update| match update {
                TableUpdate::SetSnapshotRef {
                    ref_name,
                    reference,
                } if ref_name == MAIN_BRANCH => Some(reference.snapshot_id),
                _ => None,
            })
            .or(base.current_snapshot_id());
        base.snapshots()
            .filter(|s| Some(s.snapshot_id()) != head && s.timestamp_ms() < cutoff_ms)
            .map(|s| s.snapshot_id())
            .collect()
    }

    /// Applies retention and snapshot expiry to `ident`'s current version alone, for a topic
    /// with nothing new to append (an idle topic would otherwise keep expired files and
    /// snapshots forever): the next version, or `None` when neither removes anything.
    pub async fn upkeep(&self, ident: &TableIdent) -> iceberg::Result<Option<Table>> {
        let current = self.load_table(ident).await?;
        self.write_next(ident.clone(), &current, Vec::new()).await
    }

    /// Writes the version after `current` with `updates`, plus a retention delete snapshot
    /// and snapshot expiry. With no updates, `None` when those remove nothing either.
    async fn write_next(
        &self,
        ident: TableIdent,
        current: &Table,
        mut updates: Vec<TableUpdate>,
    ) -> iceberg::Result<Option<Table>> {
        let current_location = current.metadata_location_result()?.to_string();
        let version = metadata_version(&current_location).ok_or_else(|| {
            Error::new(
                ErrorKind::DataInvalid,
                format!("{current_location} is not a v<N>.metadata.json location"),
            )
        })?;
        let appends = !updates.is_empty();
        let apply = |updates: &[TableUpdate]| {
            let mut builder = current
                .metadata()
                .clone()
                .into_builder(Some(current_location.clone()));
            for update in updates {
                builder = update.clone().apply(builder)?;
            }
            Ok::<_, Error>(builder)
        };
        // The commit's append, when a delete follows it in the same version: never anyone's
        // head, and holding the removed files, so it goes at once. Without an append the head
        // was a reader's current snapshot, and expires with age like the others.
        let mut superseded = Vec::new();
        if let Some(cutoff_ms) = self.retention.and_then(ms_before_now) {
            // The commit's own snapshot (the append) comes first; the delete is its child.
            let appended = apply(&updates)?.build()?.metadata;
            let now_ms = ms_before_now(Duration::ZERO).unwrap_or(0);
            if let Some(delete) =
                retention::expire_data_files(&self.file_io, &appended, cutoff_ms, now_ms).await?
            {
                if appends {
                    superseded.extend(appended.current_snapshot_id());
                }
                let head = SnapshotReference::new(
                    delete.snapshot_id(),
                    SnapshotRetention::branch(None, None, None),
                );
                updates.push(TableUpdate::AddSnapshot { snapshot: delete });
                updates.push(TableUpdate::SetSnapshotRef {
                    ref_name: MAIN_BRANCH.to_string(),
                    reference: head,
                });
            }
        }
        if let Some((config, properties)) = &self.compaction {
            let before = apply(&updates)?.build()?.metadata;
            let now_ms = ms_before_now(Duration::ZERO).unwrap_or(0);
            if let Some(replace) =
                compaction::compact(&self.file_io, &before, config, properties, now_ms).await?
            {
                // The head this version made (an append, or retention's delete) is replaced
                // before anyone saw it; an older head was a reader's and expires with age.
                tracing::info!(
                    table = %ident,
                    added_files = replace.summary().additional_properties.get("added-data-files").map(String::as_str),
                    deleted_files = replace.summary().additional_properties.get("deleted-data-files").map(String::as_str),
                    "compacted the archive table's small files and manifests"
                );
                if !updates.is_empty() {
                    superseded.extend(before.current_snapshot_id());
                }
                let head = SnapshotReference::new(
                    replace.snapshot_id(),
                    SnapshotRetention::branch(None, None, None),
                );
                updates.push(TableUpdate::AddSnapshot { snapshot: replace });
                updates.push(TableUpdate::SetSnapshotRef {
                    ref_name: MAIN_BRANCH.to_string(),
                    reference: head,
                });
            }
        }
        let mut expired = self.expired_snapshots(current.metadata(), &updates);
        expired.extend(superseded);
        if updates.is_empty() && expired.is_empty() {
            return Ok(None);
        }
        let mut builder = apply(&updates)?;
        if !expired.is_empty() {
            builder = builder.remove_snapshots(&expired);
        }
        let metadata = builder.build()?.metadata;
        let location = self.write_next_version(&metadata, version).await?;
        self.tables.lock().insert(ident.clone(), location.clone());
        self.table(ident, location, metadata).map(Some)
    }

    fn relative(&self, location: &str) -> Result<ObjectPath, Error> {
        let root = self.store.root_url();
        location
            .strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| ObjectPath::parse(rest).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("{location} is outside the object store root {root}"),
                )
            })
    }

    /// Writes `metadata` as the first free `v<N>.metadata.json` with N > `after`, create-only.
    async fn write_next_version(
        &self,
        metadata: &TableMetadata,
        after: u32,
    ) -> Result<String, Error> {
        let json = Bytes::from(serde_json::to_vec(metadata)?);
        for version in after + 1..=after + MAX_VERSION_ATTEMPTS {
            let location = metadata_location(metadata.location(), version);
            let path = self.relative(&location)?;
            match self.store.put_object(&path, json.clone(), false).await {
                Ok(()) => return Ok(location),
                Err(StorageError::AlreadyExists { .. }) => {
                    tracing::info!(%location, "metadata version taken by an uncommitted pass; trying the next");
                }
                Err(err) => return Err(store_error(err)),
            }
        }
        Err(Error::new(
            ErrorKind::Unexpected,
            format!(
                "metadata versions {} to {} of {} all exist",
                after + 1,
                after + MAX_VERSION_ATTEMPTS,
                metadata.location()
            ),
        ))
    }

    fn table(
        &self,
        ident: TableIdent,
        location: String,
        metadata: TableMetadata,
    ) -> Result<Table, Error> {
        Table::builder()
            .file_io(self.file_io.clone())
            .metadata_location(location)
            .metadata(metadata)
            .identifier(ident)
            // Tasks the table spawns (manifest reads) run on the caller's Tokio runtime.
            .runtime(Runtime::try_current()?)
            .build()
    }

    fn current_location(&self, ident: &TableIdent) -> Result<String, Error> {
        self.tables.lock().get(ident).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::TableNotFound,
                format!("table {ident} is not registered"),
            )
        })
    }
}

/// Milliseconds since the epoch `ago` before now; `None` before the epoch.
fn ms_before_now(ago: Duration) -> Option<i64> {
    SystemTime::now()
        .checked_sub(ago)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `<table>/metadata/v<N>.metadata.json`.
pub fn metadata_location(table_location: &str, version: u32) -> String {
    format!(
        "{}/metadata/v{version}.metadata.json",
        table_location.trim_end_matches('/')
    )
}

/// The N of a `.../v<N>.metadata.json` location.
pub fn metadata_version(location: &str) -> Option<u32> {
    location
        .rsplit('/')
        .next()?
        .strip_prefix('v')?
        .strip_suffix(".metadata.json")?
        .parse()
        .ok()
}

fn unsupported(what: &str) -> Error {
    Error::new(
        ErrorKind::FeatureUnsupported,
        format!("the archive catalog does not {what}; the controller owns the table list"),
    )
}

#[async_trait]
impl Catalog for ArchiveCatalog {
    async fn list_namespaces(
        &self,
        _parent: Option<&NamespaceIdent>,
    ) -> iceberg::Result<Vec<NamespaceIdent>> {
        Ok(vec![NamespaceIdent::new(NAMESPACE.to_string())])
    }

    async fn create_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        Err(unsupported("create namespaces"))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        Ok(Namespace::new(namespace.clone()))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        Ok(namespace.as_ref() == &[NAMESPACE.to_string()])
    }

    async fn update_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        Err(unsupported("update namespaces"))
    }

    async fn drop_namespace(&self, _namespace: &NamespaceIdent) -> iceberg::Result<()> {
        Err(unsupported("drop namespaces"))
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        Ok(self
            .tables
            .lock()
            .keys()
            .filter(|ident| ident.namespace() == namespace)
            .cloned()
            .collect())
    }

    /// Writes the new table's metadata as the first free version; `creation.location` is
    /// required (the topic's folder).
    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> iceberg::Result<Table> {
        if creation.location.is_none() {
            return Err(Error::new(
                ErrorKind::DataInvalid,
                "an archive table needs its location",
            ));
        }
        let ident = TableIdent::new(namespace.clone(), creation.name.clone());
        let metadata = TableMetadataBuilder::from_table_creation(creation)?
            .build()?
            .metadata;
        let location = self.write_next_version(&metadata, 0).await?;
        self.tables.lock().insert(ident.clone(), location.clone());
        self.table(ident, location, metadata)
    }

    async fn load_table(&self, ident: &TableIdent) -> iceberg::Result<Table> {
        let location = self.current_location(ident)?;
        let metadata = TableMetadata::read_from(&self.file_io, &location).await?;
        self.table(ident.clone(), location, metadata)
    }

    async fn drop_table(&self, ident: &TableIdent) -> iceberg::Result<()> {
        self.tables.lock().remove(ident);
        Ok(())
    }

    async fn purge_table(&self, _ident: &TableIdent) -> iceberg::Result<()> {
        Err(unsupported("purge tables"))
    }

    async fn table_exists(&self, ident: &TableIdent) -> iceberg::Result<bool> {
        Ok(self.tables.lock().contains_key(ident))
    }

    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> iceberg::Result<()> {
        Err(unsupported("rename tables"))
    }

    async fn register_table(
        &self,
        ident: &TableIdent,
        metadata_location: String,
    ) -> iceberg::Result<Table> {
        let metadata = TableMetadata::read_from(&self.file_io, &metadata_location).await?;
        self.tables
            .lock()
            .insert(ident.clone(), metadata_location.clone());
        self.table(ident.clone(), metadata_location, metadata)
    }

    /// Checks the commit's requirements against the current metadata, applies its updates
    /// and writes the result as the next free version (what `TableCommit::apply` does, but
    /// for `v<N>` names, which it cannot parse).
    async fn update_table(&self, mut commit: TableCommit) -> iceberg::Result<Table> {
        let ident = commit.identifier().clone();
        let current = self.load_table(&ident).await?;
        for requirement in commit.take_requirements() {
            requirement.check(Some(current.metadata()))?;
        }
        let updates = commit.take_updates();
        // A commit that changes nothing leaves the table as it is.
        let table = self.write_next(ident, &current, updates).await?;
        Ok(table.unwrap_or(current))
    }
}
