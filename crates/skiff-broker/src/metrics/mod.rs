//! Prometheus metrics of the broker, through the `metrics` facade.
//!
//! Every handle is registered when the broker starts (so the process installs its recorder
//! first); the hot path only increments atomics: no name lookups, no allocation, nothing per
//! record (record counts come from batch headers).

mod names;
mod request_errors;
mod requests;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

pub use names::*;
pub use request_errors::reply_has_error;
pub use requests::{ApiMetrics, RequestMetrics, UNSUPPORTED_API};

/// Every handle the broker uses, grouped by the layer that records them.
#[derive(Clone)]
pub struct BrokerMetrics {
    pub requests: RequestMetrics,
    pub produce: ProduceMetrics,
    pub fetch: FetchMetrics,
    pub flush: FlushMetrics,
    pub connections: ConnectionMetrics,
}

impl BrokerMetrics {
    /// Registers every handle with the recorder installed now.
    pub fn register() -> Self {
        BrokerMetrics {
            requests: RequestMetrics::register(),
            produce: ProduceMetrics {
                bytes: counter!(PRODUCE_BYTES_TOTAL),
                records: counter!(PRODUCE_RECORDS_TOTAL),
                batches: counter!(PRODUCE_BATCHES_TOTAL),
                recompressed_batches: counter!(PRODUCE_RECOMPRESSED_BATCHES_TOTAL),
            },
            fetch: FetchMetrics {
                bytes: counter!(FETCH_BYTES_TOTAL),
                records: counter!(FETCH_RECORDS_TOTAL),
            },
            flush: FlushMetrics {
                flushes: counter!(FLUSHES_TOTAL),
                bytes: histogram!(FLUSH_BYTES),
                seconds: histogram!(FLUSH_SECONDS),
                upload_seconds: histogram!(FLUSH_UPLOAD_SECONDS),
                errors: counter!(FLUSH_ERRORS_TOTAL),
            },
            connections: ConnectionMetrics {
                open: gauge!(CONNECTIONS),
                accepted: counter!(CONNECTIONS_ACCEPTED_TOTAL),
                refused_max_connections: counter!(CONNECTIONS_REFUSED_TOTAL, "limit" => "max_connections"),
                refused_per_ip: counter!(CONNECTIONS_REFUSED_TOTAL, "limit" => "max_connections_per_ip"),
                idle_closed: counter!(CONNECTIONS_IDLE_CLOSED_TOTAL),
                read_timeouts: counter!(CONNECTIONS_READ_TIMEOUTS_TOTAL),
                write_timeouts: counter!(CONNECTIONS_WRITE_TIMEOUTS_TOTAL),
                authentication_failures: counter!(AUTHENTICATION_FAILURES_TOTAL, "stage" => "sasl"),
                tls_handshake_failures: counter!(AUTHENTICATION_FAILURES_TOTAL, "stage" => "tls"),
            },
        }
    }
}

#[derive(Clone)]
pub struct ProduceMetrics {
    pub bytes: Counter,
    pub records: Counter,
    pub batches: Counter,
    pub recompressed_batches: Counter,
}

#[derive(Clone)]
pub struct FetchMetrics {
    pub bytes: Counter,
    pub records: Counter,
}

#[derive(Clone)]
pub struct FlushMetrics {
    pub flushes: Counter,
    pub bytes: Histogram,
    pub seconds: Histogram,
    pub upload_seconds: Histogram,
    pub errors: Counter,
}

#[derive(Clone)]
pub struct ConnectionMetrics {
    pub open: Gauge,
    pub accepted: Counter,
    pub refused_max_connections: Counter,
    pub refused_per_ip: Counter,
    pub idle_closed: Counter,
    pub read_timeouts: Counter,
    pub write_timeouts: Counter,
    pub authentication_failures: Counter,
    pub tls_handshake_failures: Counter,
}
