//! Per-API request handles, registered once at startup so a request only touches atomics.

use std::time::Instant;

use kafka_protocol::messages::ApiKey;
use metrics::{Counter, Histogram, counter, histogram};
use skiff_protocol::SUPPORTED_APIS;

use super::names::{KAFKA_REQUEST_ERRORS_TOTAL, KAFKA_REQUEST_SECONDS, KAFKA_REQUESTS_TOTAL};
use super::request_errors::reply_has_error;
use crate::reply::Reply;

/// The `api` label of requests that could not be decoded (unknown key, unsupported version,
/// malformed body) or have no handler.
pub const UNSUPPORTED_API: &str = "Unsupported";

/// The three series of one API.
#[derive(Clone)]
pub struct ApiMetrics {
    requests: Counter,
    errors: Counter,
    seconds: Histogram,
}

impl ApiMetrics {
    fn register(api: String) -> Self {
        ApiMetrics {
            requests: counter!(KAFKA_REQUESTS_TOTAL, "api" => api.clone()),
            errors: counter!(KAFKA_REQUEST_ERRORS_TOTAL, "api" => api.clone()),
            seconds: histogram!(KAFKA_REQUEST_SECONDS, "api" => api),
        }
    }

    /// Records one answered request: counted, timed from `decoded_at`, and counted as an
    /// error when the reply carries a non-zero error code.
    pub fn finished(&self, decoded_at: Instant, reply: &Reply) {
        self.requests.increment(1);
        self.seconds.record(decoded_at.elapsed().as_secs_f64());
        if reply_has_error(reply) {
            self.errors.increment(1);
        }
    }

    /// Records a request that ended the connection before it could be answered.
    pub fn unanswered(&self) {
        self.requests.increment(1);
        self.errors.increment(1);
    }
}

/// Handles for every API the broker serves, plus [`UNSUPPORTED_API`].
#[derive(Clone)]
pub struct RequestMetrics {
    /// Index into `apis` by API key; `None` for keys the broker does not serve.
    by_key: Box<[Option<usize>]>,
    apis: Box<[ApiMetrics]>,
    unsupported: ApiMetrics,
}

impl RequestMetrics {
    pub fn register() -> Self {
        let max_key = SUPPORTED_APIS
            .iter()
            .map(|api| api.key as i16)
            .max()
            .unwrap_or(0);
        let mut by_key = vec![None; usize::try_from(max_key).unwrap_or(0) + 1];
        let mut apis = Vec::with_capacity(SUPPORTED_APIS.len());
        for api in SUPPORTED_APIS {
            if let Ok(slot) = usize::try_from(api.key as i16)
                && let Some(entry) = by_key.get_mut(slot)
            {
                *entry = Some(apis.len());
                // Debug of ApiKey is the Kafka API name (Produce, Fetch, ...).
                apis.push(ApiMetrics::register(format!("{:?}", api.key)));
            }
        }
        RequestMetrics {
            by_key: by_key.into_boxed_slice(),
            apis: apis.into_boxed_slice(),
            unsupported: ApiMetrics::register(UNSUPPORTED_API.to_string()),
        }
    }

    /// The handles of `key`, or the unsupported ones for an API the broker does not serve.
    pub fn api(&self, key: ApiKey) -> &ApiMetrics {
        usize::try_from(key as i16)
            .ok()
            .and_then(|slot| self.by_key.get(slot).copied().flatten())
            .and_then(|index| self.apis.get(index))
            .unwrap_or(&self.unsupported)
    }

    pub fn unsupported(&self) -> &ApiMetrics {
        &self.unsupported
    }
}
