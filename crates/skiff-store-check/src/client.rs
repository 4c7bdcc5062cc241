//! An `aws-sdk-s3` client that reaches the store the way Skiff's own store does: the same
//! endpoint, region, credentials and addressing style from the same settings, else the usual
//! AWS chain (environment, profile, web identity, container and instance roles).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use skiff_storage::StoreConfig;

/// Skiff's own default when nothing names a region.
const DEFAULT_REGION: &str = "us-east-1";

pub(crate) struct Connection {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub region: String,
}

pub(crate) async fn connect(cfg: &StoreConfig) -> Connection {
    let region = RegionProviderChain::first_try(cfg.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::new(DEFAULT_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms.max(1)))
                .operation_attempt_timeout(Duration::from_millis(cfg.request_timeout_ms.max(1)))
                .build(),
        );
    if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
        loader = loader.credentials_provider(Credentials::new(
            id,
            secret,
            cfg.session_token.clone(),
            None,
            "skiff-settings",
        ));
    }
    if let Some(endpoint) = &cfg.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(!cfg.virtual_hosted_style)
        // Checksums only where S3 requires them: S3-compatible servers differ in what they
        // accept beyond that, and Skiff's own writes send none either.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Connection {
        client: aws_sdk_s3::Client::from_conf(s3),
        endpoint: shared.endpoint_url().unwrap_or("AWS").to_string(),
        region: shared
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| DEFAULT_REGION.to_string()),
    }
}

/// The S3 error code of a failed request (`AccessDenied`, `PreconditionFailed`, ...).
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.code()
}

/// The HTTP status of a failed request, when the server answered.
pub(crate) fn http_status<E>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response()
        .map(|response| response.status().as_u16())
}

/// A failed request in one readable line: the server's code, message and status, or why no
/// answer came.
pub(crate) fn describe<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = http_status(err)
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}{status}"),
                (Some(code), None) => format!("{code}{status}"),
                _ => format!("the server answered an error{status}"),
            }
        }
        SdkError::TimeoutError(_) => "no answer within the request timeout".to_string(),
        other => format!("cannot reach the store: {}", DisplayErrorContext(other)),
    }
}
