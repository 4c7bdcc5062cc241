//! Warnings about what clients or stored data do wrong, at most one line per key (a client's
//! address, a partition) per interval, with a count of the ones held back: a client sending a
//! malformed frame 300,000 times makes a handful of lines, not 66 MB of log.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Keys remembered at once. Past it, keys whose interval is over are forgotten; if none is,
/// the new key shares one overflow slot, so the map stays bounded whatever clients do.
const MAX_KEYS: usize = 4_096;

pub struct LogLimiter<K> {
    interval: Duration,
    slots: Mutex<Slots<K>>,
}

struct Slots<K> {
    by_key: HashMap<K, Slot>,
    overflow: Slot,
}

#[derive(Clone, Copy)]
struct Slot {
    last_logged: Instant,
    held_back: u64,
}

/// What to log now: the event, and how many like it were held back since the last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub held_back: u64,
}

impl<K: Hash + Eq + Clone> LogLimiter<K> {
    pub fn new(interval: Duration) -> Self {
        LogLimiter {
            interval,
            slots: Mutex::new(Slots {
                by_key: HashMap::new(),
                overflow: Slot {
                    last_logged: Instant::now(),
                    held_back: 0,
                },
            }),
        }
    }

    /// Whether an event for `key` at `now` gets a log line; `None` means it was counted instead.
    pub fn check(&self, key: &K, now: Instant) -> Option<Allowed> {
        let mut slots = self.slots.lock();
        let interval = self.interval;
        if !slots.by_key.contains_key(key) {
            if slots.by_key.len() >= MAX_KEYS {
                slots
                    .by_key
                    .retain(|_, slot| now.duration_since(slot.last_logged) < interval);
            }
            if slots.by_key.len() < MAX_KEYS {
                let fresh = Slot {
                    last_logged: now,
                    held_back: 0,
                };
                slots.by_key.insert(key.clone(), fresh);
                return Some(Allowed { held_back: 0 });
            }
        }
        let Slots { by_key, overflow } = &mut *slots;
        let slot = by_key.get_mut(key).unwrap_or(overflow);
        if now.duration_since(slot.last_logged) >= interval {
            let held_back = std::mem::take(&mut slot.held_back);
            slot.last_logged = now;
            Some(Allowed { held_back })
        } else {
            slot.held_back += 1;
            None
        }
    }
}

/// How often the same kind of warning about the same client or object is logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The broker's rate-limited warnings.
pub struct Warnings {
    /// Malformed frames and requests, per client address.
    pub malformed_input: LogLimiter<std::net::IpAddr>,
    /// Stored data that cannot be read, per object key.
    pub stored_data: LogLimiter<String>,
    /// Connections refused or cut off by a limit or deadline, per client address.
    pub connection_limits: LogLimiter<std::net::IpAddr>,
    /// Failed SASL authentications and TLS handshakes, per client address.
    pub authentication: LogLimiter<std::net::IpAddr>,
}

impl Default for Warnings {
    fn default() -> Self {
        Warnings {
            malformed_input: LogLimiter::new(WARNING_INTERVAL),
            stored_data: LogLimiter::new(WARNING_INTERVAL),
            connection_limits: LogLimiter::new(WARNING_INTERVAL),
            authentication: LogLimiter::new(WARNING_INTERVAL),
        }
    }
}

impl Warnings {
    /// Logs (at most once per object per interval) that stored data could not be read and was
    /// stepped over or answered from headers.
    pub fn unreadable_stored_data(&self, object_key: &str, what: &str, reason: &str) {
        let key = object_key.to_string();
        if let Some(allowed) = self.stored_data.check(&key, Instant::now()) {
            tracing::error!(
                object = object_key,
                reason,
                held_back = allowed.held_back,
                "{what}: stored data cannot be read; stepping over it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_interval_with_the_count_held_back() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limiter.check(&1, t0), Some(Allowed { held_back: 0 }));
        for i in 1..=500 {
            assert_eq!(limiter.check(&1, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(
            limiter.check(&2, t0),
            Some(Allowed { held_back: 0 }),
            "keys are separate"
        );
        assert_eq!(
            limiter.check(&1, t0 + Duration::from_secs(10)),
            Some(Allowed { held_back: 500 })
        );
        assert_eq!(limiter.check(&1, t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn the_key_map_stays_bounded() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for key in 0..(MAX_KEYS as u32 * 3) {
            let _ = limiter.check(&key, t0);
        }
        assert!(limiter.slots.lock().by_key.len() <= MAX_KEYS);
        // Once the interval passed, old keys make room for new ones.
        assert!(
            limiter
                .check(&u32::MAX, t0 + Duration::from_secs(11))
                .is_some()
        );
        assert!(limiter.slots.lock().by_key.contains_key(&u32::MAX));
    }
}
