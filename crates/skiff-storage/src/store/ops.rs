//! Per-store call counters and the debug log line of every `SegmentStore` call. These count
//! `SegmentStore` operations for `stats()`; the Prometheus metrics come from
//! [`super::MeteredStore`], which sees every object_store request underneath them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use object_store::path::Path;

use crate::error::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Put,
    GetRange,
    Head,
    List,
    Delete,
}

impl OpKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OpKind::Put => "PUT",
            OpKind::GetRange => "GET-range",
            OpKind::Head => "HEAD",
            OpKind::List => "LIST",
            OpKind::Delete => "DELETE",
        }
    }
}

/// Request counters since the store was opened, one per operation kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub puts: u64,
    pub get_ranges: u64,
    pub heads: u64,
    pub lists: u64,
    pub deletes: u64,
    pub failures: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
}

#[derive(Debug, Default)]
pub(crate) struct OpCounters {
    puts: AtomicU64,
    get_ranges: AtomicU64,
    heads: AtomicU64,
    lists: AtomicU64,
    deletes: AtomicU64,
    failures: AtomicU64,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
}

impl OpCounters {
    /// Counts and logs one finished call. `bytes` is what moved (written for PUT, read for
    /// GET, entries for LIST).
    pub(crate) fn record<T>(
        &self,
        kind: OpKind,
        path: &Path,
        bytes: u64,
        latency: Duration,
        result: &Result<T, StorageError>,
    ) {
        let counter = match kind {
            OpKind::Put => &self.puts,
            OpKind::GetRange => &self.get_ranges,
            OpKind::Head => &self.heads,
            OpKind::List => &self.lists,
            OpKind::Delete => &self.deletes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        match result {
            Ok(_) => {
                match kind {
                    OpKind::Put => self.bytes_written.fetch_add(bytes, Ordering::Relaxed),
                    OpKind::GetRange => self.bytes_read.fetch_add(bytes, Ordering::Relaxed),
                    OpKind::Head | OpKind::List | OpKind::Delete => 0,
                };
                tracing::debug!(op = kind.as_str(), %path, bytes, latency_us, "object store call");
            }
            Err(err) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    op = kind.as_str(),
                    %path,
                    bytes,
                    latency_us,
                    retriable = err.is_retriable(),
                    error = %err,
                    "object store call failed"
                );
            }
        }
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        StoreStats {
            puts: self.puts.load(Ordering::Relaxed),
            get_ranges: self.get_ranges.load(Ordering::Relaxed),
            heads: self.heads.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}
