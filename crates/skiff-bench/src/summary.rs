//! The final summary: one struct, printed as text for people or as one JSON object.
//!
//! JSON fields (MB = 1,000,000 bytes; GB = 10^9 bytes):
//! - `mode`: "produce" | "consume" | "e2e"; `topic`; `partitions`
//! - `record_size`, `acks`, `compression`: the producer settings (null for consume)
//! - `sent`: records the producer tried to send (null for consume)
//! - `records`, `bytes`: produce: acknowledged; consume and e2e: consumed (value bytes)
//! - `elapsed_secs`, `mb_per_sec`, `records_per_sec`: from the start to the last record
//! - `errors`, `first_error`
//! - `latency`: {`samples`, `p50_ms`, `p95_ms`, `p99_ms`, `max_ms`} or null;
//!   `latency_measures`: "send_to_ack" (produce) | "send_to_consume" (e2e) | null
//! - `produced`: e2e only, the producer side: {`sent`, `acked`, `bytes`, `mb_per_sec`,
//!   `ack_latency`}
//! - `object_store`: with --metrics-url, {`requests` (by kind), `puts`, `gets` (get +
//!   get_range), `puts_per_gb`, `gets_per_gb`}, each null when the broker did not report it;
//!   `metrics_error` says why the scrape failed, if it did.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::latency::LatencyPercentiles;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub topic: String,
    pub partitions: usize,
    pub record_size: Option<usize>,
    pub acks: Option<&'static str>,
    pub compression: Option<&'static str>,
    pub sent: Option<u64>,
    pub records: u64,
    pub bytes: u64,
    pub elapsed_secs: f64,
    pub mb_per_sec: f64,
    pub records_per_sec: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Option<LatencyPercentiles>,
    pub latency_measures: Option<&'static str>,
    pub produced: Option<ProducedSide>,
    pub object_store: Option<ObjectStoreReport>,
    pub metrics_error: Option<String>,
}

/// The producer half of an e2e run.
#[derive(Debug, Clone, Serialize)]
pub struct ProducedSide {
    pub sent: u64,
    pub acked: u64,
    pub bytes: u64,
    pub mb_per_sec: f64,
    pub ack_latency: Option<LatencyPercentiles>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObjectStoreReport {
    pub requests: BTreeMap<String, u64>,
    pub puts: Option<u64>,
    pub gets: Option<u64>,
    pub puts_per_gb: Option<f64>,
    pub gets_per_gb: Option<f64>,
}

impl ObjectStoreReport {
    /// Per-GB figures for `requests` made while `bytes` moved.
    pub fn new(requests: BTreeMap<String, u64>, bytes: u64) -> ObjectStoreReport {
        let puts = requests.get("put").copied();
        let gets = match (requests.get("get"), requests.get("get_range")) {
            (None, None) => None,
            (whole, ranged) => Some(whole.copied().unwrap_or(0) + ranged.copied().unwrap_or(0)),
        };
        let gigabytes = bytes as f64 / 1e9;
        let per_gb = |count: Option<u64>| {
            count.and_then(|count| (gigabytes > 0.0).then(|| count as f64 / gigabytes))
        };
        ObjectStoreReport {
            puts_per_gb: per_gb(puts),
            gets_per_gb: per_gb(gets),
            requests,
            puts,
            gets,
        }
    }
}

/// Megabytes (10^6) and records per second over `elapsed`; zero for an empty run.
pub fn rates(records: u64, bytes: u64, elapsed: Duration) -> (f64, f64) {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return (0.0, 0.0);
    }
    (bytes as f64 / 1e6 / seconds, records as f64 / seconds)
}

impl Summary {
    pub fn print(&self, json: bool, out: &mut impl Write) -> std::io::Result<()> {
        if json {
            serde_json::to_writer(&mut *out, self)?;
            writeln!(out)?;
            return out.flush();
        }
        self.print_text(out)?;
        out.flush()
    }

    fn print_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        write!(
            out,
            "{} {} ({} partitions)",
            self.mode, self.topic, self.partitions
        )?;
        if let (Some(size), Some(acks), Some(compression)) =
            (self.record_size, self.acks, self.compression)
        {
            write!(
                out,
                ", {size}-byte records, acks={acks}, compression={compression}"
            )?;
        }
        writeln!(out)?;
        let verb = match self.mode {
            "produce" => "acknowledged",
            _ => "consumed",
        };
        writeln!(
            out,
            "  {} records {verb}, {:.1} MB in {:.2} s: {:.1} MB/s, {:.0} records/s",
            self.records,
            self.bytes as f64 / 1e6,
            self.elapsed_secs,
            self.mb_per_sec,
            self.records_per_sec
        )?;
        if let Some(produced) = &self.produced {
            writeln!(
                out,
                "  produced: {} sent, {} acknowledged, {:.1} MB/s",
                produced.sent, produced.acked, produced.mb_per_sec
            )?;
            if let Some(ack) = &produced.ack_latency {
                write_latency(out, "send → ack", ack)?;
            }
        }
        if let Some(latency) = &self.latency {
            let label = match self.latency_measures {
                Some("send_to_consume") => "send → consumed",
                _ => "send → ack",
            };
            write_latency(out, label, latency)?;
        }
        write!(out, "  errors: {}", self.errors)?;
        if let Some(first) = &self.first_error {
            write!(out, " (first: {first})")?;
        }
        writeln!(out)?;
        if let Some(store) = &self.object_store {
            let show = |n: Option<u64>| n.map_or("not reported".to_owned(), |n| n.to_string());
            let show_rate =
                |r: Option<f64>| r.map_or("not reported".to_owned(), |r| format!("{r:.1}"));
            writeln!(
                out,
                "  object store: {} PUTs, {} GETs; per GB moved: {} PUTs, {} GETs",
                show(store.puts),
                show(store.gets),
                show_rate(store.puts_per_gb),
                show_rate(store.gets_per_gb)
            )?;
        }
        if let Some(error) = &self.metrics_error {
            writeln!(out, "  object store: not reported ({error})")?;
        }
        Ok(())
    }
}

fn write_latency(
    out: &mut impl Write,
    label: &str,
    latency: &LatencyPercentiles,
) -> std::io::Result<()> {
    writeln!(
        out,
        "  latency {label} (ms): p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  ({} samples)",
        latency.p50_ms, latency.p95_ms, latency.p99_ms, latency.max_ms, latency.samples
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_gb_figures_divide_by_decimal_gigabytes() {
        let requests: BTreeMap<String, u64> = [("put", 20), ("get", 3), ("get_range", 7)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let report = ObjectStoreReport::new(requests, 2_000_000_000);
        assert_eq!(report.puts, Some(20));
        assert_eq!(report.gets, Some(10));
        assert_eq!(report.puts_per_gb, Some(10.0));
        assert_eq!(report.gets_per_gb, Some(5.0));
    }

    #[test]
    fn missing_kinds_and_empty_runs_are_not_reported() {
        let only_puts: BTreeMap<String, u64> = [("put".to_owned(), 4)].into_iter().collect();
        let report = ObjectStoreReport::new(only_puts, 0);
        assert_eq!(report.gets, None);
        assert_eq!(report.puts_per_gb, None, "nothing moved, no per-GB figure");
    }

    #[test]
    fn rates_are_zero_for_an_empty_run() {
        assert_eq!(rates(0, 0, Duration::ZERO), (0.0, 0.0));
        assert_eq!(rates(500, 2_000_000, Duration::from_secs(2)), (1.0, 250.0));
    }
}
