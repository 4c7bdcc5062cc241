//! Kafka records into Arrow columns: stored batches are walked with the same
//! [`skiff_records::RecordWalk`] produce validation uses (all four codecs, decompressing as it
//! goes), and each record becomes one row of the archive schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Int32Builder, Int64Builder, LargeBinaryBuilder, ListBuilder, StringBuilder,
    StructBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Fields, SchemaRef};
use skiff_meta::state::{AbortedRanges, AbortedTxn};
use skiff_records::{BatchView, RecordsError, TimestampType, batches};

use crate::error::ArchiveError;

/// Decompressed bytes one stored batch may expand to; the broker refuses larger batches at
/// produce (`max.message.bytes` × 32), so this only stops damaged data.
const MAX_DECOMPRESSED_BATCH: usize = 256 << 20;
const MS_PER_DAY: i64 = 86_400_000;

/// What of a partition is committed, as a READ_COMMITTED consumer sees it: records before the
/// last stable offset, without those of aborted transactions. The archive takes only these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBounds {
    /// The partition's last stable offset: nothing at or past it is archived (yet).
    pub stable_offset: i64,
    /// The aborted transactions overlapping what is read, in marker order.
    pub aborted: Vec<AbortedTxn>,
}

impl Default for ReadBounds {
    fn default() -> Self {
        ReadBounds {
            stable_offset: i64::MAX,
            aborted: Vec::new(),
        }
    }
}

/// Rows of one Kafka partition waiting to be written, grouped by the UTC day of their
/// timestamp (the table's second partition field).
pub struct PartitionRows {
    topic: String,
    partition: i32,
    schema: SchemaRef,
    days: BTreeMap<i32, Columns>,
    /// Next offset expected; records below it are skipped (already archived, or an entry that
    /// starts before the progress).
    next_offset: i64,
    buffered_bytes: usize,
    stable_offset: i64,
    aborted: AbortedRanges,
}

/// What [`PartitionRows::append_batches`] took in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Appended {
    pub rows: u64,
    /// Last offset taken (the batch's last offset for a skipped control batch), if any.
    pub last_offset: Option<i64>,
}

impl PartitionRows {
    /// Rows for `topic`-`partition`, starting at offset `from_offset`.
    pub fn new(topic: &str, partition: i32, schema: SchemaRef, from_offset: i64) -> Self {
        Self::within(topic, partition, schema, from_offset, ReadBounds::default())
    }

    /// Rows for `topic`-`partition` from `from_offset`, only of committed records.
    pub fn within(
        topic: &str,
        partition: i32,
        schema: SchemaRef,
        from_offset: i64,
        bounds: ReadBounds,
    ) -> Self {
        Self {
            topic: topic.to_string(),
            partition,
            schema,
            days: BTreeMap::new(),
            next_offset: from_offset,
            buffered_bytes: 0,
            stable_offset: bounds.stable_offset,
            aborted: AbortedRanges::new(bounds.aborted),
        }
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The next offset this partition expects.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Key, value and header bytes buffered, a measure of the Arrow memory held.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Appends every record of concatenated stored batches (offsets as assigned, as a stored
    /// chunk with offsets patched or a fetch response holds them) from the next expected
    /// offset on, up to the last stable offset. Control batches and batches of aborted
    /// transactions are never archived. A gap in offsets is not an error (retention or
    /// compaction may have removed records); going backwards is.
    pub fn append_batches(&mut self, bytes: &[u8]) -> Result<Appended, ArchiveError> {
        let mut appended = Appended::default();
        for batch in batches(bytes) {
            let batch = batch.map_err(|source| self.records_error(source))?;
            if batch.last_offset() < self.next_offset {
                continue;
            }
            // The LSO is a batch's base offset (an open transaction's first) or the high
            // watermark, so no batch straddles it.
            if batch.base_offset() >= self.stable_offset {
                break;
            }
            let aborted = batch.is_transactional()
                && self
                    .aborted
                    .is_aborted(batch.producer_id(), batch.base_offset());
            if !batch.is_control() && !aborted {
                appended.rows += self.append_batch(&batch)?;
            }
            self.next_offset = batch.last_offset() + 1;
            appended.last_offset = Some(batch.last_offset());
        }
        Ok(appended)
    }

    fn append_batch(&mut self, batch: &BatchView<'_>) -> Result<u64, ArchiveError> {
        let timestamp_type = match batch.timestamp_type() {
            TimestampType::CreateTime => "CREATE_TIME",
            TimestampType::LogAppendTime => "LOG_APPEND_TIME",
        };
        let base_offset = batch.base_offset();
        let mut walk = batch
            .walk_records(MAX_DECOMPRESSED_BATCH)
            .map_err(|source| self.records_error(source))?;
        let mut rows = 0;
        while let Some(record) = walk.next_record() {
            let record = record.map_err(|source| self.records_error(source.into()))?;
            let offset = base_offset + i64::from(record.offset_delta);
            if offset < self.next_offset {
                continue;
            }
            let day = i32::try_from(record.timestamp.div_euclid(MS_PER_DAY)).unwrap_or(i32::MAX);
            let columns = match self.days.entry(day) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    entry.insert(Columns::new(&self.schema)?)
                }
            };
            columns.topic.append_value(&self.topic);
            columns.partition.append_value(self.partition);
            columns.offset.append_value(offset);
            columns
                .timestamp
                .append_value(record.timestamp.saturating_mul(1000));
            columns.timestamp_type.append_value(timestamp_type);
            columns.key.append_option(record.key);
            columns.value.append_option(record.value);
            let mut bytes = record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len);
            let headers = columns.headers.values();
            for header in record.headers.clone() {
                bytes += header.key.len() + header.value.map_or(0, <[u8]>::len);
                // Header keys were checked as UTF-8 at produce; a damaged one is kept readable.
                let key = String::from_utf8_lossy(header.key);
                header_key(headers).append_value(key);
                header_value(headers).append_option(header.value);
                headers.append(true);
            }
            columns.headers.append(true);
            self.buffered_bytes += bytes;
            rows += 1;
        }
        Ok(rows)
    }

    /// The buffered rows as Arrow batches, one per day, leaving the buffer empty.
    pub fn take(&mut self) -> Result<Vec<(i32, RecordBatch)>, ArchiveError> {
        self.buffered_bytes = 0;
        std::mem::take(&mut self.days)
            .into_iter()
            .map(|(day, mut columns)| Ok((day, columns.finish(&self.schema)?)))
            .collect()
    }

    fn records_error(&self, source: RecordsError) -> ArchiveError {
        ArchiveError::Records {
            topic: self.topic.clone(),
            partition: self.partition,
            source,
        }
    }
}

// The header struct's builders are made from the schema, so their types are known.
fn header_key(headers: &mut StructBuilder) -> &mut StringBuilder {
    headers
        .field_builder::<StringBuilder>(0)
        .expect("header key column is a string")
}

fn header_value(headers: &mut StructBuilder) -> &mut LargeBinaryBuilder {
    headers
        .field_builder::<LargeBinaryBuilder>(1)
        .expect("header value column is binary")
}

struct Columns {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    timestamp_type: StringBuilder,
    key: LargeBinaryBuilder,
    value: LargeBinaryBuilder,
    headers: ListBuilder<StructBuilder>,
}

impl Columns {
    fn new(schema: &SchemaRef) -> Result<Self, ArchiveError> {
        let field = |name: &str| schema.field_with_name(name).map(|f| f.data_type().clone());
        let timestamp = TimestampMicrosecondBuilder::new().with_data_type(field("timestamp")?);
        let DataType::List(item) = field("headers")? else {
            return Err(unexpected_type("headers"));
        };
        let DataType::Struct(header_fields) = item.data_type() else {
            return Err(unexpected_type("headers"));
        };
        let header_fields: Fields = header_fields.clone();
        let headers =
            ListBuilder::new(StructBuilder::from_fields(header_fields, 0)).with_field(item.clone());
        Ok(Self {
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp,
            timestamp_type: StringBuilder::new(),
            key: LargeBinaryBuilder::new(),
            value: LargeBinaryBuilder::new(),
            headers,
        })
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArchiveError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.timestamp_type.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            ArrayBuilder::finish(&mut self.headers),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

fn unexpected_type(column: &str) -> ArchiveError {
    ArchiveError::Arrow(arrow_schema::ArrowError::SchemaError(format!(
        "column {column} does not have the archive schema's type"
    )))
}
