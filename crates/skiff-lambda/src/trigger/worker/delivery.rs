//! Delivering one batch of one partition, as Lambda's event source mapping does:
//!
//! - records are invoked in offset order, and the partition's offset is committed after each
//!   part that succeeded (or that went to the on-failure topic), never before;
//! - a failed invocation (function error, throttle, 5xx, timeout, unreadable answer) is retried
//!   with exponential backoff until `maximum_retry_attempts` or `maximum_record_age` runs out;
//!   with `bisect_batch_on_function_error` a failed batch is split in two and each half
//!   retried in turn (the halves carry the failures so far, so bisecting cannot retry forever);
//! - with `report_batch_item_failures` an answer naming failed records makes the partition
//!   retry from its lowest failed offset only;
//! - records that run out of retries or age go to the on-failure topic (with headers saying
//!   why) or, without one, are skipped with an error in the log, as Lambda discards them;
//! - a function that cannot be invoked at all (unknown, unreachable, access denied) is not a
//!   failure of the records: the trigger says so and tries again, with backoff, forever.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::{error, warn};

use super::PartitionWorker;
use crate::event::{MAX_PAYLOAD_BYTES, partition_key};
use crate::trigger::failure_topic::{Condition, Exhausted, FailureSink};
use crate::trigger::invoker::{Invoke, InvokeOutcome, answer_excerpt};
use crate::trigger::partition::{Commit, EncodedRecord};

/// The worker was told to stop (partition revoked or trigger shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// How long an invocation already on its way may finish after a stop, so a clean shutdown
/// commits what the function just processed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Backoffs {
    /// After the first failed attempt; doubles per failure up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
    /// While the function cannot be invoked at all, or the failure topic cannot be written.
    pub unavailable_first: Duration,
    pub unavailable_max: Duration,
}

impl Default for Backoffs {
    fn default() -> Backoffs {
        Backoffs {
            retry_first: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            unavailable_first: Duration::from_secs(1),
            unavailable_max: Duration::from_secs(30),
        }
    }
}

fn doubling(first: Duration, max: Duration, step: u32) -> Duration {
    first
        .saturating_mul(1u32 << step.saturating_sub(1).min(20))
        .min(max)
}

/// A run of a batch's records still to deliver, and how often they failed so far.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
    failures: u32,
}

/// What an invocation means for the records it carried.
#[derive(Debug)]
enum Verdict {
    Success,
    /// The function named `failed` (indices into the invoked run, ascending) as failed; records
    /// before the first of them succeeded.
    Partial {
        failed: Vec<usize>,
        message: String,
    },
    Failed {
        message: String,
    },
    Unavailable {
        kind: &'static str,
        message: String,
    },
    TooLarge {
        message: String,
    },
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall-clock milliseconds for record ages, advanced by tokio's clock from a reading taken
/// when the worker started: a worker's life is one assignment, and tests can move it.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base_ms: i64,
    base: tokio::time::Instant,
}

impl WallClock {
    pub fn new() -> WallClock {
        WallClock {
            base_ms: now_ms(),
            base: tokio::time::Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.base.elapsed().as_millis() as i64
    }
}

impl Default for WallClock {
    fn default() -> WallClock {
        WallClock::new()
    }
}

impl<I: Invoke, S: FailureSink, C: Commit> PartitionWorker<I, S, C> {
    /// Delivers `batch` (one partition's records, in offset order) to the end: every record is
    /// processed by the function, sent to the failure topic or discarded, and committed.
    pub async fn deliver(&self, batch: &[EncodedRecord]) -> Result<(), Stopped> {
        let mut pending = VecDeque::from([Segment {
            start: 0,
            end: batch.len(),
            failures: 0,
        }]);
        let mut last_error = String::new();
        // What the last partial answer named as failed (indices into `batch`).
        let mut reported: Option<Vec<usize>> = None;
        let mut unavailable = 0u32;
        'segments: while let Some(mut segment) = pending.pop_front() {
            loop {
                if segment.start == segment.end {
                    continue 'segments;
                }
                if let Some(max_age) = self.settings.maximum_record_age {
                    let now = self.clock.now_ms();
                    let expired = batch[segment.start..segment.end]
                        .iter()
                        .take_while(|r| {
                            r.timestamp_ms >= 0
                                && now.saturating_sub(r.timestamp_ms) > max_age.as_millis() as i64
                        })
                        .count();
                    if expired > 0 {
                        let run = &batch[segment.start..segment.start + expired];
                        self.give_up(
                            run,
                            Condition::RecordAgeExceeded,
                            segment.failures,
                            &last_error,
                        )
                        .await?;
                        self.commit(run[run.len() - 1].offset + 1);
                        segment.start += expired;
                        continue;
                    }
                }
                if self.cancel.is_cancelled() {
                    return Err(Stopped);
                }
                let run = &batch[segment.start..segment.end];
                if segment.failures > 0 {
                    self.metrics.retries.increment(1);
                }
                let started = self.clock.now_ms();
                let verdict = self.invoke(run).await?;
                if !matches!(verdict, Verdict::Unavailable { .. }) {
                    unavailable = 0;
                    reported = None;
                }
                match verdict {
                    Verdict::Success => {
                        self.succeeded(run, started);
                        continue 'segments;
                    }
                    Verdict::Partial { failed, message } => {
                        let from = failed[0];
                        self.succeeded(&run[..from], started);
                        reported = Some(failed.iter().map(|i| segment.start + i).collect());
                        segment.start += from;
                        segment.failures += 1;
                        last_error = message;
                    }
                    Verdict::Failed { message } => {
                        segment.failures += 1;
                        last_error = message;
                        if !self.exhausted(segment.failures)
                            && self.settings.bisect_batch_on_function_error
                            && run.len() > 1
                        {
                            let middle = segment.start + run.len() / 2;
                            pending.push_front(Segment {
                                start: middle,
                                ..segment
                            });
                            pending.push_front(Segment {
                                end: middle,
                                ..segment
                            });
                            self.log_failure(
                                run,
                                segment.failures,
                                &last_error,
                                "bisecting; retrying halves",
                            );
                            self.pause(self.retry_wait(segment.failures)).await?;
                            continue 'segments;
                        }
                    }
                    Verdict::TooLarge { message } if run.len() > 1 => {
                        // Lambda measured the payload bigger than we did: halve it, no failure counted.
                        warn!(group = %self.settings.group, "{message}; splitting the batch");
                        let middle = segment.start + run.len() / 2;
                        pending.push_front(Segment {
                            start: middle,
                            ..segment
                        });
                        pending.push_front(Segment {
                            end: middle,
                            ..segment
                        });
                        continue 'segments;
                    }
                    Verdict::TooLarge { message } => {
                        segment.failures += 1;
                        last_error = message;
                    }
                    Verdict::Unavailable { kind, message } => {
                        unavailable += 1;
                        let wait = doubling(
                            self.backoffs.unavailable_first,
                            self.backoffs.unavailable_max,
                            unavailable,
                        );
                        warn!(
                            group = %self.settings.group,
                            function = %self.invoker.function_name(),
                            kind,
                            "cannot invoke the function: {message}; trying again in {:.1} s (records wait, none is skipped)",
                            wait.as_secs_f64()
                        );
                        self.pause(wait).await?;
                        continue;
                    }
                }
                let run = &batch[segment.start..segment.end];
                if self.exhausted(segment.failures) {
                    match reported.take() {
                        // The last answer processed all but the records it named: only those
                        // are failures.
                        Some(failed) => {
                            let failed: Vec<EncodedRecord> =
                                failed.iter().map(|&i| batch[i].clone()).collect();
                            self.give_up(
                                &failed,
                                Condition::RetryAttemptsExhausted,
                                segment.failures,
                                &last_error,
                            )
                            .await?;
                            self.metrics
                                .delivered
                                .increment((run.len() - failed.len()) as u64);
                            self.commit(run[run.len() - 1].offset + 1);
                        }
                        None => {
                            self.give_up(
                                run,
                                Condition::RetryAttemptsExhausted,
                                segment.failures,
                                &last_error,
                            )
                            .await?;
                            self.commit(run[run.len() - 1].offset + 1);
                        }
                    }
                    continue 'segments;
                }
                self.log_failure(run, segment.failures, &last_error, "retrying");
                self.pause(self.retry_wait(segment.failures)).await?;
            }
        }
        Ok(())
    }

    fn exhausted(&self, failures: u32) -> bool {
        self.settings
            .maximum_retry_attempts
            .is_some_and(|retries| failures > retries)
    }

    fn retry_wait(&self, failures: u32) -> Duration {
        doubling(self.backoffs.retry_first, self.backoffs.retry_max, failures)
    }

    fn log_failure(&self, run: &[EncodedRecord], failures: u32, error: &str, next: &str) {
        let (first, last) = offsets(run);
        warn!(
            group = %self.settings.group,
            partition = %partition_key(&self.topic, self.partition),
            offsets = %format!("{first}..={last}"),
            attempt = failures,
            "invocation failed: {error}; {next}"
        );
    }

    /// Invokes the function with `run` and judges the outcome; stops only if told to while no
    /// invocation is under way, or when one outlives [`STOP_GRACE`] after the stop.
    async fn invoke(&self, run: &[EncodedRecord]) -> Result<Verdict, Stopped> {
        let bytes: usize = run.iter().map(|r| r.json.len()).sum();
        let size = self.frame.payload_len(run.len(), bytes);
        if size > MAX_PAYLOAD_BYTES {
            self.metrics.error("too_large");
            return Ok(Verdict::TooLarge {
                message: format!(
                    "record {} makes a {size}-byte event, over Lambda's {MAX_PAYLOAD_BYTES}-byte payload limit",
                    run[0].offset
                ),
            });
        }
        let payload = self.frame.payload(run.iter().map(|r| &r.json[..]));
        self.metrics.invocations.increment(1);
        let started = tokio::time::Instant::now();
        let invocation = self.invoker.invoke(payload);
        tokio::pin!(invocation);
        let outcome = tokio::select! {
            biased;
            outcome = &mut invocation => outcome,
            () = self.cancel.cancelled() => {
                match tokio::time::timeout(STOP_GRACE, &mut invocation).await {
                    Ok(outcome) => outcome,
                    Err(_) => return Err(Stopped),
                }
            }
        };
        self.metrics
            .invoke_seconds
            .record(started.elapsed().as_secs_f64());
        Ok(self.judge(run, outcome))
    }

    fn judge(&self, run: &[EncodedRecord], outcome: InvokeOutcome) -> Verdict {
        match outcome {
            InvokeOutcome::Returned { body } if self.settings.report_batch_item_failures => {
                match reported_failures(&body, &partition_key(&self.topic, self.partition), run) {
                    Ok(failed) if failed.is_empty() => Verdict::Success,
                    Ok(failed) => {
                        self.metrics.error("function_error");
                        let offsets: Vec<String> =
                            failed.iter().map(|&i| run[i].offset.to_string()).collect();
                        Verdict::Partial {
                            message: format!(
                                "the function reported record {} of the batch as failed",
                                offsets.join(", ")
                            ),
                            failed,
                        }
                    }
                    Err(message) => {
                        self.metrics.error("bad_answer");
                        Verdict::Failed { message }
                    }
                }
            }
            InvokeOutcome::Returned { .. } => Verdict::Success,
            InvokeOutcome::Failed { kind, message } => {
                self.metrics.error(kind);
                Verdict::Failed { message }
            }
            InvokeOutcome::Unavailable { kind, message } => {
                self.metrics.error(kind);
                Verdict::Unavailable { kind, message }
            }
            InvokeOutcome::TooLarge { message } => {
                self.metrics.error("too_large");
                Verdict::TooLarge { message }
            }
        }
    }

    fn succeeded(&self, run: &[EncodedRecord], started_ms: i64) {
        let Some(last) = run.last() else { return };
        self.metrics.delivered.increment(run.len() as u64);
        for record in run {
            if record.timestamp_ms >= 0 {
                let delay = started_ms.saturating_sub(record.timestamp_ms).max(0);
                self.metrics
                    .record_delay_seconds
                    .record(delay as f64 / 1000.0);
            }
        }
        self.commit(last.offset + 1);
    }

    fn commit(&self, next_offset: i64) {
        // A refused commit (the partition was revoked) is the next owner's to redo.
        self.committer.commit(next_offset);
    }

    /// Moves `run` out of the way after its retries or age ran out (the caller then commits).
    async fn give_up(
        &self,
        run: &[EncodedRecord],
        condition: Condition,
        attempts: u32,
        error: &str,
    ) -> Result<(), Stopped> {
        let (first, last) = offsets(run);
        let why = Exhausted {
            condition,
            attempts,
            error,
            function_name: self.invoker.function_name(),
            source_topic: &self.topic,
            source_partition: self.partition,
        };
        match &self.sink {
            Some(sink) => {
                let mut failures = 0u32;
                loop {
                    if self.cancel.is_cancelled() {
                        return Err(Stopped);
                    }
                    match sink.send(run, &why).await {
                        Ok(()) => break,
                        Err(e) => {
                            failures += 1;
                            let wait = doubling(
                                self.backoffs.unavailable_first,
                                self.backoffs.unavailable_max,
                                failures,
                            );
                            error!(
                                group = %self.settings.group,
                                "{e}; the records stay uncommitted, trying again in {:.1} s",
                                wait.as_secs_f64()
                            );
                            self.pause(wait).await?;
                        }
                    }
                }
                self.metrics.to_failure_topic.increment(run.len() as u64);
                error!(
                    group = %self.settings.group,
                    partition = %partition_key(&self.topic, self.partition),
                    offsets = %format!("{first}..={last}"),
                    attempts,
                    condition = condition.as_str(),
                    failure_topic = %sink.topic(),
                    "sent {} to the on-failure topic; last error: {error}",
                    records(run.len())
                );
            }
            None => {
                self.metrics.discarded.increment(run.len() as u64);
                error!(
                    group = %self.settings.group,
                    partition = %partition_key(&self.topic, self.partition),
                    offsets = %format!("{first}..={last}"),
                    attempts,
                    condition = condition.as_str(),
                    "skipping {} (no --on-failure-topic); last error: {error}",
                    records(run.len())
                );
            }
        }
        Ok(())
    }

    async fn pause(&self, wait: Duration) -> Result<(), Stopped> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Stopped),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }
}

fn records(count: usize) -> String {
    if count == 1 {
        "1 record".to_owned()
    } else {
        format!("{count} records")
    }
}

fn offsets(run: &[EncodedRecord]) -> (i64, i64) {
    (
        run.first().map_or(-1, |r| r.offset),
        run.last().map_or(-1, |r| r.offset),
    )
}

/// Reads a `ReportBatchItemFailures` answer: the indices in `run` of the records it names as
/// failed, ascending (none when every record succeeded). Answers Lambda would treat as a
/// complete failure (not JSON, items that do not name a record of this batch) are an error,
/// with what was wrong.
fn reported_failures(body: &[u8], key: &str, run: &[EncodedRecord]) -> Result<Vec<usize>, String> {
    const EXPECTED: &str = "with --report-batch-item-failures the function must answer null, {} or {\"batchItemFailures\":[{\"itemIdentifier\":{\"partition\":\"<topic>-<partition>\",\"offset\":N}}]}";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let answer: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the function's answer is not JSON ({e}): {}",
            answer_excerpt(body)
        )
    })?;
    let items = match &answer {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => match map.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(format!("{EXPECTED}; got {}", answer_excerpt(body))),
        },
        _ => return Err(format!("{EXPECTED}; got {}", answer_excerpt(body))),
    };
    let mut failed = Vec::with_capacity(items.len());
    for item in items {
        let identifier = item.get("itemIdentifier");
        let partition = identifier
            .and_then(|i| i.get("partition"))
            .and_then(Value::as_str);
        let offset = identifier.and_then(|i| i.get("offset")).and_then(|o| {
            o.as_i64()
                .or_else(|| o.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let (Some(partition), Some(offset)) = (partition, offset) else {
            return Err(format!("{EXPECTED}; got the item {item}"));
        };
        if partition != key {
            return Err(format!(
                "the function reported a failure in {partition:?}, but the batch held records of {key:?} only"
            ));
        }
        let Ok(index) = run.binary_search_by_key(&offset, |r| r.offset) else {
            return Err(format!(
                "the function reported offset {offset} of {key} as failed, which was not in the batch ({}..={})",
                run[0].offset,
                run[run.len() - 1].offset
            ));
        };
        failed.push(index);
    }
    failed.sort_unstable();
    failed.dedup();
    Ok(failed)
}

#[cfg(test)]
mod tests;
