//! Compaction of the archive's small files and manifests. Every archive commit is a fast
//! append: one new manifest, and a few data files per `partition=<p>/date=<d>` folder, so a
//! table archived every minute would list thousands of manifests in its head snapshot and
//! hold thousands of small Parquet files per day. When a commit leaves the head with more
//! than [`CompactionConfig::max_manifests`] manifests, or a folder with at least
//! [`CompactionConfig::min_small_files`] files under [`CompactionConfig::small_file_bytes`],
//! the catalog adds a `replace` snapshot on top, in the same metadata version, so it is
//! committed (or refused) with the same conditional Raft proposal as the append:
//!
//! - small files of a folder, in offset order, are read back and written again as files of up
//!   to the pass's target size (the same rows, the same columns, through the crate's rolling
//!   Parquet writer), at most [`CompactionConfig::max_rewrite_bytes`] read per commit;
//! - the new snapshot lists ONE manifest: every live data file as EXISTING (original sequence
//!   numbers), the rewritten ones as DELETED, the new ones as ADDED.
//!
//! The `iceberg` crate (0.10) has no rewrite or replace action (only fast append, expire,
//! properties and schema updates), so the snapshot is written here by hand with its manifest
//! and manifest-list writers. The replaced files stay reachable from older snapshots until
//! those expire, and are then orphans the collector deletes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFile, DataFileFormat, FormatVersion, ManifestEntry, ManifestList,
    ManifestWriterBuilder, Operation, PartitionKey, PrimitiveLiteral, Snapshot, Struct, Summary,
    TableMetadata,
};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Error, ErrorKind};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::properties::WriterProperties;

use crate::retention::{NewSnapshot, new_snapshot_id, write_manifest_list};
use crate::schema::arrow_schema;

/// The column whose lower bound orders a folder's files.
const OFFSET_COLUMN: &str = "offset";

/// When and how much a commit compacts.
#[derive(Debug, Clone)]
pub struct CompactionConfig {
    /// The head snapshot's manifests are merged into one past this many.
    pub max_manifests: usize,
    /// A data file under this many bytes is small.
    pub small_file_bytes: u64,
    /// A folder's small files are rewritten once it has this many.
    pub min_small_files: usize,
    /// At most this many bytes of small files are read and rewritten per commit (the rest
    /// waits for the next commit), so a commit's duration stays bounded.
    pub max_rewrite_bytes: u64,
    /// Rewritten files are closed past this many bytes (the pass's target size).
    pub target_file_bytes: usize,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            max_manifests: 16,
            small_file_bytes: 32 << 20,
            min_small_files: 8,
            max_rewrite_bytes: 512 << 20,
            target_file_bytes: 128 << 20,
        }
    }
}

/// A live data file of the head snapshot, with what an EXISTING entry must keep.
struct LiveFile {
    entry: Arc<ManifestEntry>,
    added_by: i64,
    data_sequence: i64,
}

/// Writes the data files, manifest and manifest list of a `replace` snapshot compacting
/// `table`'s head (see the module docs) and returns the snapshot, a child of the head, to add
/// and make current. `None` when nothing passed a threshold.
pub(crate) async fn compact(
    io: &FileIO,
    table: &TableMetadata,
    config: &CompactionConfig,
    properties: &WriterProperties,
    now_ms: i64,
) -> Result<Option<Snapshot>, Error> {
    let Some(head) = table.current_snapshot() else {
        return Ok(None);
    };
    if table.format_version() != FormatVersion::V2 {
        return Err(Error::new(
            ErrorKind::FeatureUnsupported,
            "archive compaction writes format version 2 manifests only",
        ));
    }
    let list = ManifestList::parse_with_version(
        &io.new_input(head.manifest_list())?.read().await?,
        table.format_version(),
    )?;
    let mut live = Vec::new();
    for manifest_file in list.entries() {
        if manifest_file.partition_spec_id != table.default_partition_spec_id() {
            // Written under another partitioning: the merged manifest could not hold it.
            return Ok(None);
        }
        let manifest = manifest_file.load_manifest(io).await?;
        for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
            if entry.content_type() != DataContentType::Data {
                // The archive never writes delete files; a table that has some is not ours
                // to rewrite.
                return Ok(None);
            }
            let data_sequence = entry.sequence_number().ok_or_else(|| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("{} has no sequence number", entry.file_path()),
                )
            })?;
            live.push(LiveFile {
                entry: entry.clone(),
                added_by: entry.snapshot_id().unwrap_or(head.snapshot_id()),
                data_sequence,
            });
        }
    }

    let rewrite = small_file_runs(table, &live, config);
    if rewrite.is_empty() && list.entries().len() <= config.max_manifests {
        return Ok(None);
    }

    let snapshot_id = new_snapshot_id(table);
    let sequence_number = table.next_sequence_number();
    let commit = uuid::Uuid::new_v4();
    let mut added: Vec<DataFile> = Vec::new();
    let mut replaced = vec![false; live.len()];
    for run in &rewrite {
        added.extend(rewrite_run(io, table, config, properties, &live, run, commit).await?);
        for &i in run {
            replaced[i] = true;
        }
    }

    let path = format!(
        "{}/metadata/{commit}-m0.{}",
        table.location(),
        DataFileFormat::Avro
    );
    let mut writer = ManifestWriterBuilder::new(
        io.new_output(path)?,
        Some(snapshot_id),
        table.current_schema().clone(),
        table.default_partition_spec().as_ref().clone(),
    )
    .build_v2_data();
    let (mut deleted_records, mut deleted_bytes) = (0u64, 0u64);
    for (file, replaced) in live.iter().zip(&replaced) {
        let data_file = file.entry.data_file().clone();
        if *replaced {
            deleted_records += file.entry.record_count();
            deleted_bytes += file.entry.file_size_in_bytes();
            writer.add_delete_file(
                data_file,
                file.data_sequence,
                file.entry.file_sequence_number,
            )?;
        } else {
            writer.add_existing_file(
                data_file,
                file.added_by,
                file.data_sequence,
                file.entry.file_sequence_number,
            )?;
        }
    }
    let (mut added_records, mut added_bytes) = (0u64, 0u64);
    for file in &added {
        added_records += file.record_count();
        added_bytes += file.file_size_in_bytes();
        writer.add_file(file.clone(), sequence_number)?;
    }
    if added_records != deleted_records {
        // Never commit a rewrite that lost or doubled rows.
        return Err(Error::new(
            ErrorKind::Unexpected,
            format!("compaction rewrote {deleted_records} rows as {added_records}"),
        ));
    }
    let manifest = writer.write_manifest_file().await?;

    let list_path = write_manifest_list(
        io,
        table,
        NewSnapshot {
            snapshot_id,
            parent_id: head.snapshot_id(),
            sequence_number,
            commit,
        },
        vec![manifest],
    )
    .await?;

    let deleted_files = replaced.iter().filter(|r| **r).count() as u64;
    let summary = Summary {
        operation: Operation::Replace,
        additional_properties: replace_summary(
            &head.summary().additional_properties,
            [
                ("added-data-files", added.len() as u64),
                ("deleted-data-files", deleted_files),
                ("added-records", added_records),
                ("deleted-records", deleted_records),
                ("added-files-size", added_bytes),
                ("removed-files-size", deleted_bytes),
            ],
            live.len() as u64 - deleted_files + added.len() as u64,
            live.iter()
                .map(|f| f.entry.file_size_in_bytes())
                .sum::<u64>()
                - deleted_bytes
                + added_bytes,
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

/// Per folder and size tier with at least `min_small_files` small files: those files
/// (indexes into `live`), oldest offsets first, within the commit's rewrite budget.
///
/// Tiers (sizes a factor of `min_small_files` apart) keep the rewriting bounded: files of one
/// tier merge into a file of about the next, so a byte is rewritten about
/// log_k(`small_file_bytes` / first file size) times, not once per later commit as when a
/// folder's growing compacted file joined every merge.
fn small_file_runs(
    table: &TableMetadata,
    live: &[LiveFile],
    config: &CompactionConfig,
) -> Vec<Vec<usize>> {
    let offset_field = table
        .current_schema()
        .field_by_name(OFFSET_COLUMN)
        .map(|f| f.id);
    let first_offset = |file: &LiveFile| match offset_field
        .and_then(|id| file.entry.data_file().lower_bounds().get(&id))
        .map(|bound| bound.literal())
    {
        Some(PrimitiveLiteral::Long(offset)) => *offset,
        _ => i64::MIN,
    };
    let mut folders: HashMap<(&Struct, u32), Vec<usize>> = HashMap::new();
    for (i, file) in live.iter().enumerate() {
        let data_file = file.entry.data_file();
        let size = data_file.file_size_in_bytes();
        if data_file.file_format() == DataFileFormat::Parquet && size < config.small_file_bytes {
            let tier = size_tier(size, config.min_small_files);
            folders
                .entry((data_file.partition(), tier))
                .or_default()
                .push(i);
        }
    }
    let mut runs: Vec<Vec<usize>> = folders
        .into_values()
        .filter(|files| files.len() >= config.min_small_files.max(2))
        .collect();
    for run in &mut runs {
        run.sort_by_key(|&i| first_offset(&live[i]));
    }
    // Oldest folders first, so a backlog is worked through in order across commits.
    runs.sort_by_key(|run| first_offset(&live[run[0]]));
    let mut budget = config.max_rewrite_bytes;
    let mut chosen = Vec::new();
    for mut run in runs {
        let mut taken = 0;
        for &i in &run {
            let size = live[i].entry.file_size_in_bytes();
            if size > budget {
                break;
            }
            budget -= size;
            taken += 1;
        }
        run.truncate(taken);
        if run.len() >= 2 {
            chosen.push(run);
        }
        if budget == 0 {
            break;
        }
    }
    chosen
}

/// `floor(log_k(size))` for `k = max(min_small_files, 2)`.
fn size_tier(size: u64, min_small_files: usize) -> u32 {
    let k = min_small_files.max(2) as u64;
    let mut tier = 0;
    let mut rest = size;
    while rest >= k {
        rest /= k;
        tier += 1;
    }
    tier
}

/// Reads the files of one folder in order and writes their rows as new files of the same
/// folder.
async fn rewrite_run(
    io: &FileIO,
    table: &TableMetadata,
    config: &CompactionConfig,
    properties: &WriterProperties,
    live: &[LiveFile],
    run: &[usize],
    commit: uuid::Uuid,
) -> Result<Vec<DataFile>, Error> {
    let schema = table.current_schema().clone();
    let arrow = arrow_schema(&schema)
        .map_err(|err| Error::new(ErrorKind::DataInvalid, format!("archive schema: {err}")))?;
    let partition = live[run[0]].entry.data_file().partition().clone();
    let key = PartitionKey::new(
        table.default_partition_spec().as_ref().clone(),
        schema.clone(),
        partition,
    );
    let rolling = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(properties.clone(), schema),
        config.target_file_bytes,
        io.clone(),
        DefaultLocationGenerator::new(table)?,
        DefaultFileNameGenerator::new(format!("compacted-{commit}"), None, DataFileFormat::Parquet),
    );
    let mut writer = DataFileWriterBuilder::new(rolling).build(Some(key)).await?;
    for &i in run {
        let path = live[i].entry.file_path();
        let bytes: Bytes = io.new_input(path)?.read().await?;
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
            bytes,
            ArrowReaderOptions::new().with_schema(arrow.clone()),
        )
        .and_then(|builder| builder.build())
        .map_err(|err| parquet_error(path, err))?;
        for batch in reader {
            let batch = batch.map_err(|err| {
                Error::new(ErrorKind::DataInvalid, format!("reading {path}: {err}"))
            })?;
            writer.write(batch).await?;
        }
    }
    writer.close().await
}

fn parquet_error(path: &str, err: parquet::errors::ParquetError) -> Error {
    Error::new(ErrorKind::DataInvalid, format!("reading {path}: {err}"))
}

/// Iceberg's summary fields for a replace: what changed, the totals after it (records stay),
/// and the head's own properties (the archived offsets) carried over.
fn replace_summary(
    previous: &HashMap<String, String>,
    changes: [(&str, u64); 6],
    total_files: u64,
    total_bytes: u64,
) -> HashMap<String, String> {
    let mut summary: HashMap<String, String> = previous
        .iter()
        .filter(|(name, _)| name.starts_with("skiff."))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    for (name, value) in changes {
        summary.insert(name.to_string(), value.to_string());
    }
    summary.insert("total-data-files".to_string(), total_files.to_string());
    summary.insert("total-files-size".to_string(), total_bytes.to_string());
    if let Some(records) = previous.get("total-records") {
        summary.insert("total-records".to_string(), records.clone());
    }
    summary
}
