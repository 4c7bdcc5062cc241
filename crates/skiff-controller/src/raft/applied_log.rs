//! A bounded ring of the most recently applied log entries, so any controller node can serve
//! brokers' watch streams from memory. A watcher that needs an entry no longer here re-reads
//! the whole state (`/v1/snapshot`) instead.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use skiff_meta::Command;

/// One applied entry: `None` for Raft's own entries (blank, membership).
pub type AppliedEntry = (u64, Option<Arc<Command>>);

/// The entries a watcher asked for were dropped from the ring (or predate a snapshot this
/// node installed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntriesGone {
    /// The oldest index the ring can still serve.
    pub oldest: u64,
}

struct Ring {
    entries: VecDeque<AppliedEntry>,
    capacity: usize,
    /// The index the next pushed entry must have; entries `< next - entries.len()` are gone.
    next: u64,
}

/// Cheap to clone; clones share the ring.
#[derive(Clone)]
pub struct AppliedLog {
    ring: Arc<Mutex<Ring>>,
}

impl AppliedLog {
    /// An empty ring whose first entry will be `last_applied + 1`.
    pub fn new(capacity: usize, last_applied: u64) -> Self {
        AppliedLog {
            ring: Arc::new(Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                capacity: capacity.max(1),
                next: last_applied.saturating_add(1),
            })),
        }
    }

    /// Records an applied entry. A gap (after a snapshot was installed) restarts the ring.
    pub fn push(&self, index: u64, command: Option<Arc<Command>>) {
        let mut ring = self.ring.lock();
        if index != ring.next {
            ring.entries.clear();
        }
        if ring.entries.len() >= ring.capacity {
            ring.entries.pop_front();
        }
        ring.entries.push_back((index, command));
        ring.next = index.saturating_add(1);
    }

    /// Forgets everything: the state was replaced by a snapshot covering `last_applied`.
    pub fn reset(&self, last_applied: u64) {
        let mut ring = self.ring.lock();
        ring.entries.clear();
        ring.next = last_applied.saturating_add(1);
    }

    /// Copies up to `max` entries from index `from` on into `out` (empty when `from` is not
    /// applied yet).
    pub fn read_from(
        &self,
        from: u64,
        max: usize,
        out: &mut Vec<AppliedEntry>,
    ) -> Result<(), EntriesGone> {
        let ring = self.ring.lock();
        let oldest = ring.next - ring.entries.len() as u64;
        if from < oldest {
            return Err(EntriesGone { oldest });
        }
        let skip = usize::try_from(from - oldest).unwrap_or(usize::MAX);
        out.extend(ring.entries.iter().skip(skip).take(max).cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(log: &AppliedLog, from: u64, max: usize) -> Result<Vec<u64>, EntriesGone> {
        let mut out = Vec::new();
        log.read_from(from, max, &mut out)?;
        Ok(out.into_iter().map(|(i, _)| i).collect())
    }

    #[test]
    fn serves_the_last_entries_and_reports_older_ones_gone() {
        let log = AppliedLog::new(3, 10);
        assert_eq!(indexes(&log, 11, 10), Ok(vec![]));
        assert_eq!(indexes(&log, 5, 10), Err(EntriesGone { oldest: 11 }));
        for i in 11..=15 {
            log.push(i, None);
        }
        assert_eq!(indexes(&log, 13, 10), Ok(vec![13, 14, 15]));
        assert_eq!(indexes(&log, 14, 1), Ok(vec![14]));
        assert_eq!(indexes(&log, 16, 10), Ok(vec![]));
        assert_eq!(indexes(&log, 12, 10), Err(EntriesGone { oldest: 13 }));
    }

    #[test]
    fn a_gap_or_reset_restarts_the_ring() {
        let log = AppliedLog::new(10, 0);
        log.push(1, None);
        log.push(2, None);
        log.push(9, None);
        assert_eq!(indexes(&log, 1, 10), Err(EntriesGone { oldest: 9 }));
        log.reset(20);
        assert_eq!(indexes(&log, 9, 10), Err(EntriesGone { oldest: 21 }));
        assert_eq!(indexes(&log, 21, 10), Ok(vec![]));
    }
}
