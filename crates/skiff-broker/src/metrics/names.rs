//! The names of every metric the broker emits, and their descriptions for `/metrics`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter, label `api`: Kafka requests received (decoded or not).
pub const KAFKA_REQUESTS_TOTAL: &str = "skiff_kafka_requests_total";
/// Counter, label `api`: requests whose response carries any non-zero error code.
pub const KAFKA_REQUEST_ERRORS_TOTAL: &str = "skiff_kafka_request_errors_total";
/// Histogram, label `api`: seconds from decoding a request until its response is ready.
pub const KAFKA_REQUEST_SECONDS: &str = "skiff_kafka_request_seconds";
/// Counter: record-set bytes accepted into a pending segment.
pub const PRODUCE_BYTES_TOTAL: &str = "skiff_produce_bytes_total";
/// Counter: records accepted into a pending segment (from batch headers).
pub const PRODUCE_RECORDS_TOTAL: &str = "skiff_produce_records_total";
/// Counter: record batches accepted into a pending segment.
pub const PRODUCE_BATCHES_TOTAL: &str = "skiff_produce_batches_total";
/// Counter: batches rewritten into their topic's `compression.type` on produce.
pub const PRODUCE_RECOMPRESSED_BATCHES_TOTAL: &str = "skiff_produce_recompressed_batches_total";
/// Counter: record bytes sent in fetch responses.
pub const FETCH_BYTES_TOTAL: &str = "skiff_fetch_bytes_total";
/// Counter: records sent in fetch responses (from batch headers).
pub const FETCH_RECORDS_TOTAL: &str = "skiff_fetch_records_total";
/// Counter: segments uploaded and committed.
pub const FLUSHES_TOTAL: &str = "skiff_flushes_total";
/// Histogram: size of each committed segment object.
pub const FLUSH_BYTES: &str = "skiff_flush_bytes";
/// Histogram: seconds from sealing a segment until the controller committed it.
pub const FLUSH_SECONDS: &str = "skiff_flush_seconds";
/// Histogram: seconds the segment PUT took.
pub const FLUSH_UPLOAD_SECONDS: &str = "skiff_flush_upload_seconds";
/// Counter: segments whose upload or commit failed (their producers got a retriable error).
pub const FLUSH_ERRORS_TOTAL: &str = "skiff_flush_errors_total";
/// Gauge: open client connections.
pub const CONNECTIONS: &str = "skiff_connections";
/// Counter: client connections accepted.
pub const CONNECTIONS_ACCEPTED_TOTAL: &str = "skiff_connections_accepted_total";
/// Counter, label `limit`: connections accepted and closed at once because a connection limit
/// was reached (`max_connections` or `max_connections_per_ip`).
pub const CONNECTIONS_REFUSED_TOTAL: &str = "skiff_connections_refused_total";
/// Counter: connections closed because a started request frame did not arrive whole in time.
pub const CONNECTIONS_READ_TIMEOUTS_TOTAL: &str = "skiff_connections_read_timeouts_total";
/// Counter: connections closed because the client accepted no response bytes in time.
pub const CONNECTIONS_WRITE_TIMEOUTS_TOTAL: &str = "skiff_connections_write_timeouts_total";
/// Counter: connections closed for staying idle past `connections_max_idle_ms`.
pub const CONNECTIONS_IDLE_CLOSED_TOTAL: &str = "skiff_connections_idle_closed_total";
/// Counter: connections closed for a failed TLS handshake or SASL authentication, by `stage`.
pub const AUTHENTICATION_FAILURES_TOTAL: &str = "skiff_authentication_failures_total";

/// Registers help text and units with the installed recorder. Call once after installing it.
pub fn describe_metrics() {
    describe_counter!(
        KAFKA_REQUESTS_TOTAL,
        Unit::Count,
        "Kafka requests received, by API; undecodable ones under api=\"Unsupported\""
    );
    describe_counter!(
        KAFKA_REQUEST_ERRORS_TOTAL,
        Unit::Count,
        "Kafka requests whose response carries any non-zero error code, by API"
    );
    describe_histogram!(
        KAFKA_REQUEST_SECONDS,
        Unit::Seconds,
        "Time from decoding a Kafka request until its response is ready, by API"
    );
    describe_counter!(
        PRODUCE_BYTES_TOTAL,
        Unit::Bytes,
        "Record-set bytes accepted into a pending segment"
    );
    describe_counter!(
        PRODUCE_RECORDS_TOTAL,
        Unit::Count,
        "Records accepted into a pending segment, counted from batch headers"
    );
    describe_counter!(
        PRODUCE_BATCHES_TOTAL,
        Unit::Count,
        "Record batches accepted into a pending segment"
    );
    describe_counter!(
        PRODUCE_RECOMPRESSED_BATCHES_TOTAL,
        Unit::Count,
        "Batches recompressed into their topic's compression.type on produce"
    );
    describe_counter!(
        FETCH_BYTES_TOTAL,
        Unit::Bytes,
        "Record bytes sent in fetch responses"
    );
    describe_counter!(
        FETCH_RECORDS_TOTAL,
        Unit::Count,
        "Records sent in fetch responses, counted from batch headers"
    );
    describe_counter!(
        FLUSHES_TOTAL,
        Unit::Count,
        "Segment objects uploaded and committed"
    );
    describe_histogram!(
        FLUSH_BYTES,
        Unit::Bytes,
        "Size of each committed segment object"
    );
    describe_histogram!(
        FLUSH_SECONDS,
        Unit::Seconds,
        "Time from sealing a segment until the controller committed it"
    );
    describe_histogram!(
        FLUSH_UPLOAD_SECONDS,
        Unit::Seconds,
        "Time the segment object PUT took, retries included"
    );
    describe_counter!(
        FLUSH_ERRORS_TOTAL,
        Unit::Count,
        "Segments whose upload or commit failed; their producers got a retriable error"
    );
    describe_gauge!(CONNECTIONS, Unit::Count, "Open client connections");
    describe_counter!(
        CONNECTIONS_ACCEPTED_TOTAL,
        Unit::Count,
        "Client connections accepted"
    );
    describe_counter!(
        CONNECTIONS_REFUSED_TOTAL,
        Unit::Count,
        "Connections closed as soon as accepted because a limit was reached, by limit (max_connections, max_connections_per_ip)"
    );
    describe_counter!(
        CONNECTIONS_READ_TIMEOUTS_TOTAL,
        Unit::Count,
        "Connections closed because a started request frame did not arrive whole within request_read_timeout_ms"
    );
    describe_counter!(
        CONNECTIONS_WRITE_TIMEOUTS_TOTAL,
        Unit::Count,
        "Connections closed because the client accepted no response bytes for response_write_timeout_ms"
    );
    describe_counter!(
        CONNECTIONS_IDLE_CLOSED_TOTAL,
        Unit::Count,
        "Client connections closed for staying idle past connections_max_idle_ms"
    );
    describe_counter!(
        AUTHENTICATION_FAILURES_TOTAL,
        Unit::Count,
        "Client connections closed for a failed TLS handshake or SASL authentication"
    );
}
