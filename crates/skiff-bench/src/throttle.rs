//! The offered-rate cap: record `n` may leave no earlier than `n / rate` seconds after start.
//!
//! Deadlines are measured from the start, not from the previous record, so a sleep that
//! overshoots is made up by the records after it and the average rate does not drift.

use std::time::{Duration, Instant};

/// Waits below this are skipped: sleeping costs more than it saves and the next records
/// catch up anyway.
const MIN_SLEEP: Duration = Duration::from_micros(200);

#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    records_per_sec: f64,
    start: Instant,
}

impl Throttle {
    /// `None` when there is no cap (or the cap is not a usable number).
    pub fn new(records_per_sec: Option<f64>, start: Instant) -> Option<Throttle> {
        let records_per_sec = records_per_sec?;
        (records_per_sec.is_finite() && records_per_sec > 0.0).then_some(Throttle {
            records_per_sec,
            start,
        })
    }

    /// Sleeps until record number `sent` (counting from 0) is due.
    pub fn wait_for_turn(&self, sent: u64) {
        let delay = delay_before(sent, self.start.elapsed(), self.records_per_sec);
        if delay >= MIN_SLEEP {
            std::thread::sleep(delay);
        }
    }
}

/// How long record number `sent` must still wait, `elapsed` after the start, at
/// `records_per_sec`; zero when it is already due.
pub fn delay_before(sent: u64, elapsed: Duration, records_per_sec: f64) -> Duration {
    let due = sent as f64 / records_per_sec;
    Duration::try_from_secs_f64(due - elapsed.as_secs_f64()).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_spread_evenly_from_the_start() {
        // 1000 records/s: record 500 is due at 0.5 s.
        assert_eq!(
            delay_before(500, Duration::from_millis(200), 1000.0),
            Duration::from_millis(300)
        );
        assert_eq!(delay_before(0, Duration::ZERO, 1000.0), Duration::ZERO);
    }

    #[test]
    fn a_late_sender_does_not_wait_and_catches_up() {
        assert_eq!(
            delay_before(500, Duration::from_millis(900), 1000.0),
            Duration::ZERO
        );
    }

    #[test]
    fn a_byte_rate_cap_turns_into_records_per_second() {
        // 20 MB/s of 1000-byte records is 20,000 records/s: record 20,000 is due at 1 s.
        let rate = crate::parse::Throughput::BytesPerSec(20e6).records_per_sec(1000);
        let delay = delay_before(20_000, Duration::from_millis(250), rate);
        assert!(
            (delay.as_secs_f64() - 0.75).abs() < 1e-9,
            "record 20,000 at 20 MB/s of 1 kB waits until 1 s, not {delay:?}"
        );
    }

    #[test]
    fn unusable_caps_mean_no_cap() {
        let now = Instant::now();
        assert!(Throttle::new(None, now).is_none());
        assert!(Throttle::new(Some(0.0), now).is_none());
        assert!(Throttle::new(Some(f64::NAN), now).is_none());
        assert!(Throttle::new(Some(1.0), now).is_some());
    }
}
