//! Counters the worker threads publish and the progress display and summary read.

use std::fmt::Display;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared by the threads of one run. Plain relaxed atomics: each counter has one writer
/// thread, and readers only need eventually-current figures.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Records the send loop handed (or tried to hand) to librdkafka.
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub acked_bytes: AtomicU64,
    /// Produce-side failures: refused sends and failed deliveries.
    pub errors: AtomicU64,
    pub consumed: AtomicU64,
    pub consumed_bytes: AtomicU64,
    pub consume_errors: AtomicU64,
    /// The send loop has stopped sending.
    pub send_done: AtomicBool,
    /// Every sent record has been acknowledged or failed, so `acked` is final.
    pub produce_done: AtomicBool,
    /// Stop early (Ctrl-C, or the other side of an e2e run failed).
    pub abort: AtomicBool,
    first_error: OnceLock<String>,
}

impl LiveCounters {
    /// Counts a produce-side failure and keeps the first one's message for the summary.
    pub fn record_error(&self, error: &impl Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.keep_first_error(error);
    }

    /// Counts a consume-side failure.
    pub fn record_consume_error(&self, error: &impl Display) {
        self.consume_errors.fetch_add(1, Ordering::Relaxed);
        self.keep_first_error(error);
    }

    fn keep_first_error(&self, error: &impl Display) {
        // Formatting allocates, but only for the first error of the run.
        if self.first_error.get().is_none() {
            let _ = self.first_error.set(error.to_string());
        }
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.get().cloned()
    }

    /// (records, bytes) acknowledged so far.
    pub fn acked_figures(&self) -> (u64, u64) {
        (
            self.acked.load(Ordering::Relaxed),
            self.acked_bytes.load(Ordering::Relaxed),
        )
    }

    /// (records, bytes) consumed so far.
    pub fn consumed_figures(&self) -> (u64, u64) {
        (
            self.consumed.load(Ordering::Relaxed),
            self.consumed_bytes.load(Ordering::Relaxed),
        )
    }

    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }
}
