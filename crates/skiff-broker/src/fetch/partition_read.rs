use bytes::Bytes;
use skiff_meta::index_entry::TxnMarker;
use skiff_meta::{ControllerState, IndexEntry, PartitionLog, TopicId};

/// An index entry to read, with what the state knows of its object copied out while the state
/// lock was held.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    pub object_id: u64,
    pub object_key: String,
    pub entry: IndexEntry,
    /// The object's batches carry their real offsets (a merge or compaction wrote it); a
    /// flushed segment's get them from the entry.
    pub real_offsets: bool,
    /// A transaction marker has no object: its control batch is built from the entry.
    pub marker: Option<TxnMarker>,
}

impl PlannedEntry {
    /// `None` when the entry's object is unknown (it cannot be read).
    pub fn new(state: &ControllerState, entry: &IndexEntry) -> Option<PlannedEntry> {
        if let Some(marker) = entry.as_marker() {
            return Some(PlannedEntry {
                object_id: entry.object_id,
                object_key: String::new(),
                entry: *entry,
                real_offsets: true,
                marker: Some(marker),
            });
        }
        let object_key = state.object_key(entry.object_id)?;
        Some(PlannedEntry {
            object_id: entry.object_id,
            object_key: object_key.to_string(),
            entry: *entry,
            real_offsets: state.object_has_real_offsets(entry.object_id),
            marker: None,
        })
    }
}

/// What one partition's fetch will read, decided under the state lock so no await happens
/// while it is held.
#[derive(Debug)]
pub struct PartitionReadPlan {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// No batch from this offset on is returned: the last stable offset at READ_COMMITTED,
    /// the high watermark otherwise.
    pub read_until: i64,
    pub entries: Vec<PlannedEntry>,
    /// At READ_COMMITTED, the (producer id, first offset) of each aborted transaction whose
    /// data overlaps the read, for the client to drop; `None` at READ_UNCOMMITTED.
    pub aborted: Option<Vec<(i64, i64)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    OffsetOutOfRange,
}

/// Picks the entries from `offset` on until about `max_bytes` are covered (always at least
/// one, so a batch larger than the limit can still be returned, as KIP-74 requires), up to the
/// last stable offset when `read_committed`.
pub fn plan_partition_read(
    state: &ControllerState,
    at: (TopicId, u32),
    log: &PartitionLog,
    offset: i64,
    max_bytes: usize,
    read_committed: bool,
) -> Result<PartitionReadPlan, ReadError> {
    let high_watermark = log.high_watermark();
    let log_start_offset = log.log_start_offset();
    if offset < log_start_offset || offset > high_watermark {
        return Err(ReadError::OffsetOutOfRange);
    }
    let last_stable_offset = state.last_stable_offset(at.0, at.1, log);
    let read_until = match read_committed {
        true => last_stable_offset,
        false => high_watermark,
    };
    let mut entries = Vec::new();
    let mut planned = 0usize;
    for entry in log.entries_from(offset) {
        if planned >= max_bytes || entry.base_offset >= read_until {
            break;
        }
        let Some(planned_entry) = PlannedEntry::new(state, entry) else {
            break;
        };
        // Only the part of the first entry from `offset` on counts, but we cannot know its
        // size without reading it; counting the whole entry errs towards reading less.
        planned += entry.len as usize;
        entries.push(planned_entry);
    }
    // Only the aborted transactions overlapping the data planned, so the list stays in
    // proportion to the answer, as Kafka bounds it by the fetched data.
    let planned_end = entries.last().map_or(offset, |e| {
        e.entry.last_offset.saturating_add(1).min(read_until)
    });
    let aborted = read_committed.then(|| {
        state
            .txns()
            .aborted_overlapping(at.0, at.1, offset, planned_end)
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    });
    Ok(PartitionReadPlan {
        high_watermark,
        last_stable_offset,
        log_start_offset,
        read_until,
        entries,
        aborted,
    })
}

/// Cuts whole batches out of an entry's bytes: skips batches that end before `from_offset`,
/// stops at the first batch starting at `until_offset` or later, and stops before exceeding
/// `budget`. With `allow_oversized_first` the first batch is taken even if it alone exceeds
/// the budget. Returns the slice (zero-copy) and whether the budget stopped it early.
pub fn slice_batches(
    bytes: &Bytes,
    from_offset: i64,
    until_offset: i64,
    budget: usize,
    allow_oversized_first: bool,
) -> (Bytes, bool) {
    let mut position = 0usize;
    let mut start = None;
    let mut end = 0usize;
    let mut full = false;
    for batch in skiff_records::batches(bytes) {
        let Ok(batch) = batch else { break };
        let len = batch.len();
        if batch.base_offset() >= until_offset {
            break;
        }
        let last_offset = batch.base_offset() + i64::from(batch.last_offset_delta());
        if last_offset < from_offset {
            position += len;
            continue;
        }
        let first = *start.get_or_insert(position);
        let taken = position - first;
        if taken + len > budget && !(taken == 0 && allow_oversized_first) {
            full = true;
            break;
        }
        position += len;
        end = position;
    }
    match start {
        Some(first) if end > first => (bytes.slice(first..end), full),
        _ => (Bytes::new(), full),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_meta::{
        AddPartitionsToTxn, BatchCommit, ChunkCommit, CreateTopics, EndTxn, InitTxnProducer,
        NewTopic, SegmentCommit, TxnProducer,
    };

    const T0: i64 = 1_700_000_000_000;

    fn batch(producer_id: i64, epoch: i16, base_sequence: i32) -> BatchCommit {
        BatchCommit {
            len: 100,
            offset_count: 2,
            record_count: 2,
            max_timestamp: T0,
            producer_id,
            producer_epoch: epoch,
            base_sequence,
        }
    }

    fn append(state: &mut ControllerState, topic: TopicId, batches: Vec<BatchCommit>) {
        let key = format!("segments/{}", state.objects().count());
        let size = 100 * batches.len() as u64;
        state
            .execute(SegmentCommit {
                object_key: key,
                object_size: size,
                broker_id: 1,
                append_time_ms: T0,
                chunks: vec![ChunkCommit {
                    topic_id: topic,
                    partition: 0,
                    position: 0,
                    batches,
                }],
            })
            .expect("committed");
    }

    #[test]
    fn read_committed_stops_at_the_lso_and_lists_aborted_transactions() {
        let mut state = ControllerState::default();
        let t = uuid::Uuid::from_u128(1);
        let created = state.execute(CreateTopics(vec![NewTopic {
            name: "t".into(),
            id: t,
            partitions: 1,
            configs: Default::default(),
            created_ms: T0,
        }]));
        assert_eq!(created.expect("applied"), vec![Ok(t)]);
        let pe = state
            .execute(InitTxnProducer {
                transactional_id: "app".into(),
                timeout_ms: 60_000,
                current: None,
                now_ms: T0,
            })
            .expect("applied")
            .expect("allocated");
        let producer = TxnProducer {
            transactional_id: "app".into(),
            producer_id: pe.id,
            epoch: pe.epoch,
        };
        let add = AddPartitionsToTxn {
            producer: producer.clone(),
            partitions: vec![(t, 0)],
            now_ms: T0,
        };
        // Offsets 0-1 plain, 2-3 the aborted transaction, 4 its marker, 5-6 plain, 7-8 an
        // open transaction.
        append(&mut state, t, vec![batch(-1, -1, -1)]);
        state.execute(add.clone()).expect("applied").expect("added");
        append(&mut state, t, vec![batch(pe.id, pe.epoch, 0)]);
        let end = EndTxn {
            producer,
            commit: false,
            now_ms: T0,
        };
        state.execute(end).expect("applied").expect("aborted");
        append(&mut state, t, vec![batch(-1, -1, -1)]);
        state.execute(add).expect("applied").expect("added");
        append(&mut state, t, vec![batch(pe.id, pe.epoch, 2)]);

        let topic = state.topic(&t).expect("topic");
        let log = &topic.partitions[0];
        let committed = plan_partition_read(&state, (t, 0), log, 0, 1 << 20, true).expect("plan");
        assert_eq!(
            (
                committed.high_watermark,
                committed.last_stable_offset,
                committed.read_until
            ),
            (9, 7, 7)
        );
        assert_eq!(committed.aborted, Some(vec![(pe.id, 2)]));
        let planned: Vec<(i64, bool)> = committed
            .entries
            .iter()
            .map(|e| (e.entry.base_offset, e.marker.is_some()))
            .collect();
        assert_eq!(planned, vec![(0, false), (2, false), (4, true), (5, false)]);

        let past = plan_partition_read(&state, (t, 0), log, 5, 1 << 20, true).expect("plan");
        assert_eq!(
            past.aborted,
            Some(vec![]),
            "the abort ended before the read"
        );
        let small = plan_partition_read(&state, (t, 0), log, 0, 1, true).expect("plan");
        assert_eq!(small.entries.len(), 1);
        assert_eq!(
            small.aborted,
            Some(vec![]),
            "only what overlaps the planned data"
        );
        let uncommitted =
            plan_partition_read(&state, (t, 0), log, 0, 1 << 20, false).expect("plan");
        assert_eq!(uncommitted.read_until, 9);
        assert_eq!(uncommitted.entries.len(), 5);
        assert_eq!(uncommitted.aborted, None);
    }
}
