//! The consume side: one thread assigns the partitions at explicit offsets (no consumer
//! group) and reads until its limit, optionally recording send → consume latency from each
//! record's stamp.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::error::BenchError;
use crate::latency::{LatencyRecorder, RunClock, read_stamp};
use crate::live::LiveCounters;

/// How long one poll waits before the loop rechecks its limit and the abort flag.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Where one partition's read starts and, for a catch-up read, ends (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRange {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

/// When the consumer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeLimit {
    /// Every partition reached its `end` (records past it are not counted).
    EndOffsets,
    /// This many records, from wherever they come.
    Records(u64),
    /// As many records as the producer of this run got acknowledged.
    MatchProducer,
}

pub struct ConsumeJob {
    pub config: ClientConfig,
    pub topic: String,
    pub ranges: Vec<PartitionRange>,
    pub limit: ConsumeLimit,
    pub idle_timeout: Duration,
    pub measure_latency: bool,
    pub clock: RunClock,
    pub counters: Arc<LiveCounters>,
}

#[derive(Debug)]
pub struct ConsumeOutcome {
    pub records: u64,
    pub bytes: u64,
    pub errors: u64,
    /// Send → consume latency, when the job measured it.
    pub latency: Option<LatencyRecorder>,
    /// From the run's start to the last counted record.
    pub elapsed: Duration,
    /// Set when the consumer gave up because nothing arrived for the idle timeout.
    pub idle_for: Option<Duration>,
    /// What the limit asked for (for the idle error's message).
    pub expected: u64,
}

/// Creates the consumer, assigns the ranges and starts the consume thread.
pub fn start(
    job: ConsumeJob,
) -> Result<JoinHandle<Result<ConsumeOutcome, BenchError>>, BenchError> {
    let consumer: BaseConsumer = job
        .config
        .create()
        .map_err(|source| BenchError::client_creation("create the consumer", source))?;
    let mut assignment = TopicPartitionList::with_capacity(job.ranges.len());
    for range in &job.ranges {
        assignment
            .add_partition_offset(&job.topic, range.partition, Offset::Offset(range.start))
            .map_err(|source| BenchError::Kafka {
                action: "build the partition assignment",
                source,
            })?;
    }
    consumer
        .assign(&assignment)
        .map_err(|source| BenchError::Kafka {
            action: "assign the partitions",
            source,
        })?;
    std::thread::Builder::new()
        .name("bench-consume".into())
        .spawn(move || consume(&consumer, &job))
        .map_err(|source| BenchError::Spawn {
            name: "consume",
            source,
        })
}

/// Per-partition catch-up progress, indexed by partition id so the hot loop looks up
/// without hashing or allocating.
struct CatchUp {
    end_by_partition: Vec<Option<i64>>,
    partitions_left: usize,
    expected: u64,
}

impl CatchUp {
    fn new(ranges: &[PartitionRange]) -> CatchUp {
        let slots = ranges
            .iter()
            .map(|r| usize::try_from(r.partition).map_or(0, |p| p + 1))
            .max()
            .unwrap_or(0);
        let mut end_by_partition = vec![None; slots];
        let mut partitions_left = 0;
        let mut expected = 0u64;
        for range in ranges {
            if range.end > range.start
                && let Ok(slot) = usize::try_from(range.partition)
            {
                end_by_partition[slot] = Some(range.end);
                partitions_left += 1;
                expected += (range.end - range.start) as u64;
            }
        }
        CatchUp {
            end_by_partition,
            partitions_left,
            expected,
        }
    }

    /// Whether a record at (`partition`, `offset`) counts; marks partitions that are done.
    fn counts(&mut self, partition: i32, offset: i64) -> bool {
        let Some(slot) = usize::try_from(partition)
            .ok()
            .and_then(|p| self.end_by_partition.get_mut(p))
        else {
            return false;
        };
        let Some(end) = *slot else {
            return false;
        };
        if offset + 1 >= end {
            // Offsets can skip (transaction markers, compaction), so a record at or past the
            // end also finishes the partition.
            *slot = None;
            self.partitions_left -= 1;
        }
        offset < end
    }
}

fn consume(consumer: &BaseConsumer, job: &ConsumeJob) -> Result<ConsumeOutcome, BenchError> {
    let counters = &job.counters;
    let mut latency = if job.measure_latency {
        Some(LatencyRecorder::new()?)
    } else {
        None
    };
    let mut catch_up = CatchUp::new(&job.ranges);
    let mut records: u64 = 0;
    let mut bytes: u64 = 0;
    let mut last_record_nanos: u64 = 0;
    let mut last_progress = Instant::now();
    let mut idle_for = None;
    loop {
        let done = match job.limit {
            ConsumeLimit::EndOffsets => catch_up.partitions_left == 0,
            ConsumeLimit::Records(total) => records >= total,
            ConsumeLimit::MatchProducer => {
                counters.produce_done.load(Ordering::Acquire)
                    && records >= counters.acked.load(Ordering::Relaxed)
            }
        };
        if done || counters.abort.load(Ordering::Relaxed) {
            break;
        }
        match consumer.poll(POLL_INTERVAL) {
            None => {
                let waited = last_progress.elapsed();
                if waited >= job.idle_timeout {
                    idle_for = Some(waited);
                    break;
                }
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "consume error");
                counters.record_consume_error(&error);
            }
            Some(Ok(message)) => {
                last_progress = Instant::now();
                if job.limit == ConsumeLimit::EndOffsets
                    && !catch_up.counts(message.partition(), message.offset())
                {
                    continue;
                }
                let payload = message.payload().unwrap_or_default();
                let now = job.clock.now_nanos();
                if let (Some(latency), Some(sent)) = (latency.as_mut(), read_stamp(payload)) {
                    latency.record_between(sent, now);
                }
                records += 1;
                bytes += payload.len() as u64;
                last_record_nanos = now;
                counters.consumed.store(records, Ordering::Relaxed);
                counters.consumed_bytes.store(bytes, Ordering::Relaxed);
            }
        }
    }
    let expected = match job.limit {
        ConsumeLimit::EndOffsets => catch_up.expected,
        ConsumeLimit::Records(total) => total,
        ConsumeLimit::MatchProducer => counters.acked.load(Ordering::Relaxed),
    };
    Ok(ConsumeOutcome {
        records,
        bytes,
        errors: counters.consume_errors.load(Ordering::Relaxed),
        latency,
        elapsed: Duration::from_nanos(last_record_nanos),
        idle_for,
        expected,
    })
}

/// Records a catch-up read expects over `ranges`.
pub fn expected_records(ranges: &[PartitionRange]) -> u64 {
    CatchUp::new(ranges).expected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(partition: i32, start: i64, end: i64) -> PartitionRange {
        PartitionRange {
            partition,
            start,
            end,
        }
    }

    #[test]
    fn catch_up_counts_records_below_each_end_and_finishes_every_partition() {
        let mut catch_up = CatchUp::new(&[range(0, 0, 2), range(1, 5, 5), range(3, 10, 11)]);
        assert_eq!(catch_up.expected, 3);
        assert_eq!(
            catch_up.partitions_left, 2,
            "an empty partition is done at once"
        );
        assert!(catch_up.counts(0, 0));
        assert!(catch_up.counts(3, 10));
        assert_eq!(catch_up.partitions_left, 1);
        assert!(!catch_up.counts(3, 11), "past the end is not counted");
        assert!(!catch_up.counts(1, 5), "an empty partition counts nothing");
        assert!(
            !catch_up.counts(7, 0),
            "an unknown partition counts nothing"
        );
        assert!(!catch_up.counts(-1, 0));
        assert!(catch_up.counts(0, 1));
        assert_eq!(catch_up.partitions_left, 0);
    }

    #[test]
    fn an_offset_gap_past_the_end_still_finishes_the_partition() {
        let mut catch_up = CatchUp::new(&[range(0, 0, 3)]);
        assert!(catch_up.counts(0, 0));
        assert!(!catch_up.counts(0, 7));
        assert_eq!(catch_up.partitions_left, 0);
    }
}
