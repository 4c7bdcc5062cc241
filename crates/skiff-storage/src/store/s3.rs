use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::client::SpawnedReqwestConnector;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};

use super::config::StoreConfig;
use crate::error::StorageError;

const DEFAULT_REGION: &str = "us-east-1";

/// A built S3 client plus what the startup log line should say about it.
pub(crate) struct S3Backend {
    pub store: AmazonS3,
    pub endpoint: Option<String>,
    pub region: String,
    /// False when neither the environment nor the settings give an access key, so object_store
    /// asks the instance metadata service, whose failure alone would not say that.
    pub has_access_key: bool,
}

/// Builds the S3 client: the standard AWS environment first (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, `AWS_ALLOW_HTTP`, ...), then
/// explicit configuration on top.
/// `io`, when given, is the runtime whose threads send the requests and own the connections,
/// whichever runtime calls the store.
pub(crate) fn build_s3(
    cfg: &StoreConfig,
    bucket: &str,
    io: Option<tokio::runtime::Handle>,
) -> Result<S3Backend, StorageError> {
    for (name, value) in [
        ("request_timeout_ms", cfg.request_timeout_ms),
        ("connect_timeout_ms", cfg.connect_timeout_ms),
        ("retry_timeout_ms", cfg.retry_timeout_ms),
    ] {
        if value == 0 {
            return Err(StorageError::Config(format!(
                "{name} must be greater than zero"
            )));
        }
    }

    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(io) = io {
        builder = builder.with_http_connector(SpawnedReqwestConnector::new(io));
    }

    if let Some(endpoint) = &cfg.endpoint {
        // object_store prefers the S3-specific endpoint (AWS_ENDPOINT_URL_S3) over the generic
        // one, so an explicit endpoint must overwrite both to win over the environment.
        builder = builder
            .with_endpoint(endpoint)
            .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
    }
    if let Some(region) = &cfg.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &cfg.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &cfg.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &cfg.session_token {
        builder = builder.with_token(token);
    }

    let endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::S3Endpoint)
        .or_else(|| builder.get_config_value(&AmazonS3ConfigKey::Endpoint))
        .filter(|e| !e.is_empty());
    let allow_http = cfg.allow_http.or_else(|| {
        endpoint
            .as_deref()
            .filter(|e| e.to_ascii_lowercase().starts_with("http://"))
            .map(|_| true)
    });
    if let Some(allow_http) = allow_http {
        builder = builder.with_allow_http(allow_http);
    }

    let has_access_key = builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_some_and(|key| !key.is_empty());
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGION.to_string());

    let store = builder
        .with_region(&region)
        .with_virtual_hosted_style_request(cfg.virtual_hosted_style)
        // Segment uploads rely on PutMode::Create sending `If-None-Match: *`, so an object is
        // never silently overwritten.
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: cfg.max_retries,
            retry_timeout: Duration::from_millis(cfg.retry_timeout_ms),
        })
        // Set through config keys rather than with_client_options, which would discard the
        // client options already read from the environment.
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", cfg.request_timeout_ms),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", cfg.connect_timeout_ms),
        )
        .build()
        .map_err(|err| StorageError::Config(format!("cannot set up S3 bucket {bucket}: {err}")))?;

    Ok(S3Backend {
        store,
        endpoint,
        region,
        has_access_key,
    })
}
