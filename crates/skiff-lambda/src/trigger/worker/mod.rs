//! One partition's worker: cuts batches (size, window, payload cap) and delivers them one at a
//! time, in offset order, following the event source mapping's rules (see [`delivery`]).

mod delivery;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use delivery::{Backoffs, Stopped, WallClock};

use super::failure_topic::FailureSink;
use super::invoker::Invoke;
use super::metrics::TriggerMetrics;
use super::partition::{Commit, EncodedRecord, PartitionBudget};
use super::settings::TriggerSettings;
use crate::event::EventFrame;

/// What a worker needs besides its records.
pub struct PartitionWorker<I: Invoke, S: FailureSink, C: Commit> {
    pub topic: Arc<str>,
    pub partition: i32,
    pub settings: Arc<TriggerSettings>,
    pub frame: EventFrame,
    pub invoker: Arc<I>,
    pub sink: Option<Arc<S>>,
    pub committer: C,
    pub metrics: TriggerMetrics,
    pub cancel: CancellationToken,
    pub backoffs: Backoffs,
    pub clock: WallClock,
}

impl<I: Invoke, S: FailureSink, C: Commit> PartitionWorker<I, S, C> {
    /// Runs until the partition is revoked, the trigger stops, or the feed closes. Records it
    /// never finished are released from the budget (the next owner reads them again from the
    /// last commit).
    pub async fn run(self, mut feed: mpsc::Receiver<EncodedRecord>, budget: Arc<PartitionBudget>) {
        let mut carry: Option<EncodedRecord> = None;
        let mut batch: Vec<EncodedRecord> = Vec::new();
        let batch_size = self.settings.batch_size;
        let window = self.settings.batching_window;
        loop {
            let first = match carry.take() {
                Some(record) => record,
                None => tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => break,
                    next = feed.recv() => match next {
                        Some(record) => record,
                        None => break,
                    },
                },
            };
            // The window starts with a batch's first record, as in Lambda. One timer per
            // batch, not one per record received.
            let window_end = tokio::time::sleep_until(Instant::now() + window);
            tokio::pin!(window_end);
            let mut bytes = first.json.len();
            batch.push(first);
            let mut stopped = false;
            while batch.len() < batch_size {
                let next = tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => {
                        stopped = true;
                        break;
                    }
                    next = feed.recv() => next,
                    () = &mut window_end => break,
                };
                let Some(record) = next else { break };
                if self
                    .frame
                    .payload_len(batch.len() + 1, bytes + record.json.len())
                    > crate::event::MAX_PAYLOAD_BYTES
                {
                    carry = Some(record);
                    break;
                }
                bytes += record.json.len();
                batch.push(record);
            }
            if stopped {
                break;
            }
            let outcome = self.deliver(&batch).await;
            budget.release(bytes);
            batch.clear();
            if let Err(Stopped) = outcome {
                break;
            }
        }
        // Whatever was fetched and not finished goes back to the budget.
        let mut unfinished: usize = batch.iter().map(|r| r.json.len()).sum();
        unfinished += carry.map_or(0, |r| r.json.len());
        feed.close();
        while let Ok(record) = feed.try_recv() {
            unfinished += record.json.len();
        }
        budget.release(unfinished);
    }
}
