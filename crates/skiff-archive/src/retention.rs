//! The archive's own retention (`skiff.archive.retention.ms`): data files whose newest record
//! is older than the cut-off leave the table in a `delete` snapshot, as whole files, the way
//! Kafka's retention removes whole segments. Files are partitioned by UTC day, so a file's
//! records span at most a day and a row outlives the retention by at most that.
//!
//! The `iceberg` crate (0.10) has no action that removes data files, so this writes the
//! snapshot itself: manifests whose files all expired are left out of the new manifest list,
//! manifests with some expired files are rewritten (kept files as EXISTING, expired ones as
//! DELETED, with their original sequence numbers), the others are listed unchanged. Removed
//! files stay reachable from older snapshots until those expire (a day, see
//! [`crate::PassConfig::snapshot_max_age`]), and are then orphans the collector deletes.

use std::collections::HashMap;

use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFileFormat, FormatVersion, ManifestFile, ManifestList, ManifestListWriter,
    ManifestWriterBuilder, Operation, PrimitiveLiteral, Snapshot, Summary, TableMetadata,
};
use iceberg::{Error, ErrorKind};

/// The column whose upper bound says how new a data file's records are.
const TIMESTAMP_COLUMN: &str = "timestamp";

/// Writes the manifests and manifest list of a snapshot that removes `table`'s data files
/// whose records are all older than `cutoff_ms`, and returns the snapshot (child of the
/// current one) to add and make current. `None` when no file expired.
pub(crate) async fn expire_data_files(
    io: &FileIO,
    table: &TableMetadata,
    cutoff_ms: i64,
    now_ms: i64,
) -> Result<Option<Snapshot>, Error> {
    let Some(head) = table.current_snapshot() else {
        return Ok(None);
    };
    if table.format_version() != FormatVersion::V2 {
        return Err(Error::new(
            ErrorKind::FeatureUnsupported,
            "archive retention writes format version 2 manifests only",
        ));
    }
    let Some(timestamp_field) = table
        .current_schema()
        .field_by_name(TIMESTAMP_COLUMN)
        .map(|f| f.id)
    else {
        return Ok(None);
    };
    let newest_ms = |file: &iceberg::spec::DataFile| match file
        .upper_bounds()
        .get(&timestamp_field)
        .map(|bound| bound.literal())
    {
        Some(PrimitiveLiteral::Long(micros)) => Some(micros.div_euclid(1_000)),
        _ => None,
    };
    let list = ManifestList::parse_with_version(
        &io.new_input(head.manifest_list())?.read().await?,
        table.format_version(),
    )?;

    let snapshot_id = new_snapshot_id(table);
    let sequence_number = table.next_sequence_number();
    let commit = uuid::Uuid::new_v4();
    let mut manifests: Vec<ManifestFile> = Vec::with_capacity(list.entries().len());
    let mut rewritten = 0;
    let (mut deleted_files, mut deleted_records, mut deleted_bytes) = (0u64, 0u64, 0u64);
    for manifest_file in list.entries() {
        let manifest = manifest_file.load_manifest(io).await?;
        let live: Vec<_> = manifest.entries().iter().filter(|e| e.is_alive()).collect();
        let expired = |entry: &&&std::sync::Arc<iceberg::spec::ManifestEntry>| {
            entry.content_type() == DataContentType::Data
                && newest_ms(entry.data_file()).is_some_and(|ms| ms < cutoff_ms)
        };
        let expiring = live.iter().filter(expired).count();
        for entry in live.iter().filter(expired) {
            deleted_files += 1;
            deleted_records += entry.record_count();
            deleted_bytes += entry.file_size_in_bytes();
        }
        if expiring == 0 {
            manifests.push(manifest_file.clone());
            continue;
        }
        if expiring == live.len() {
            continue;
        }
        let path = format!(
            "{}/metadata/{commit}-m{rewritten}.{}",
            table.location(),
            DataFileFormat::Avro
        );
        rewritten += 1;
        let mut writer = ManifestWriterBuilder::new(
            io.new_output(path)?,
            Some(snapshot_id),
            table.current_schema().clone(),
            table.default_partition_spec().as_ref().clone(),
        )
        .build_v2_data();
        for entry in live {
            let data_sequence = entry.sequence_number().ok_or_else(|| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("{} has no sequence number", entry.file_path()),
                )
            })?;
            let file = entry.data_file().clone();
            if expired(&&entry) {
                writer.add_delete_file(file, data_sequence, entry.file_sequence_number)?;
            } else {
                let added_by = entry.snapshot_id().unwrap_or(head.snapshot_id());
                writer.add_existing_file(
                    file,
                    added_by,
                    data_sequence,
                    entry.file_sequence_number,
                )?;
            }
        }
        manifests.push(writer.write_manifest_file().await?);
    }
    if deleted_files == 0 {
        return Ok(None);
    }

    let list_path = write_manifest_list(
        io,
        table,
        NewSnapshot {
            snapshot_id,
            parent_id: head.snapshot_id(),
            sequence_number,
            commit,
        },
        manifests,
    )
    .await?;

    let summary = Summary {
        operation: Operation::Delete,
        additional_properties: delete_summary(
            &head.summary().additional_properties,
            deleted_files,
            deleted_records,
            deleted_bytes,
        ),
    };
    Ok(Some(
        Snapshot::builder()
            .with_snapshot_id(snapshot_id)
            .with_parent_snapshot_id(Some(head.snapshot_id()))
            .with_sequence_number(sequence_number)
            .with_timestamp_ms(now_ms)
            .with_manifest_list(list_path)
            .with_summary(summary)
            .with_schema_id(table.current_schema_id())
            .build(),
    ))
}

/// Iceberg's summary fields for a delete: what went, and the totals after it.
fn delete_summary(
    previous: &HashMap<String, String>,
    files: u64,
    records: u64,
    bytes: u64,
) -> HashMap<String, String> {
    let mut summary = HashMap::from([
        ("deleted-data-files".to_string(), files.to_string()),
        ("deleted-records".to_string(), records.to_string()),
        ("removed-files-size".to_string(), bytes.to_string()),
    ]);
    for (total, removed) in [
        ("total-data-files", files),
        ("total-records", records),
        ("total-files-size", bytes),
    ] {
        if let Some(before) = previous.get(total).and_then(|v| v.parse::<u64>().ok()) {
            summary.insert(
                total.to_string(),
                before.saturating_sub(removed).to_string(),
            );
        }
    }
    summary
}

/// What names a new snapshot's manifest list and what it records.
pub(crate) struct NewSnapshot {
    pub(crate) snapshot_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) sequence_number: i64,
    /// The commit's unique id, in the file names it writes.
    pub(crate) commit: uuid::Uuid,
}

/// Writes the manifest list of a new snapshot over `manifests`; answers its path.
pub(crate) async fn write_manifest_list(
    io: &FileIO,
    table: &TableMetadata,
    snapshot: NewSnapshot,
    manifests: Vec<ManifestFile>,
) -> Result<String, Error> {
    let NewSnapshot {
        snapshot_id,
        parent_id,
        sequence_number,
        commit,
    } = snapshot;
    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-1-{commit}.{}",
        table.location(),
        DataFileFormat::Avro
    );
    let mut list_writer = ManifestListWriter::v2(
        io.new_output(&list_path)?.writer().await?,
        snapshot_id,
        Some(parent_id),
        sequence_number,
    );
    list_writer.add_manifests(manifests.into_iter())?;
    list_writer.close().await?;
    Ok(list_path)
}

/// A positive snapshot id no snapshot of `table` has.
pub(crate) fn new_snapshot_id(table: &TableMetadata) -> i64 {
    loop {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((high ^ low) >> 1) as i64;
        if table.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}
