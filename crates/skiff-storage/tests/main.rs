//! Every integration test of this crate, in one binary: one link and one compile of the
//! shared helpers instead of one per file (nextest still runs each test in its own process).

mod support;

mod cache_metrics;
mod chunk_cache;
mod object_store_metrics;
mod segment_format;
mod store_scenarios;
