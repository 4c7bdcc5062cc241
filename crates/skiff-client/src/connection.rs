//! One TCP connection to one broker: requests are pipelined (written as they come, by a writer
//! task) and responses are matched to their callers by correlation id (by a reader task).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::debug;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::kafka_code::UNSUPPORTED_VERSION;
use crate::security::scram::ScramClient;
use crate::security::{SaslCredentials, SaslMechanism};
use crate::versions::{BrokerVersions, api_name};

/// Frames queued for the writer task; senders wait beyond it.
const WRITE_QUEUE: usize = 64;

type Waiter = oneshot::Sender<Result<Bytes, ClientError>>;

/// A frame for the writer task, and who wants to know once it is on the socket.
type QueuedFrame = (Bytes, Option<oneshot::Sender<()>>);

/// A plain TCP or a TLS stream, boxed once per connection.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}
type BoxedStream = Box<dyn Stream>;

/// Callers waiting for their response, by correlation id. Once the connection is closed, the
/// reason is kept so later callers fail at once.
#[derive(Default)]
struct Pending {
    waiters: HashMap<i32, Waiter>,
    closed: Option<String>,
}

/// A connection to one broker, with that broker's API versions. Cheap to share (`Arc`).
pub struct BrokerConnection {
    addr: String,
    client_id: StrBytes,
    request_timeout: Duration,
    frames: mpsc::Sender<QueuedFrame>,
    pending: Arc<Mutex<Pending>>,
    next_correlation_id: AtomicI32,
    in_flight: Semaphore,
    versions: BrokerVersions,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for BrokerConnection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl BrokerConnection {
    /// Connects and negotiates API versions.
    pub async fn connect(addr: &str, config: &ClientConfig) -> Result<Self, ClientError> {
        let unreachable = |cause: String| ClientError::Unreachable {
            addr: addr.to_owned(),
            cause,
        };
        let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                unreachable(format!(
                    "no answer within {} ms",
                    config.connect_timeout.as_millis()
                ))
            })?
            .map_err(|e| unreachable(io_cause(&e)))?;
        // Requests are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let stream: BoxedStream = match &config.tls {
            None => Box::new(stream),
            Some(tls) => {
                let name = server_name(addr).map_err(&unreachable)?;
                let handshake = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, stream);
                let tls_stream = tokio::time::timeout(config.connect_timeout, handshake)
                    .await
                    .map_err(|_| unreachable("the TLS handshake did not finish in time".into()))?
                    .map_err(|e| unreachable(format!("TLS handshake failed: {e}")))?;
                Box::new(tls_stream)
            }
        };
        let (read_half, write_half) = tokio::io::split(stream);
        let pending = Arc::new(Mutex::new(Pending::default()));
        let (frames, queued) = mpsc::channel(WRITE_QUEUE);
        let tasks = [
            tokio::spawn(write_frames(
                write_half,
                queued,
                pending.clone(),
                addr.to_owned(),
            )),
            tokio::spawn(read_frames(
                read_half,
                pending.clone(),
                config.max_response_bytes,
                addr.to_owned(),
            )),
        ];
        let mut connection = BrokerConnection {
            addr: addr.to_owned(),
            client_id: StrBytes::from_string(config.client_id.clone()),
            request_timeout: config.request_timeout,
            frames,
            pending,
            next_correlation_id: AtomicI32::new(1),
            in_flight: Semaphore::new(config.max_in_flight_per_connection.max(1)),
            versions: BrokerVersions::default(),
            tasks,
        };
        connection.versions = connection.negotiate_versions(&config.client_id).await?;
        if let Some(sasl) = &config.sasl {
            connection.authenticate(sasl).await?;
        }
        Ok(connection)
    }

    /// SaslHandshake v1, then the mechanism's SaslAuthenticate exchange.
    async fn authenticate(&self, sasl: &SaslCredentials) -> Result<(), ClientError> {
        let context = || {
            format!(
                "SASL {} login as {} at {}",
                sasl.mechanism.name(),
                sasl.username,
                self.addr
            )
        };
        let handshake = self.send(&sasl_handshake_request(sasl.mechanism)).await?;
        if handshake.error_code != 0 {
            let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            let offered = format!("the broker offers {}", offered.join(", "));
            return Err(ClientError::kafka(
                handshake.error_code,
                context(),
                Some(offered.as_str()),
            ));
        }
        match sasl.mechanism {
            SaslMechanism::Plain => {
                let mut token = Vec::with_capacity(sasl.username.len() + sasl.password.len() + 2);
                token.push(0);
                token.extend_from_slice(sasl.username.as_bytes());
                token.push(0);
                token.extend_from_slice(sasl.password.as_bytes());
                self.sasl_step(token, &context).await?;
            }
            mechanism => {
                let (client, first) = ScramClient::new(mechanism, &sasl.username, &sasl.password);
                let server_first = self.sasl_step(first.into_bytes(), &context).await?;
                let (last, check) = client
                    .respond(&server_first)
                    .map_err(|e| ClientError::InvalidArgument(format!("{}: {e}", context())))?;
                let server_final = self.sasl_step(last.into_bytes(), &context).await?;
                check
                    .verify(&server_final)
                    .map_err(|e| ClientError::InvalidArgument(format!("{}: {e}", context())))?;
            }
        }
        debug!("{} succeeded", context());
        Ok(())
    }

    async fn sasl_step(
        &self,
        token: Vec<u8>,
        context: &(dyn Fn() -> String + Sync),
    ) -> Result<Bytes, ClientError> {
        let response = self.send(&sasl_authenticate_request(token)).await?;
        if response.error_code != 0 {
            return Err(ClientError::kafka(
                response.error_code,
                context(),
                response.error_message.as_deref(),
            ));
        }
        Ok(response.auth_bytes)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// False once the socket failed or the broker closed it.
    pub fn is_open(&self) -> bool {
        self.pending.lock().closed.is_none()
    }

    /// The version this client will use for `key` on this broker, if both support one.
    pub fn version_for(&self, key: ApiKey) -> Option<i16> {
        self.versions.pick(key)
    }

    pub fn supports(&self, key: ApiKey) -> bool {
        self.versions.supports(key)
    }

    /// The negotiated version for `key`, or a readable error naming the broker.
    pub fn require_version(&self, key: ApiKey) -> Result<i16, ClientError> {
        self.version_for(key)
            .ok_or_else(|| ClientError::UnsupportedApi {
                api: api_name(key),
                addr: self.addr.clone(),
            })
    }

    /// Sends `request` at the negotiated version and waits for its response.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response, ClientError> {
        let key = api_key::<R>()?;
        let version = self.require_version(key)?;
        self.send_at(request, version, self.request_timeout).await
    }

    /// Like [`send`](Self::send), allowing `extra` beyond the request timeout (long polls).
    pub async fn send_with_extra_time<R: Request>(
        &self,
        request: &R,
        extra: Duration,
    ) -> Result<R::Response, ClientError> {
        let key = api_key::<R>()?;
        let version = self.require_version(key)?;
        self.send_at(request, version, self.request_timeout + extra)
            .await
    }

    /// Writes a request no response will come for (Produce with acks=0).
    pub async fn send_without_response<R: Request>(&self, request: &R) -> Result<(), ClientError> {
        let key = api_key::<R>()?;
        let version = self.require_version(key)?;
        let correlation_id = self.next_correlation_id();
        let frame = encode_frame(request, key, version, correlation_id, &self.client_id)?;
        // Nothing will answer, so "sent" must at least mean "handed to the socket".
        let (written, on_socket) = oneshot::channel();
        self.write(key, frame, Some(written)).await?;
        on_socket
            .await
            .map_err(|_| self.closed_error("the writer stopped before the request was sent"))
    }

    async fn send_at<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        let key = api_key::<R>()?;
        let mut body = self.round_trip(key, version, request, timeout).await?;
        R::Response::decode(&mut body, version).map_err(|e| self.decode_error(key, &e))
    }

    /// Sends one request and returns the response body (after its header).
    async fn round_trip<R: Encodable>(
        &self,
        key: ApiKey,
        version: i16,
        request: &R,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| self.closed_error("the connection is shutting down"))?;
        let correlation_id = self.next_correlation_id();
        let frame = encode_frame(request, key, version, correlation_id, &self.client_id)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending.lock();
            if let Some(cause) = &pending.closed {
                return Err(self.closed_error(cause));
            }
            pending.waiters.insert(correlation_id, tx);
        }
        // Whatever happens below, a waiter left behind must not outlive this call.
        let _guard = WaiterGuard {
            pending: &self.pending,
            correlation_id,
        };
        self.write(key, frame, None).await?;
        let mut frame = match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    api: api_name(key),
                    addr: self.addr.clone(),
                    timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
            Ok(Err(_)) => return Err(self.closed_error("the reader stopped")),
            Ok(Ok(result)) => result?,
        };
        ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .map_err(|e| self.decode_error(key, &e))?;
        Ok(frame)
    }

    async fn write(
        &self,
        key: ApiKey,
        frame: Bytes,
        written: Option<oneshot::Sender<()>>,
    ) -> Result<(), ClientError> {
        let queued =
            tokio::time::timeout(self.request_timeout, self.frames.send((frame, written))).await;
        match queued {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.closed_error("the writer stopped")),
            Err(_) => Err(ClientError::Timeout {
                api: api_name(key),
                addr: self.addr.clone(),
                timeout_ms: u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// ApiVersions at v3, falling back to v0 when the broker does not know v3 (KIP-511).
    async fn negotiate_versions(&self, client_id: &str) -> Result<BrokerVersions, ClientError> {
        let mut request = ApiVersionsRequest::default();
        request.client_software_name = StrBytes::from_string(software_name(client_id));
        request.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let body = self
            .round_trip(ApiKey::ApiVersions, 3, &request, self.request_timeout)
            .await?;
        let error_code = body.clone().try_get_i16().unwrap_or(0);
        let (body, version) = if error_code == UNSUPPORTED_VERSION {
            let body = self
                .round_trip(
                    ApiKey::ApiVersions,
                    0,
                    &ApiVersionsRequest::default(),
                    self.request_timeout,
                )
                .await?;
            (body, 0)
        } else {
            (body, 3)
        };
        let mut body = body;
        let response = ApiVersionsResponse::decode(&mut body, version)
            .map_err(|e| self.decode_error(ApiKey::ApiVersions, &e))?;
        if response.error_code != 0 {
            return Err(ClientError::kafka(
                response.error_code,
                format!("ApiVersions with {}", self.addr),
                None,
            ));
        }
        Ok(BrokerVersions::new(
            response
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version)),
        ))
    }

    fn next_correlation_id(&self) -> i32 {
        // Wraps after 2^31 requests; ids only need to be unique among those in flight.
        self.next_correlation_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_abs()
    }

    fn closed_error(&self, cause: &str) -> ClientError {
        ClientError::ConnectionClosed {
            addr: self.addr.clone(),
            cause: cause.to_owned(),
        }
    }

    fn decode_error(&self, key: ApiKey, error: &anyhow::Error) -> ClientError {
        ClientError::Decode {
            api: api_name(key),
            addr: self.addr.clone(),
            detail: format!("{error:#}"),
        }
    }
}

struct WaiterGuard<'a> {
    pending: &'a Mutex<Pending>,
    correlation_id: i32,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.pending.lock().waiters.remove(&self.correlation_id);
    }
}

fn api_key<R: Request>() -> Result<ApiKey, ClientError> {
    ApiKey::try_from(R::KEY).map_err(|()| ClientError::Encode {
        api: "Kafka",
        detail: format!("api key {} is unknown to kafka-protocol", R::KEY),
    })
}

/// ApiVersions v3 requires a name of letters, digits, dots and dashes.
fn software_name(client_id: &str) -> String {
    let name: String = client_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if name.is_empty() {
        "skiff".to_owned()
    } else {
        name.to_owned()
    }
}

pub(crate) fn sasl_handshake_request(mechanism: SaslMechanism) -> SaslHandshakeRequest {
    let mut request = SaslHandshakeRequest::default();
    request.mechanism = StrBytes::from_static_str(mechanism.name());
    request
}

pub(crate) fn sasl_authenticate_request(token: Vec<u8>) -> SaslAuthenticateRequest {
    let mut request = SaslAuthenticateRequest::default();
    request.auth_bytes = Bytes::from(token);
    request
}

/// The name the broker's certificate must carry: the host of `host:port` (an IP address
/// is checked against the certificate's IP entries).
fn server_name(addr: &str) -> Result<rustls::pki_types::ServerName<'static>, String> {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))
}

fn io_cause(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => error.to_string(),
    }
}

/// Size-prefixed request frame: header (at the version the API requires), then body.
pub(crate) fn encode_frame<R: Encodable>(
    request: &R,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &StrBytes,
) -> Result<Bytes, ClientError> {
    let encode_error = |e: anyhow::Error| ClientError::Encode {
        api: api_name(key),
        detail: format!("{e:#} (version {version})"),
    };
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(client_id.clone());
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, key.request_header_version(version))
        .map_err(encode_error)?;
    request.encode(&mut buf, version).map_err(encode_error)?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| ClientError::Encode {
        api: api_name(key),
        detail: "the request is larger than 2 GiB".to_owned(),
    })?;
    if let Some(prefix) = buf.get_mut(..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(buf.freeze())
}

async fn write_frames(
    mut socket: WriteHalf<BoxedStream>,
    mut frames: mpsc::Receiver<QueuedFrame>,
    pending: Arc<Mutex<Pending>>,
    addr: String,
) {
    while let Some((frame, written)) = frames.recv().await {
        if let Err(e) = socket.write_all(&frame).await {
            close(&pending, &addr, format!("write failed: {}", io_cause(&e)));
            return;
        }
        if let Some(written) = written {
            let _ = written.send(());
        }
    }
}

async fn read_frames(
    mut socket: ReadHalf<BoxedStream>,
    pending: Arc<Mutex<Pending>>,
    max_frame: usize,
    addr: String,
) {
    let cause = loop {
        let size = match socket.read_i32().await {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break "the broker closed the connection".to_owned();
            }
            Err(e) => break format!("read failed: {}", io_cause(&e)),
        };
        let size = match usize::try_from(size) {
            Ok(size) if (4..=max_frame).contains(&size) => size,
            _ => break format!("the broker sent a frame of {size} bytes"),
        };
        let mut frame = BytesMut::zeroed(size);
        if let Err(e) = socket.read_exact(&mut frame).await {
            break format!("read failed mid-frame: {}", io_cause(&e));
        }
        let frame = frame.freeze();
        let correlation_id = frame.clone().get_i32();
        let waiter = pending.lock().waiters.remove(&correlation_id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(Ok(frame));
            }
            // Its caller gave up (timeout) before the answer came.
            None => debug!(correlation_id, "response for a request nobody waits for"),
        }
    };
    close(&pending, &addr, cause);
}

fn close(pending: &Mutex<Pending>, addr: &str, cause: String) {
    let waiters = {
        let mut pending = pending.lock();
        if pending.closed.is_none() {
            pending.closed = Some(cause.clone());
        }
        std::mem::take(&mut pending.waiters)
    };
    for (_, waiter) in waiters {
        let _ = waiter.send(Err(ClientError::ConnectionClosed {
            addr: addr.to_owned(),
            cause: cause.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;

    #[test]
    fn frames_carry_their_size_and_a_decodable_header() {
        let frame = encode_frame(
            &MetadataRequest::default(),
            ApiKey::Metadata,
            12,
            77,
            &StrBytes::from_static_str("skiff"),
        )
        .unwrap();
        let mut rest = frame.clone();
        let size = rest.get_i32();
        assert_eq!(size as usize, frame.len() - 4);
        let header =
            RequestHeader::decode(&mut rest, ApiKey::Metadata.request_header_version(12)).unwrap();
        assert_eq!(header.request_api_key, ApiKey::Metadata as i16);
        assert_eq!(header.request_api_version, 12);
        assert_eq!(header.correlation_id, 77);
        let body = MetadataRequest::decode(&mut rest, 12).unwrap();
        assert_eq!(body, MetadataRequest::default());
    }

    #[test]
    fn software_names_are_made_acceptable() {
        assert_eq!(software_name("skiff cli"), "skiff-cli");
        assert_eq!(software_name("__"), "skiff");
        assert_eq!(software_name("rdkafka-2.1"), "rdkafka-2.1");
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_unreachable_with_its_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = BrokerConnection::connect(&addr, &ClientConfig::default())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&error, ClientError::Unreachable { addr: a, .. } if *a == addr),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("broker unreachable at {addr}"))
        );
    }
}
