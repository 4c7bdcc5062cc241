//! Random interleavings of producers, partitions, duplicates and commits against a simple
//! model of the rules: every outcome must match the model, offsets stay unique and gap-free,
//! index entries exactly tile [log_start, high_watermark), and their byte ranges are exactly
//! the appended batches' bytes.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use skiff_meta::*;

const T0: i64 = 1_700_000_000_000;
const PARTITIONS: u32 = 3;
const OBJECT_SIZE: u64 = 1 << 20;

#[derive(Debug, Clone)]
enum Kind {
    /// Non-idempotent.
    Plain,
    /// The next sequence (or `start` for a producer new to the partition).
    Next { start: i32 },
    /// Re-send the batch `age` positions back (0 = the newest).
    Retry { age: usize },
    /// Skip ahead in the sequence.
    Gap { skip: i32 },
    /// An epoch below the current one.
    StaleEpoch,
    /// Move to the next epoch, restarting at sequence 0.
    BumpEpoch,
}

#[derive(Debug, Clone)]
struct BatchOp {
    producer: i64,
    kind: Kind,
    offset_count: u32,
    len: u32,
    ts: i64,
}

#[derive(Debug, Clone)]
struct ChunkOp {
    /// `PARTITIONS` means a partition that does not exist.
    partition: u32,
    batches: Vec<BatchOp>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        2 => Just(Kind::Plain),
        6 => prop_oneof![Just(0), Just(i32::MAX - 2), 0..1000i32].prop_map(|start| Kind::Next { start }),
        3 => (0usize..8).prop_map(|age| Kind::Retry { age }),
        1 => (1i32..5).prop_map(|skip| Kind::Gap { skip }),
        1 => Just(Kind::StaleEpoch),
        1 => Just(Kind::BumpEpoch),
    ]
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    (0i64..3, kind(), 1u32..5, 1u32..200, 0i64..1000).prop_map(
        |(producer, kind, offset_count, len, ts)| BatchOp {
            producer,
            kind,
            offset_count,
            len,
            ts: T0 + ts,
        },
    )
}

fn commits() -> impl Strategy<Value = Vec<Vec<ChunkOp>>> {
    let chunk = (0..=PARTITIONS, prop::collection::vec(batch_op(), 1..6))
        .prop_map(|(partition, batches)| ChunkOp { partition, batches });
    prop::collection::vec(prop::collection::vec(chunk, 1..4), 1..16)
}

fn seq_add(seq: i32, n: u32) -> i32 {
    ((i64::from(seq) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

/// What the model knows about one producer on one partition: all batches of its current epoch.
#[derive(Debug, Clone)]
struct ModelProducer {
    epoch: i16,
    batches: Vec<(i32, i32, i64, u32)>,
}

impl ModelProducer {
    fn next_seq(&self) -> i32 {
        self.batches.last().map_or(0, |b| seq_add(b.1, 1))
    }
}

#[derive(Default)]
struct Model {
    high_watermark: HashMap<u32, i64>,
    producers: HashMap<(i64, u32), ModelProducer>,
}

impl Model {
    /// Turns an op into a concrete batch and the outcome the rules demand.
    fn plan(&mut self, partition: u32, op: &BatchOp) -> (BatchCommit, BatchOutcome) {
        let hw = *self.high_watermark.get(&partition).unwrap_or(&0);
        let mut batch = BatchCommit {
            len: op.len,
            offset_count: op.offset_count,
            record_count: op.offset_count,
            max_timestamp: op.ts,
            producer_id: op.producer,
            producer_epoch: 0,
            base_sequence: 0,
        };
        let key = (op.producer, partition);
        let state = self.producers.get(&key).cloned();
        let append = |model: &mut Model, epoch: i16, seq: i32, batch: &mut BatchCommit| {
            batch.producer_epoch = epoch;
            batch.base_sequence = seq;
            let last = seq_add(seq, batch.offset_count - 1);
            let entry = model.producers.entry(key).or_insert(ModelProducer {
                epoch,
                batches: vec![],
            });
            if entry.epoch != epoch {
                *entry = ModelProducer {
                    epoch,
                    batches: vec![],
                };
            }
            entry.batches.push((seq, last, hw, batch.offset_count));
            model
                .high_watermark
                .insert(partition, hw + i64::from(batch.offset_count));
            BatchOutcome::Appended { base_offset: hw }
        };
        let Some(state) = state else {
            return match op.kind {
                Kind::Plain => {
                    batch.producer_id = -1;
                    batch.producer_epoch = -1;
                    batch.base_sequence = -1;
                    self.high_watermark
                        .insert(partition, hw + i64::from(op.offset_count));
                    (batch, BatchOutcome::Appended { base_offset: hw })
                }
                Kind::Next { start } => {
                    let outcome = append(self, 0, start, &mut batch);
                    (batch, outcome)
                }
                // Without state any epoch and sequence is accepted.
                _ => {
                    let outcome = append(self, 2, 17, &mut batch);
                    (batch, outcome)
                }
            };
        };
        let next = state.next_seq();
        match op.kind {
            Kind::Plain => {
                batch.producer_id = -1;
                batch.producer_epoch = -1;
                batch.base_sequence = -1;
                self.high_watermark
                    .insert(partition, hw + i64::from(op.offset_count));
                (batch, BatchOutcome::Appended { base_offset: hw })
            }
            Kind::Next { .. } => {
                let outcome = append(self, state.epoch, next, &mut batch);
                (batch, outcome)
            }
            Kind::Retry { age } => {
                let index = state.batches.len() - 1 - (age % state.batches.len());
                let (first, _, base, offset_count) = state.batches[index];
                batch.producer_epoch = state.epoch;
                batch.base_sequence = first;
                batch.offset_count = offset_count;
                let outcome = if age % state.batches.len() < 5 {
                    BatchOutcome::Duplicate { base_offset: base }
                } else {
                    BatchOutcome::Rejected(ProduceError::OutOfOrderSequence {
                        expected: next,
                        got: first,
                    })
                };
                (batch, outcome)
            }
            Kind::Gap { skip } => {
                let got = seq_add(next, skip as u32);
                batch.producer_epoch = state.epoch;
                batch.base_sequence = got;
                (
                    batch,
                    BatchOutcome::Rejected(ProduceError::OutOfOrderSequence {
                        expected: next,
                        got,
                    }),
                )
            }
            Kind::StaleEpoch if state.epoch > 0 => {
                batch.producer_epoch = state.epoch - 1;
                batch.base_sequence = next;
                let error = ProduceError::InvalidProducerEpoch {
                    current: state.epoch,
                    got: state.epoch - 1,
                };
                (batch, BatchOutcome::Rejected(error))
            }
            Kind::StaleEpoch | Kind::BumpEpoch => {
                let outcome = append(self, state.epoch + 1, 0, &mut batch);
                (batch, outcome)
            }
        }
    }
}

/// Groups consecutive appended batches into the index entries the rules call for.
fn expected_entries(
    object_id: u64,
    position: u64,
    batches: &[BatchCommit],
    outcomes: &[BatchOutcome],
) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut pos = position;
    let mut extend = false;
    for (batch, outcome) in batches.iter().zip(outcomes) {
        if let BatchOutcome::Appended { base_offset } = outcome {
            let last_offset = base_offset + i64::from(batch.offset_count) - 1;
            match entries.last_mut() {
                Some(e) if extend => {
                    e.last_offset = last_offset;
                    e.len += batch.len;
                    e.max_timestamp = e.max_timestamp.max(batch.max_timestamp);
                }
                _ => entries.push(IndexEntry {
                    base_offset: *base_offset,
                    last_offset,
                    object_id,
                    position: pos,
                    len: batch.len,
                    max_timestamp: batch.max_timestamp,
                }),
            }
            extend = true;
        } else {
            extend = false;
        }
        pos += u64::from(batch.len);
    }
    entries
}

fn apply_commit(
    state: &mut ControllerState,
    object: u64,
    cmd: SegmentCommit,
) -> SegmentCommitResult {
    match state.apply(&Command::CommitSegment(cmd)) {
        CommandResponse::SegmentCommitted(result) => result,
        other => panic!("unexpected response {other:?} for object {object}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn offsets_and_index_follow_the_rules(commits in commits()) {
        let topic = uuid::Uuid::from_u128(1);
        let mut state = ControllerState::default();
        state.apply(&Command::CreateTopics(CreateTopics(vec![NewTopic {
            name: "t".into(), id: topic, partitions: PARTITIONS, configs: BTreeMap::new(), created_ms: T0,
        }])));
        let mut model = Model::default();
        let mut appended: HashMap<u32, Vec<(i64, u32)>> = HashMap::new();
        let mut added_entries: HashMap<u32, Vec<IndexEntry>> = HashMap::new();

        for (n, chunk_ops) in commits.iter().enumerate() {
            let mut position = 0u64;
            let mut chunks = Vec::new();
            let mut planned = Vec::new();
            for op in chunk_ops {
                let (batches, outcomes): (Vec<_>, Vec<_>) = if op.partition < PARTITIONS {
                    op.batches.iter().map(|b| model.plan(op.partition, b)).unzip()
                } else {
                    op.batches.iter().map(|b| (BatchCommit { len: b.len, offset_count: b.offset_count, record_count: 1,
                        max_timestamp: b.ts, producer_id: -1, producer_epoch: -1, base_sequence: -1 }, BatchOutcome::Appended { base_offset: 0 })).unzip()
                };
                let chunk = ChunkCommit { topic_id: topic, partition: op.partition, position, batches: batches.clone() };
                position += batches.iter().map(|b| u64::from(b.len)).sum::<u64>();
                planned.push((op.partition, position - chunk.batches.iter().map(|b| u64::from(b.len)).sum::<u64>(), batches, outcomes));
                chunks.push(chunk);
            }
            let result = apply_commit(&mut state, n as u64, SegmentCommit {
                object_key: format!("o{n}"), object_size: OBJECT_SIZE, broker_id: 1, append_time_ms: T0, chunks,
            });
            prop_assert_eq!(result.chunks.len(), planned.len());
            let mut live = 0u32;
            for ((partition, chunk_position, batches, expected), outcome) in planned.iter().zip(&result.chunks) {
                if *partition >= PARTITIONS {
                    prop_assert_eq!(outcome, &ChunkOutcome::UnknownTopicOrPartition);
                    continue;
                }
                let ChunkOutcome::Committed { batches: outcomes, entries } = outcome else {
                    return Err(TestCaseError::fail("chunk for an existing partition was not committed"));
                };
                prop_assert_eq!(outcomes, expected);
                prop_assert_eq!(entries, &expected_entries(result.object_id, *chunk_position, batches, outcomes));
                live += entries.len() as u32;
                added_entries.entry(*partition).or_default().extend(entries.iter().copied());
                for (batch, outcome) in batches.iter().zip(outcomes) {
                    if let BatchOutcome::Appended { base_offset } = outcome {
                        appended.entry(*partition).or_default().push((*base_offset, batch.offset_count));
                    }
                }
            }
            prop_assert_eq!(state.object(result.object_id).map(|o| o.live_entries), Some(live));
        }

        let topic = state.topic(&topic).expect("topic");
        for (p, log) in (0u32..).zip(&topic.partitions) {
            // Appended offsets are unique and gap-free from 0 to the high watermark.
            let mut ranges = appended.remove(&p).unwrap_or_default();
            ranges.sort_unstable();
            let mut next = 0i64;
            for (base, count) in ranges {
                prop_assert_eq!(base, next);
                next += i64::from(count);
            }
            prop_assert_eq!(log.high_watermark(), next);
            // The index tiles [log_start, high_watermark) and is exactly what commits added.
            let entries: Vec<IndexEntry> = log.entries().copied().collect();
            let mut expected_base = log.log_start_offset();
            for e in &entries {
                prop_assert_eq!(e.base_offset, expected_base);
                prop_assert!(e.last_offset >= e.base_offset);
                expected_base = e.last_offset + 1;
            }
            prop_assert_eq!(expected_base, log.high_watermark());
            prop_assert_eq!(&entries, &added_entries.remove(&p).unwrap_or_default());
            prop_assert_eq!(log.size_bytes(), entries.iter().map(|e| u64::from(e.len)).sum::<u64>());
            for offset in 0..log.high_watermark() {
                let found = log.entries_from(offset).next().copied();
                prop_assert!(found.is_some_and(|e| e.base_offset <= offset && offset <= e.last_offset));
            }
        }

        // Snapshots carry the state exactly.
        let bytes = postcard::to_allocvec(&state).expect("encode");
        let decoded: ControllerState = postcard::from_bytes(&bytes).expect("decode");
        prop_assert_eq!(decoded, state);
    }
}
