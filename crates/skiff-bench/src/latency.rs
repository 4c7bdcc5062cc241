//! Latency measurement: a monotonic clock shared by the threads of one run, the send stamp
//! carried in a record's first bytes, and an HDR histogram per recording thread.

use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::BenchError;

/// Bytes at the front of a record's value that carry its send time.
pub const STAMP_LEN: usize = 8;

/// Latencies above an hour are clamped: they mean something is broken, not slow.
const MAX_TRACKED_MICROS: u64 = 3_600_000_000;

/// Nanoseconds since the run started, the same origin for every thread of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Instant,
}

impl RunClock {
    pub fn start() -> RunClock {
        RunClock {
            origin: Instant::now(),
        }
    }

    pub fn origin(&self) -> Instant {
        self.origin
    }

    pub fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Writes `nanos` into the first [`STAMP_LEN`] bytes of `payload` (no-op if it is shorter).
pub fn write_stamp(payload: &mut [u8], nanos: u64) {
    if let Some(head) = payload.get_mut(..STAMP_LEN) {
        head.copy_from_slice(&nanos.to_le_bytes());
    }
}

/// The send time carried by a record, if its value is long enough to hold one.
pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    let head: [u8; STAMP_LEN] = payload.get(..STAMP_LEN)?.try_into().ok()?;
    Some(u64::from_le_bytes(head))
}

/// One thread's latencies in microseconds. Each recording thread owns one, so recording
/// takes no lock.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    micros: Histogram<u64>,
}

impl LatencyRecorder {
    pub fn new() -> Result<LatencyRecorder, BenchError> {
        let micros = Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, 3).map_err(|e| {
            BenchError::InvalidSetting(format!("cannot size the latency histogram: {e}"))
        })?;
        Ok(LatencyRecorder { micros })
    }

    /// Records the time from `sent_nanos` to `now_nanos` (zero if the clock reads earlier).
    pub fn record_between(&mut self, sent_nanos: u64, now_nanos: u64) {
        self.micros
            .saturating_record(now_nanos.saturating_sub(sent_nanos) / 1_000);
    }

    /// The percentiles, or `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<LatencyPercentiles> {
        if self.micros.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Some(LatencyPercentiles {
            samples: self.micros.len(),
            p50_ms: ms(self.micros.value_at_quantile(0.50)),
            p95_ms: ms(self.micros.value_at_quantile(0.95)),
            p99_ms: ms(self.micros.value_at_quantile(0.99)),
            max_ms: ms(self.micros.max()),
        })
    }
}

/// Latency percentiles in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyPercentiles {
    pub samples: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_short_payloads_carry_none() {
        let mut payload = vec![0xAA; 16];
        write_stamp(&mut payload, 123_456_789);
        assert_eq!(read_stamp(&payload), Some(123_456_789));
        assert_eq!(payload[8..], [0xAA; 8], "only the stamp bytes change");
        let mut short = vec![1u8; 4];
        write_stamp(&mut short, 5);
        assert_eq!(short, [1, 1, 1, 1]);
        assert_eq!(read_stamp(&short), None);
    }

    #[test]
    fn percentiles_are_ordered_and_a_backwards_clock_counts_as_zero() {
        let mut a = LatencyRecorder::new().unwrap();
        for i in 1..=100u64 {
            a.record_between(0, i * 1_000_000);
        }
        a.record_between(5_000_000, 1_000);
        let p = a.percentiles().unwrap();
        assert_eq!(p.samples, 101);
        assert!(p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms && p.p99_ms <= p.max_ms);
        assert!((p.max_ms - 100.0).abs() < 0.1, "max {}", p.max_ms);
        assert!((p.p50_ms - 50.0).abs() < 1.0, "p50 {}", p.p50_ms);
    }

    #[test]
    fn nothing_recorded_means_no_percentiles() {
        assert_eq!(LatencyRecorder::new().unwrap().percentiles(), None);
    }
}
