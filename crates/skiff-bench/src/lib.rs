//! `skiff bench`: a load generator that drives any Kafka broker through librdkafka, in the
//! manner of kafka-producer-perf-test and kafka-consumer-perf-test.
//!
//! - `produce`: records of `--record-size` bytes at up to `--throughput`; latency is send →
//!   acknowledgement.
//! - `consume`: a catch-up read of a topic from its start, without a consumer group.
//! - `e2e`: both at once; latency is send → consumed, from a send stamp in each record.
//!
//! The summary (text, or one JSON object with `--json`; fields in [`summary`]) reports
//! records, bytes, MB/s, records/s, latency percentiles from an HDR histogram, errors, and
//! with `--metrics-url` the broker's object store requests per GB moved.

mod args;
mod cluster;
mod consumer;
mod error;
mod latency;
mod live;
mod metrics_http;
mod parse;
mod producer;
mod progress;
pub mod prometheus;
pub mod properties;
mod run;
pub mod summary;
mod throttle;

pub use args::{
    AcksArg, BenchArgs, BenchMode, CommonArgs, CompressionArg, ConsumeArgs, DEFAULT_BOOTSTRAP,
    DEFAULT_RECORDS, E2eArgs, LoadArgs, ProduceArgs, StopCondition,
};
pub use error::BenchError;
pub use latency::LatencyPercentiles;
pub use parse::{Throughput, parse_size};
pub use run::{IdleStop, Measured, measure, run};
pub use summary::Summary;
