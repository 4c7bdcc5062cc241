//! One archive pass over a topic: open (or create) the topic's table at its committed
//! metadata, turn each partition's stored batches into Parquet data files, and append them in
//! one Iceberg snapshot written as the next metadata version. The pass never moves the
//! table's pointer: the caller commits the returned [`ArchiveCommit`] to the controller (only
//! if the progress it started from is still current) and then calls [`publish_version_hint`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_schema::SchemaRef as ArrowSchemaRef;
use bytes::Bytes;
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::{DataFile, DataFileFormat, Literal, PartitionKey, Struct};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use skiff_storage::{ObjectPath, SegmentStore};

use crate::catalog::{ArchiveCatalog, NAMESPACE, metadata_version};
use crate::compaction::CompactionConfig;
use crate::error::ArchiveError;
use crate::rows::{PartitionRows, ReadBounds};
use crate::schema::{arrow_schema, partition_spec, table_schema};
use crate::storage::StoreStorageFactory;

/// Arrow rows buffered per partition before they go to the Parquet writer.
const ROWS_FLUSH_BYTES: usize = 8 << 20;
/// Snapshot summary key listing the partitions and last offsets a snapshot archived.
pub const SNAPSHOT_OFFSETS_PROPERTY: &str = "skiff.archive.last-offsets";
/// Table property set when a table is created in a folder that held a committed table
/// already (its topic was deleted and one of the same name archives now): milliseconds since
/// the epoch before which the folder's files belong to that earlier table, which orphan
/// collection leaves alone.
pub const EARLIER_TABLE_BEFORE_PROPERTY: &str = "skiff.archive.earlier-table-before-ms";

/// Settings of a pass.
#[derive(Debug, Clone)]
pub struct PassConfig {
    /// A data file is closed and a new one started past this many bytes.
    pub target_file_bytes: usize,
    pub zstd_level: i32,
    /// Snapshots older than this are expired at each commit (the current one is always kept), so
    /// the metadata file, rewritten by every commit, stays small however long the topic
    /// archives; time travel reaches this far back. Iceberg's own default is 5 days, which at
    /// a one-minute archive interval is 7,200 snapshots in every metadata file.
    pub snapshot_max_age: std::time::Duration,
    /// The topic's `skiff.archive.retention.ms`: each commit removes the data files whose
    /// records are all older than this. `None` keeps them forever.
    pub retention: Option<std::time::Duration>,
    /// Small-file and manifest compaction at commit (see [`crate::compaction`]); its
    /// `target_file_bytes` is this config's. `None` never compacts.
    pub compaction: Option<CompactionConfig>,
}

impl Default for PassConfig {
    fn default() -> Self {
        Self {
            target_file_bytes: 128 << 20,
            zstd_level: 1,
            snapshot_max_age: std::time::Duration::from_secs(24 * 3600),
            retention: None,
            compaction: Some(CompactionConfig::default()),
        }
    }
}

/// The object path of a topic's table folder, relative to the store root.
pub fn table_path(topic: &str) -> String {
    format!("archive/{topic}")
}

/// What a pass wrote, to be committed to the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveCommit {
    pub topic: String,
    /// The metadata the pass started from (`None`: the table did not exist).
    pub previous_metadata: Option<String>,
    /// The new metadata file, `.../metadata/v<N>.metadata.json`.
    pub metadata_location: String,
    /// Per partition: the last offset now archived (control batches included).
    pub last_offsets: BTreeMap<i32, i64>,
    pub rows: u64,
    pub data_files: usize,
    pub data_bytes: u64,
}

struct OpenPartition {
    rows: PartitionRows,
    writer: Writer,
    first_next_offset: i64,
}

type Writer = FanoutWriter<
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>,
>;

/// An archive pass in progress.
pub struct ArchivePass {
    topic: String,
    store: SegmentStore,
    catalog: ArchiveCatalog,
    table: Table,
    previous_metadata: Option<String>,
    arrow_schema: ArrowSchemaRef,
    files: RollingFileWriterBuilder<
        ParquetWriterBuilder,
        DefaultLocationGenerator,
        DefaultFileNameGenerator,
    >,
    open: Option<OpenPartition>,
    data_files: Vec<DataFile>,
    last_offsets: BTreeMap<i32, i64>,
    rows: u64,
}

impl ArchivePass {
    /// Opens `topic`'s table at `current_metadata` (the location the controller holds), or
    /// creates it under `archive/<topic>/` when there is none.
    pub async fn begin(
        store: &SegmentStore,
        topic: &str,
        current_metadata: Option<&str>,
        config: &PassConfig,
    ) -> Result<Self, ArchiveError> {
        let file_io = file_io(store);
        let catalog = ArchiveCatalog::new(store.clone(), file_io.clone())
            .expiring_snapshots_after(config.snapshot_max_age)
            .with_retention(config.retention)
            .with_compaction(match &config.compaction {
                Some(compaction) => Some((
                    CompactionConfig {
                        target_file_bytes: config.target_file_bytes,
                        ..compaction.clone()
                    },
                    writer_properties(config)?,
                )),
                None => None,
            });
        let ident = TableIdent::new(
            NamespaceIdent::new(NAMESPACE.to_string()),
            topic.to_string(),
        );
        let table = match current_metadata {
            Some(location) => catalog.register_table(&ident, location.to_string()).await?,
            None => {
                let mut properties = vec![
                    (
                        "write.parquet.compression-codec".to_string(),
                        "zstd".to_string(),
                    ),
                    ("skiff.topic".to_string(), topic.to_string()),
                ];
                if store
                    .object_size(&version_hint_path(topic)?)
                    .await?
                    .is_some()
                {
                    let now_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    properties.push((
                        EARLIER_TABLE_BEFORE_PROPERTY.to_string(),
                        now_ms.to_string(),
                    ));
                }
                let creation = TableCreation::builder()
                    .name(topic.to_string())
                    .location(format!("{}/{}", store.root_url(), table_path(topic)))
                    .schema(table_schema()?)
                    .partition_spec(partition_spec()?)
                    .properties(properties)
                    .build();
                catalog.create_table(ident.namespace(), creation).await?
            }
        };
        let schema = table.metadata().current_schema().clone();
        let arrow_schema = arrow_schema(&schema)?;
        let parquet = ParquetWriterBuilder::new(writer_properties(config)?, schema);
        // Unique per pass, so no two passes (even one that lost its lease) name a file alike.
        let file_names = DefaultFileNameGenerator::new(
            format!("part-{}", uuid::Uuid::new_v4()),
            None,
            DataFileFormat::Parquet,
        );
        let rolling = RollingFileWriterBuilder::new(
            parquet,
            config.target_file_bytes,
            file_io,
            DefaultLocationGenerator::new(table.metadata())?,
            file_names,
        );
        Ok(Self {
            topic: topic.to_string(),
            store: store.clone(),
            catalog,
            table,
            previous_metadata: current_metadata.map(str::to_string),
            arrow_schema,
            files: rolling,
            open: None,
            data_files: Vec::new(),
            last_offsets: BTreeMap::new(),
            rows: 0,
        })
    }

    /// The table as the pass opened it.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Starts archiving `partition` from `from_offset` (one past the last archived offset).
    /// Finishes the partition started before, if any.
    pub async fn start_partition(
        &mut self,
        partition: i32,
        from_offset: i64,
    ) -> Result<(), ArchiveError> {
        self.start_partition_within(partition, from_offset, ReadBounds::default())
            .await
    }

    /// Like [`ArchivePass::start_partition`], archiving only the committed records `bounds`
    /// describes (what a READ_COMMITTED consumer reads).
    pub async fn start_partition_within(
        &mut self,
        partition: i32,
        from_offset: i64,
        bounds: ReadBounds,
    ) -> Result<(), ArchiveError> {
        self.finish_partition().await?;
        self.open = Some(OpenPartition {
            rows: PartitionRows::within(
                &self.topic,
                partition,
                self.arrow_schema.clone(),
                from_offset,
                bounds,
            ),
            writer: FanoutWriter::new(DataFileWriterBuilder::new(self.files.clone())),
            first_next_offset: from_offset,
        });
        Ok(())
    }

    /// Appends stored batches (offsets assigned) of the started partition; records before
    /// the partition's next offset are skipped. Returns the rows taken.
    pub async fn append(&mut self, batches: &[u8]) -> Result<u64, ArchiveError> {
        let Some(open) = self.open.as_mut() else {
            return Err(ArchiveError::Metadata {
                location: self.topic.clone(),
                reason: "append before start_partition".to_string(),
            });
        };
        let appended = open.rows.append_batches(batches)?;
        self.rows += appended.rows;
        if open.rows.buffered_bytes() >= ROWS_FLUSH_BYTES {
            flush_rows(&self.table, open).await?;
        }
        Ok(appended.rows)
    }

    /// The next offset of the started partition.
    pub fn next_offset(&self) -> Option<i64> {
        self.open.as_ref().map(|open| open.rows.next_offset())
    }

    /// Closes the started partition's data files.
    pub async fn finish_partition(&mut self) -> Result<(), ArchiveError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        flush_rows(&self.table, &mut open).await?;
        let files: Vec<DataFile> = open.writer.close().await?;
        self.data_files.extend(files);
        let next = open.rows.next_offset();
        if next > open.first_next_offset {
            self.last_offsets.insert(open.rows.partition(), next - 1);
        }
        Ok(())
    }

    /// Appends every data file written in one snapshot and writes the next metadata version.
    /// With nothing new, an existing table still gets retention and snapshot expiry (a
    /// version with no rows); `None` when there was nothing to do either.
    pub async fn commit(mut self) -> Result<Option<ArchiveCommit>, ArchiveError> {
        self.finish_partition().await?;
        if self.last_offsets.is_empty() {
            if self.previous_metadata.is_none() {
                return Ok(None);
            }
            let Some(table) = self.catalog.upkeep(self.table.identifier()).await? else {
                return Ok(None);
            };
            return Ok(Some(ArchiveCommit {
                topic: self.topic,
                previous_metadata: self.previous_metadata,
                metadata_location: table.metadata_location_result()?.to_string(),
                last_offsets: BTreeMap::new(),
                rows: 0,
                data_files: 0,
                data_bytes: 0,
            }));
        }
        let data_bytes = self
            .data_files
            .iter()
            .map(DataFile::file_size_in_bytes)
            .sum();
        let data_files = self.data_files.len();
        let offsets = self
            .last_offsets
            .iter()
            .map(|(partition, offset)| format!("{partition}:{offset}"))
            .collect::<Vec<_>>()
            .join(",");
        let transaction = Transaction::new(&self.table);
        let append = transaction
            .fast_append()
            .add_data_files(std::mem::take(&mut self.data_files))
            .set_snapshot_properties(HashMap::from([(
                SNAPSHOT_OFFSETS_PROPERTY.to_string(),
                offsets,
            )]));
        let table = append.apply(transaction)?.commit(&self.catalog).await?;
        let metadata_location = table.metadata_location_result()?.to_string();
        Ok(Some(ArchiveCommit {
            topic: self.topic,
            previous_metadata: self.previous_metadata,
            metadata_location,
            last_offsets: self.last_offsets,
            rows: self.rows,
            data_files,
            data_bytes,
        }))
    }

    /// The store the pass writes to.
    pub fn store(&self) -> &SegmentStore {
        &self.store
    }
}

/// Writes `metadata/version-hint.text` naming the committed version, for engines that open
/// the table by path. Call only after the controller accepted the commit.
pub async fn publish_version_hint(
    store: &SegmentStore,
    topic: &str,
    metadata_location: &str,
) -> Result<(), ArchiveError> {
    let version = metadata_version(metadata_location).ok_or_else(|| ArchiveError::Metadata {
        location: metadata_location.to_string(),
        reason: "not a v<N>.metadata.json location".to_string(),
    })?;
    let path = version_hint_path(topic)?;
    store
        .put_object(&path, Bytes::from(version.to_string()), true)
        .await?;
    Ok(())
}

/// `archive/<topic>/metadata/version-hint.text`.
pub(crate) fn version_hint_path(topic: &str) -> Result<ObjectPath, ArchiveError> {
    let path = format!("{}/metadata/version-hint.text", table_path(topic));
    ObjectPath::parse(&path).map_err(|err| ArchiveError::Metadata {
        location: path.clone(),
        reason: err.to_string(),
    })
}

/// A FileIO over Skiff's object store.
pub fn file_io(store: &SegmentStore) -> FileIO {
    FileIOBuilder::new(Arc::new(StoreStorageFactory::new(store.clone()))).build()
}

async fn flush_rows(table: &Table, open: &mut OpenPartition) -> Result<(), ArchiveError> {
    let partition = open.rows.partition();
    for (day, batch) in open.rows.take()? {
        let key = PartitionKey::new(
            table.metadata().default_partition_spec().as_ref().clone(),
            table.metadata().current_schema().clone(),
            Struct::from_iter([Some(Literal::int(partition)), Some(Literal::date(day))]),
        );
        open.writer.write(key, batch).await?;
    }
    Ok(())
}

/// zstd everywhere; statistics where a reader prunes with them: page-level (with the column
/// index) on offset and timestamp, chunk-level on the small columns, none on values and
/// headers, whose min/max would only cost space. Values are not dictionary-encoded.
fn writer_properties(config: &PassConfig) -> Result<WriterProperties, ArchiveError> {
    let level = ZstdLevel::try_new(config.zstd_level).map_err(|err| ArchiveError::Metadata {
        location: "zstd level".to_string(),
        reason: err.to_string(),
    })?;
    let column = |name: &str| ColumnPath::from(name);
    let header_column = |name: &str| {
        ColumnPath::new(vec![
            "headers".to_string(),
            "list".to_string(),
            "element".to_string(),
            name.to_string(),
        ])
    };
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(column("offset"), EnabledStatistics::Page)
        .set_column_statistics_enabled(column("timestamp"), EnabledStatistics::Page)
        .set_column_statistics_enabled(column("value"), EnabledStatistics::None)
        .set_column_dictionary_enabled(column("value"), false)
        .set_column_dictionary_enabled(column("key"), false)
        .set_column_statistics_enabled(header_column("key"), EnabledStatistics::None)
        .set_column_statistics_enabled(header_column("value"), EnabledStatistics::None)
        .set_column_dictionary_enabled(header_column("value"), false)
        .build())
}
