use std::path::PathBuf;

use object_store::path::Path;
use serde::Deserialize;

use crate::error::StorageError;

/// Where segments live and how to reach the store. Every field has a default so the CLI can
/// fill it from flags, environment and TOML in any combination; `url` must be set before
/// [`crate::SegmentStore::open`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// `file:///abs/dir`, `memory://` or `s3://bucket/optional/prefix`.
    pub url: String,
    /// S3-compatible endpoint such as `http://127.0.0.1:4566`; AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Permit plain-HTTP endpoints. Unset means "yes when the endpoint is `http://`".
    pub allow_http: Option<bool>,
    /// Bucket-in-hostname addressing. Off by default: path style is what MinIO and LocalStack
    /// accept without DNS tricks.
    pub virtual_hosted_style: bool,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub max_retries: usize,
    /// Total time budget for one request including its retries.
    pub retry_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: None,
            virtual_hosted_style: false,
            request_timeout_ms: 30_000,
            connect_timeout_ms: 5_000,
            max_retries: 3,
            retry_timeout_ms: 10_000,
        }
    }
}

/// Hand-written so logging a config can never leak credentials.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout_ms", &self.retry_timeout_ms)
            .finish()
    }
}

impl StoreConfig {
    /// Defaults for everything but the URL.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// The backend named by a store URL, with the key prefix every object path is placed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreLocation {
    Memory { prefix: Path },
    File { dir: PathBuf },
    S3 { bucket: String, prefix: Path },
}

impl StoreLocation {
    pub(crate) fn parse(url: &str) -> Result<Self, StorageError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StorageError::Config(
                "no object store URL configured; use file:///dir, memory:// or s3://bucket/prefix"
                    .to_string(),
            ));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(unsupported(url));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "memory" => Ok(StoreLocation::Memory {
                prefix: parse_prefix(url, rest)?,
            }),
            "file" => {
                if rest.is_empty() {
                    return Err(StorageError::Config(format!(
                        "store URL {url} names no directory; use file:///absolute/dir"
                    )));
                }
                Ok(StoreLocation::File {
                    dir: PathBuf::from(rest),
                })
            }
            "s3" | "s3a" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(StorageError::Config(format!(
                        "store URL {url} names no bucket; use s3://bucket/optional/prefix"
                    )));
                }
                Ok(StoreLocation::S3 {
                    bucket: bucket.to_string(),
                    prefix: parse_prefix(url, prefix)?,
                })
            }
            _ => Err(unsupported(url)),
        }
    }
}

fn parse_prefix(url: &str, prefix: &str) -> Result<Path, StorageError> {
    Path::parse(prefix.trim_matches('/')).map_err(|err| {
        StorageError::Config(format!("store URL {url} has an invalid key prefix: {err}"))
    })
}

fn unsupported(url: &str) -> StorageError {
    StorageError::Config(format!(
        "unsupported object store URL {url}; use file:///dir, memory:// or s3://bucket/prefix"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_scheme() {
        assert_eq!(
            StoreLocation::parse("memory://").ok(),
            Some(StoreLocation::Memory {
                prefix: Path::default()
            })
        );
        assert_eq!(
            StoreLocation::parse("file:///var/lib/skiff").ok(),
            Some(StoreLocation::File {
                dir: PathBuf::from("/var/lib/skiff")
            })
        );
        assert_eq!(
            StoreLocation::parse("s3://bucket/a/b/").ok(),
            Some(StoreLocation::S3 {
                bucket: "bucket".to_string(),
                prefix: Path::from("a/b"),
            })
        );
        assert_eq!(
            StoreLocation::parse("s3://bucket").ok(),
            Some(StoreLocation::S3 {
                bucket: "bucket".to_string(),
                prefix: Path::default(),
            })
        );
    }

    #[test]
    fn rejects_unusable_urls_with_config_errors() {
        for url in [
            "",
            "  ",
            "/no/scheme",
            "gs://bucket",
            "s3://",
            "s3:///prefix",
            "file://",
            "s3://bucket/a//b",
        ] {
            match StoreLocation::parse(url) {
                Err(StorageError::Config(message)) => assert!(!message.is_empty()),
                other => panic!("{url:?} should be a config error, got {other:?}"),
            }
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = StoreConfig {
            secret_access_key: Some("very-secret".to_string()),
            session_token: Some("token-secret".to_string()),
            access_key_id: Some("AKIAEXAMPLE".to_string()),
            ..StoreConfig::for_url("s3://b")
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("AKIAEXAMPLE") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn config_deserializes_with_defaults_for_missing_fields() {
        use serde::de::value::{Error, MapDeserializer};
        // No format crate is a dependency here, so drive serde with its own map deserializer.
        let fields: MapDeserializer<'_, _, Error> =
            MapDeserializer::new([("url", "s3://b/p")].into_iter());
        let config = StoreConfig::deserialize(fields).expect("store config");
        assert_eq!(config.url, "s3://b/p");
        assert_eq!(config.endpoint, None);
        assert_eq!(config.request_timeout_ms, 30_000);
        assert_eq!(config.connect_timeout_ms, 5_000);
        assert_eq!(config.max_retries, 3);
        assert_eq!(config.retry_timeout_ms, 10_000);
        assert!(!config.virtual_hosted_style);
        assert_eq!(config.allow_http, None);
    }
}
