//! The names of every metric this crate emits, shared with whatever reads them back (the
//! load generator parses the Prometheus text by these names), and their descriptions.
//!
//! Handles are registered when a [`crate::SegmentStore`], [`crate::MeteredStore`] or
//! [`crate::ChunkCache`] is created, so the process must install its recorder before
//! opening them; anything opened earlier reports to the no-op recorder.

/// Counter, label `kind`: object store requests started, whatever their outcome.
pub const OBJECT_STORE_REQUESTS_TOTAL: &str = "skiff_object_store_requests_total";
/// Counter, label `kind`: object store requests that ended in an error (a missing object
/// included).
pub const OBJECT_STORE_ERRORS_TOTAL: &str = "skiff_object_store_errors_total";
/// Counter, label `kind`: payload bytes sent (put) or received (get, get_range).
pub const OBJECT_STORE_BYTES_TOTAL: &str = "skiff_object_store_bytes_total";
/// Histogram, label `kind`: seconds from issuing a request until its answer is complete.
pub const OBJECT_STORE_REQUEST_SECONDS: &str = "skiff_object_store_request_seconds";
/// Counter, label `tier` (`memory` or `disk`): chunk cache lookups answered by that tier.
pub const CACHE_HITS_TOTAL: &str = "skiff_cache_hits_total";
/// Counter: chunk cache lookups that neither tier could answer.
pub const CACHE_MISSES_TOTAL: &str = "skiff_cache_misses_total";
/// Counter: chunks put into the cache, by a flush or by a read-through fetch.
pub const CACHE_INSERTS_TOTAL: &str = "skiff_cache_inserts_total";
/// Gauge: configured memory tier capacity in bytes.
pub const CACHE_MEMORY_BYTES_CONFIGURED: &str = "skiff_cache_memory_bytes_configured";
/// Gauge: configured disk tier capacity in bytes (0 when the cache runs memory only).
pub const CACHE_DISK_BYTES_CONFIGURED: &str = "skiff_cache_disk_bytes_configured";

/// Registers help text and units with the installed recorder, so `/metrics` explains each
/// series. Call once after installing the recorder; emitting works without it.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        OBJECT_STORE_REQUESTS_TOTAL,
        Unit::Count,
        "Object store requests started, by kind (put, get, get_range, head, list, delete), whatever their outcome"
    );
    describe_counter!(
        OBJECT_STORE_ERRORS_TOTAL,
        Unit::Count,
        "Object store requests that failed, by kind; a missing object counts"
    );
    describe_counter!(
        OBJECT_STORE_BYTES_TOTAL,
        Unit::Bytes,
        "Payload bytes sent by put and received by get and get_range"
    );
    describe_histogram!(
        OBJECT_STORE_REQUEST_SECONDS,
        Unit::Seconds,
        "Object store request latency, by kind; gets include reading the whole body"
    );
    describe_counter!(
        CACHE_HITS_TOTAL,
        Unit::Count,
        "Chunk cache lookups answered, by tier (memory, disk)"
    );
    describe_counter!(
        CACHE_MISSES_TOTAL,
        Unit::Count,
        "Chunk cache lookups that missed both tiers"
    );
    describe_counter!(
        CACHE_INSERTS_TOTAL,
        Unit::Count,
        "Chunks inserted into the chunk cache"
    );
    describe_gauge!(
        CACHE_MEMORY_BYTES_CONFIGURED,
        Unit::Bytes,
        "Configured chunk cache memory tier capacity"
    );
    describe_gauge!(
        CACHE_DISK_BYTES_CONFIGURED,
        Unit::Bytes,
        "Configured chunk cache disk tier capacity; 0 when memory only"
    );
}
