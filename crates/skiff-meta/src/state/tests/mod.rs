//! Unit tests of the state machine rules, with small helpers to build commands.

mod acls;
mod archive;
mod broker_configs;
mod brokers;
mod condemned;
mod groups;
mod idempotence;
mod jobs;
mod limits;
mod producers;
mod retention;
mod segments;
mod topics;
mod txns;

use std::collections::BTreeMap;

use super::ControllerState;
use crate::command::*;
use crate::ids::TopicId;
use crate::index_entry::IndexEntry;
use crate::proposal::Proposal;

/// Applies a proposal and returns its typed answer.
fn run<P: Proposal>(state: &mut ControllerState, proposal: P) -> P::Answer {
    match state.execute(proposal) {
        Ok(answer) => answer,
        Err(e) => panic!("{e}"),
    }
}

/// A realistic command time (Nov 2023) so time arithmetic looks like production.
const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 60 * 60 * 1000;
const DAY: i64 = 24 * HOUR;
const OBJECT_SIZE: u64 = 1 << 40;

fn topic_id(n: u128) -> TopicId {
    uuid::Uuid::from_u128(n)
}

fn new_topic(name: &str, id: TopicId, partitions: u32) -> NewTopic {
    NewTopic {
        name: name.to_string(),
        id,
        partitions,
        configs: BTreeMap::new(),
        created_ms: T0,
    }
}

fn create_topics(
    state: &mut ControllerState,
    topics: Vec<NewTopic>,
) -> Vec<Result<TopicId, TopicError>> {
    run(state, CreateTopics(topics))
}

/// A state with one topic "t" of `partitions` partitions, id 1.
fn state_with_topic(partitions: u32) -> (ControllerState, TopicId) {
    let mut state = ControllerState::default();
    let id = topic_id(1);
    assert_eq!(
        create_topics(&mut state, vec![new_topic("t", id, partitions)]),
        vec![Ok(id)]
    );
    (state, id)
}

/// A non-idempotent batch.
fn plain(len: u32, offset_count: u32) -> BatchCommit {
    BatchCommit {
        len,
        offset_count,
        record_count: offset_count,
        max_timestamp: T0,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    }
}

/// An idempotent batch of 100 bytes.
fn idem(producer_id: i64, epoch: i16, base_sequence: i32, offset_count: u32) -> BatchCommit {
    BatchCommit {
        len: 100,
        offset_count,
        record_count: offset_count,
        max_timestamp: T0,
        producer_id,
        producer_epoch: epoch,
        base_sequence,
    }
}

fn chunk(topic: TopicId, partition: u32, position: u64, batches: Vec<BatchCommit>) -> ChunkCommit {
    ChunkCommit {
        topic_id: topic,
        partition,
        position,
        batches,
    }
}

fn commit_at(
    state: &mut ControllerState,
    time_ms: i64,
    chunks: Vec<ChunkCommit>,
) -> SegmentCommitResult {
    let commit = SegmentCommit {
        object_key: format!("segments/obj-{}", state.next_object_id),
        object_size: OBJECT_SIZE,
        broker_id: 1,
        append_time_ms: time_ms,
        chunks,
    };
    run(state, commit)
}

fn commit(state: &mut ControllerState, chunks: Vec<ChunkCommit>) -> SegmentCommitResult {
    commit_at(state, T0, chunks)
}

/// Commits one chunk for (topic, partition) at position 0 and returns its batch outcomes.
fn commit_batches(
    state: &mut ControllerState,
    topic: TopicId,
    partition: u32,
    batches: Vec<BatchCommit>,
) -> Vec<BatchOutcome> {
    commit_batches_at(state, T0, topic, partition, batches)
}

fn commit_batches_at(
    state: &mut ControllerState,
    time_ms: i64,
    topic: TopicId,
    partition: u32,
    batches: Vec<BatchCommit>,
) -> Vec<BatchOutcome> {
    let result = commit_at(state, time_ms, vec![chunk(topic, partition, 0, batches)]);
    committed(&result.chunks[0]).0.to_vec()
}

fn committed(outcome: &ChunkOutcome) -> (&[BatchOutcome], &[IndexEntry]) {
    match outcome {
        ChunkOutcome::Committed { batches, entries } => (batches, entries),
        other => panic!("chunk was not committed: {other:?}"),
    }
}

fn appended(base_offset: i64) -> BatchOutcome {
    BatchOutcome::Appended { base_offset }
}

fn out_of_order(expected: i32, got: i32) -> BatchOutcome {
    BatchOutcome::Rejected(ProduceError::OutOfOrderSequence { expected, got })
}

fn partition(
    state: &ControllerState,
    topic: TopicId,
    partition: u32,
) -> &crate::state::PartitionLog {
    &state.topic(&topic).expect("topic exists").partitions[partition as usize]
}
