//! Pre-registered metric handles for object store requests, one set per request kind, so a
//! request only touches atomics: no key hashing, no registry lookup, no allocation.

use std::time::Instant;

use metrics::{Counter, Histogram, counter, histogram};

use crate::metric_names::{
    OBJECT_STORE_BYTES_TOTAL, OBJECT_STORE_ERRORS_TOTAL, OBJECT_STORE_REQUEST_SECONDS,
    OBJECT_STORE_REQUESTS_TOTAL,
};

/// The `kind` label of the object store metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Put,
    Get,
    GetRange,
    Head,
    List,
    Delete,
}

impl RequestKind {
    const COUNT: usize = 6;

    fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            RequestKind::Put => "put",
            RequestKind::Get => "get",
            RequestKind::GetRange => "get_range",
            RequestKind::Head => "head",
            RequestKind::List => "list",
            RequestKind::Delete => "delete",
        }
    }

    fn all() -> [RequestKind; Self::COUNT] {
        [
            RequestKind::Put,
            RequestKind::Get,
            RequestKind::GetRange,
            RequestKind::Head,
            RequestKind::List,
            RequestKind::Delete,
        ]
    }
}

/// The four series of one request kind.
#[derive(Clone, Debug)]
pub(crate) struct KindMetrics {
    requests: Counter,
    errors: Counter,
    bytes: Counter,
    seconds: Histogram,
}

impl KindMetrics {
    fn register(kind: RequestKind) -> Self {
        let label = kind.label();
        Self {
            requests: counter!(OBJECT_STORE_REQUESTS_TOTAL, "kind" => label),
            errors: counter!(OBJECT_STORE_ERRORS_TOTAL, "kind" => label),
            bytes: counter!(OBJECT_STORE_BYTES_TOTAL, "kind" => label),
            seconds: histogram!(OBJECT_STORE_REQUEST_SECONDS, "kind" => label),
        }
    }

    /// Counts a request as it is issued, so requests that are cancelled or still running
    /// show up too. Returns the start time to hand to [`KindMetrics::finished`].
    pub(crate) fn started(&self) -> Instant {
        self.requests.increment(1);
        Instant::now()
    }

    /// Records how a request ended: its latency, the payload bytes it moved, and whether it
    /// failed.
    pub(crate) fn finished(&self, started: Instant, bytes: u64, failed: bool) {
        self.seconds.record(started.elapsed().as_secs_f64());
        if bytes > 0 {
            self.bytes.increment(bytes);
        }
        if failed {
            self.errors.increment(1);
        }
    }
}

/// Handles for every request kind, registered with the recorder installed at creation.
#[derive(Clone, Debug)]
pub(crate) struct RequestMetrics {
    kinds: [KindMetrics; RequestKind::COUNT],
}

impl RequestMetrics {
    pub(crate) fn register() -> Self {
        Self {
            kinds: RequestKind::all().map(KindMetrics::register),
        }
    }

    pub(crate) fn kind(&self, kind: RequestKind) -> &KindMetrics {
        &self.kinds[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_index_their_own_handles() {
        for (position, kind) in RequestKind::all().into_iter().enumerate() {
            assert_eq!(kind.index(), position, "{kind:?}");
        }
        let labels = RequestKind::all().map(RequestKind::label);
        assert_eq!(
            labels,
            ["put", "get", "get_range", "head", "list", "delete"]
        );
    }
}
