//! Refused requests and handshakes are logged, but not one line each: a scanner must not flood
//! the log. Shared by the secret layer and the TLS listener.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// At most one refusal line per this many milliseconds.
const LOG_EVERY_MS: u64 = 10_000;

#[derive(Debug, Default)]
pub(super) struct RefusalLog {
    last_logged_ms: AtomicU64,
    unlogged: AtomicU64,
}

impl RefusalLog {
    /// Counts a refusal; `Some(n)` when this one may be logged, with `n` refusals since the
    /// last logged line that were not.
    pub(super) fn admit(&self) -> Option<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= LOG_EVERY_MS
            && self
                .last_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.unlogged.swap(0, Ordering::Relaxed))
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counts_the_rest() {
        let log = RefusalLog::default();
        assert_eq!(log.admit(), Some(0));
        assert_eq!(log.admit(), None);
        assert_eq!(log.admit(), None);
        // The next interval's line reports the two held back.
        log.last_logged_ms.store(0, Ordering::Relaxed);
        assert_eq!(log.admit(), Some(2));
    }
}
