//! Registering archive tables in the AWS Glue Data Catalog, so Athena (and anything else that
//! reads Glue) queries them with no crawler. Skiff's controller stays the catalog of record:
//! after each archive commit the committing job points the Glue table at the new metadata file,
//! as Iceberg's own Glue catalog does (`table_type=ICEBERG`, `metadata_location`,
//! `previous_metadata_location`). A failed update is logged and repaired by the next commit.
//!
//! Three calls of Glue's JSON API (GetTable, CreateTable, UpdateTable), signed with SigV4 by
//! `aws-sigv4` and sent with reqwest, rather than `aws-sdk-glue`: that crate is the largest in
//! the build (a 170 MB rlib, minutes of every clean build) for these three calls. Credentials
//! and region still come from `aws-config`'s chain.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};
use skiff_storage::StoreConfig;

use crate::catalog::metadata_version;
use crate::schema::COLUMNS;

/// Hive types Glue shows for the archive's columns (Athena reads the schema from the Iceberg
/// metadata; these are for the console and for engines that read Glue's columns).
const GLUE_TYPES: [&str; 8] = [
    "string",
    "int",
    "bigint",
    "timestamp",
    "string",
    "binary",
    "binary",
    "array<struct<key:string,value:binary>>",
];

/// How long one Glue call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Temporary credentials are fetched again when they have less than this left.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Where archive tables are registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueSettings {
    pub database: String,
    /// Another Glue endpoint (moto, LocalStack); the AWS one for the region when `None`.
    pub endpoint: Option<String>,
}

/// Why Glue did not take a table.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("no AWS region for Glue: set --s3-region or AWS_REGION")]
    NoRegion,
    #[error("no AWS credentials for Glue: set them as for S3, or give the process a role")]
    NoCredentials,
    #[error("the Glue HTTP client: {0}")]
    Client(String),
    #[error("the Glue table {database}.{table}: {reason}")]
    Call {
        database: String,
        table: String,
        reason: String,
    },
}

/// A Glue client for one database.
#[derive(Debug, Clone)]
pub struct GlueCatalog {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    /// The last credentials fetched, reused until they near their expiry (instance and task
    /// roles would otherwise be asked on every call).
    cached: Arc<parking_lot::Mutex<Option<Credentials>>>,
    database: String,
}

/// A Glue call that failed: its `__type` (e.g. `EntityNotFoundException`) when Glue said one.
struct CallFailure {
    kind: Option<String>,
    reason: String,
}

impl GlueCatalog {
    /// A client with the object store's region and static credentials when it has them, the
    /// AWS configuration chain (environment, profile, instance role) otherwise.
    pub async fn connect(settings: &GlueSettings, store: &StoreConfig) -> Result<Self, GlueError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &store.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let (Some(key), Some(secret)) = (&store.access_key_id, &store.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                key.clone(),
                secret.clone(),
                store.session_token.clone(),
                None,
                "skiff-object-store",
            ));
        }
        let shared = loader.load().await;
        let region = shared.region().ok_or(GlueError::NoRegion)?.to_string();
        let credentials = shared
            .credentials_provider()
            .ok_or(GlueError::NoCredentials)?;
        let endpoint = match &settings.endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
            None => format!("https://glue.{region}.amazonaws.com"),
        };
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| GlueError::Client(e.to_string()))?;
        Ok(GlueCatalog {
            http,
            endpoint,
            region,
            credentials,
            cached: Arc::default(),
            database: settings.database.clone(),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Points `table` (created if missing) at `metadata_location`. Never moves a table back
    /// to an older metadata version, so a slow job cannot undo a later commit's update.
    pub async fn publish(
        &self,
        table: &str,
        table_location: &str,
        metadata_location: &str,
    ) -> Result<GluePublish, GlueError> {
        let fail = |failure: CallFailure| GlueError::Call {
            database: self.database.clone(),
            table: table.to_string(),
            reason: failure.reason,
        };
        let found = self
            .call(
                "GetTable",
                &json!({ "DatabaseName": self.database, "Name": table }),
            )
            .await;
        let current = match found {
            Ok(answer) => Some(
                answer
                    .pointer("/Table/Parameters/metadata_location")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            Err(failure) if failure.kind.as_deref() == Some("EntityNotFoundException") => None,
            Err(failure) => return Err(fail(failure)),
        };
        let previous = current.as_deref().filter(|location| !location.is_empty());
        let body = json!({
            "DatabaseName": self.database,
            "TableInput": table_input(table, table_location, metadata_location, previous),
        });
        match current {
            None => {
                self.call("CreateTable", &body).await.map_err(fail)?;
                Ok(GluePublish::Created)
            }
            Some(current)
                if metadata_version(&current) >= metadata_version(metadata_location)
                    && current.starts_with(table_location) =>
            {
                Ok(GluePublish::AlreadyNewer)
            }
            Some(_) => {
                self.call("UpdateTable", &body).await.map_err(fail)?;
                Ok(GluePublish::Updated)
            }
        }
    }

    /// One signed call of Glue's JSON 1.1 API.
    async fn call(&self, action: &str, body: &Value) -> Result<Value, CallFailure> {
        let failed = |reason: String| CallFailure { kind: None, reason };
        let body = serde_json::to_vec(body).map_err(|e| failed(e.to_string()))?;
        let url = format!("{}/", self.endpoint);
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .ok_or_else(|| failed(format!("the endpoint {url} has no host")))?;
        let target = format!("AWSGlue.{action}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("host", host.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        let credentials = self.credentials().await.map_err(failed)?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("glue")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| failed(e.to_string()))?;
        let (signature, _) = sign(signable, &params)
            .map_err(|e| failed(e.to_string()))?
            .into_parts();
        let mut request = self.http.post(&url).body(body);
        for (name, value) in headers.iter().copied().chain(signature.headers()) {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(format!("{action}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| failed(format!("{action}: {e}")))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        // awsJson errors name their type in `__type`, sometimes after a `namespace#`.
        let kind = answer
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
        let message = ["message", "Message"]
            .iter()
            .find_map(|key| answer.get(*key).and_then(Value::as_str))
            .unwrap_or(text.as_str());
        Err(CallFailure {
            reason: format!(
                "{action}: HTTP {status}: {}{message}",
                kind.as_deref()
                    .map(|k| format!("{k}: "))
                    .unwrap_or_default()
            ),
            kind,
        })
    }

    async fn credentials(&self) -> Result<Credentials, String> {
        let fresh = |c: &Credentials| {
            c.expiry().is_none_or(|expiry| {
                expiry
                    .duration_since(SystemTime::now())
                    .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
            })
        };
        if let Some(cached) = self.cached.lock().as_ref().filter(|c| fresh(c)) {
            return Ok(cached.clone());
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        *self.cached.lock() = Some(credentials.clone());
        Ok(credentials)
    }
}

/// What [`GlueCatalog::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GluePublish {
    Created,
    Updated,
    /// Glue already named this version or a later one.
    AlreadyNewer,
}

/// The Glue (and Athena) name of `topic`'s table: Glue names are lower case letters, digits
/// and underscores, so `Orders.EU-west` becomes `orders_eu_west`. Two topics that differ only
/// in those characters share a name: give them different databases.
pub fn glue_table_name(topic: &str) -> String {
    topic
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

/// Glue's `TableInput` for an Iceberg table, as Iceberg's own Glue catalog writes it.
fn table_input(
    table: &str,
    table_location: &str,
    metadata_location: &str,
    previous: Option<&str>,
) -> Value {
    let columns: Vec<Value> = COLUMNS
        .iter()
        .zip(GLUE_TYPES)
        .map(|(name, kind)| json!({ "Name": name, "Type": kind }))
        .collect();
    let mut parameters = json!({
        "table_type": "ICEBERG",
        "metadata_location": metadata_location,
    });
    if let Some(previous) = previous {
        parameters["previous_metadata_location"] = json!(previous);
    }
    json!({
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": { "Location": table_location, "Columns": columns },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// One request as it arrived on the wire.
    struct Received {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Received {
        fn header(&self, name: &str) -> &str {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        }
    }

    /// A one-connection-per-request HTTP server answering like Glue: GetTable finds nothing,
    /// everything else succeeds.
    async fn fake_glue() -> (String, tokio::sync::mpsc::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut data = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_len, headers) = loop {
                    let n = socket.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the client closed mid-request");
                    data.extend_from_slice(&chunk[..n]);
                    if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&data[..at]).to_string();
                        let headers: Vec<(String, String)> = text
                            .lines()
                            .skip(1)
                            .filter_map(|line| line.split_once(':'))
                            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                            .collect();
                        break (at + 4, headers);
                    }
                };
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                while data.len() < head_len + length {
                    let n = socket.read(&mut chunk).await.unwrap();
                    data.extend_from_slice(&chunk[..n]);
                }
                let received = Received {
                    headers,
                    body: data[head_len..head_len + length].to_vec(),
                };
                let (status, answer) = if received.header("x-amz-target") == "AWSGlue.GetTable" {
                    (
                        "400 Bad Request",
                        r#"{"__type":"com.amazonaws.glue#EntityNotFoundException","message":"no such table"}"#,
                    )
                } else {
                    ("200 OK", "{}")
                };
                tx.send(received).await.unwrap();
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (endpoint, rx)
    }

    /// The signature aws-sigv4 gives the request exactly as it arrived (its host, date, target,
    /// content type and body), so a header or body changed after signing shows as a mismatch.
    fn expected_authorization(received: &Received, endpoint: &str) -> String {
        let date =
            chrono::NaiveDateTime::parse_from_str(received.header("x-amz-date"), "%Y%m%dT%H%M%SZ")
                .unwrap()
                .and_utc();
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(date.timestamp() as u64);
        let identity = Credentials::new("AKIDEXAMPLE", "secret-example", None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("glue")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = ["content-type", "host", "x-amz-target"].map(|n| (n, received.header(n)));
        let url = format!("{endpoint}/");
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&received.body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions
            .headers()
            .find(|(n, _)| *n == "authorization")
            .map(|(_, v)| v.to_string())
            .unwrap()
    }

    #[tokio::test]
    async fn a_missing_table_is_created_with_calls_signed_as_sent() {
        let (endpoint, mut requests) = fake_glue().await;
        let catalog = GlueCatalog {
            http: reqwest::Client::new(),
            endpoint: endpoint.clone(),
            region: "eu-west-1".into(),
            credentials: SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret-example",
                None,
                None,
                "test",
            )),
            cached: Arc::default(),
            database: "skiff_archive".into(),
        };
        let published = catalog
            .publish(
                "orders",
                "s3://b/archive/orders",
                "s3://b/archive/orders/metadata/v1.metadata.json",
            )
            .await
            .unwrap();
        assert_eq!(published, GluePublish::Created);

        let get = requests.recv().await.unwrap();
        let create = requests.recv().await.unwrap();
        for (received, target) in [(&get, "AWSGlue.GetTable"), (&create, "AWSGlue.CreateTable")] {
            assert_eq!(received.header("x-amz-target"), target);
            assert_eq!(
                received.header("content-type"),
                "application/x-amz-json-1.1"
            );
            let authorization = received.header("authorization");
            assert!(
                authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                    && authorization.contains("/eu-west-1/glue/aws4_request"),
                "{authorization}"
            );
            assert_eq!(authorization, expected_authorization(received, &endpoint));
        }
        let body: Value = serde_json::from_slice(&create.body).unwrap();
        assert_eq!(body["DatabaseName"], "skiff_archive");
        assert_eq!(body["TableInput"]["Name"], "orders");
        assert!(
            body["TableInput"]["Parameters"]
                .get("previous_metadata_location")
                .is_none()
        );
    }

    #[test]
    fn glue_names_are_lower_case_letters_digits_and_underscores() {
        assert_eq!(glue_table_name("Orders.EU-west_2"), "orders_eu_west_2");
        assert_eq!(glue_table_name("plain"), "plain");
    }

    #[test]
    fn the_table_input_is_what_athena_reads() {
        let input = table_input(
            "orders",
            "s3://b/p/archive/orders",
            "s3://b/p/archive/orders/metadata/v3.metadata.json",
            Some("s3://b/p/archive/orders/metadata/v2.metadata.json"),
        );
        let parameters = &input["Parameters"];
        assert_eq!(parameters["table_type"], "ICEBERG");
        let location = |key: &str| parameters[key].as_str().unwrap_or_default().to_string();
        assert!(location("metadata_location").ends_with("/v3.metadata.json"));
        assert!(location("previous_metadata_location").ends_with("/v2.metadata.json"));
        assert_eq!(input["TableType"], "EXTERNAL_TABLE");
        let columns = input["StorageDescriptor"]["Columns"].as_array().unwrap();
        assert_eq!(columns.len(), COLUMNS.len());
        assert_eq!(columns[7]["Type"], GLUE_TYPES[7]);
        assert_eq!(columns[0]["Name"], COLUMNS[0]);
    }
}
