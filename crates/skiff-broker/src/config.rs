use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::security::{SaslMechanism, SecurityProtocol};

/// The default shortest time between two flushes on a file or memory store. A flush there
/// costs no money, only an index entry per partition it holds and one controller proposal, so
/// the floor bounds those (at most 100 flushes a second) rather than the object store bill.
pub const LOCAL_MIN_FLUSH_INTERVAL_MS: u64 = 10;

/// Broker settings. Every field has a default so a partial TOML file or a handful of flags is
/// enough; the CLI fills this from flags, `SKIFF_*` variables and an optional file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    pub broker_id: i32,
    /// Where the Kafka listener binds. Port 0 picks a free port (tests).
    pub kafka_addr: SocketAddr,
    /// `host:port` clients are told to connect to; defaults to the bound address.
    pub advertised_addr: Option<String>,
    pub rack: Option<String>,
    /// Kafka's `socket.request.max.bytes`: a larger frame closes the connection.
    pub max_request_bytes: usize,
    /// Connections beyond this are accepted and closed at once (not left in the backlog).
    pub max_connections: usize,
    /// Kafka's `max.connections.per.ip`: connections from one address beyond it are closed at once.
    pub max_connections_per_ip: usize,
    /// Kafka's `max.connections.per.ip.overrides`: per-address limits that replace the above.
    pub max_connections_per_ip_overrides: HashMap<IpAddr, usize>,
    /// Kafka's `queued.max.request.bytes`: request bytes held in memory across all connections
    /// (counted as they arrive); beyond it the broker stops reading sockets until some are freed.
    pub queued_max_request_bytes: usize,
    /// Response bytes encoded and waiting to be written, across all connections; beyond it
    /// connections wait before encoding more.
    pub queued_max_response_bytes: usize,
    /// A started request frame must arrive whole within this long, or the connection closes.
    pub request_read_timeout_ms: u64,
    /// A connection whose client accepts no response bytes for this long is closed.
    pub response_write_timeout_ms: u64,
    /// Kafka's `connections.max.idle.ms`: a connection with nothing in progress and nothing
    /// received for this long is closed (clients reconnect on their next request); 0 never.
    pub connections_max_idle_ms: u64,
    /// Requests a connection may have in progress at once (pipelining depth). Each produce
    /// waits for the next flush and librdkafka sends one produce request per partition, so at 64
    /// a producer reached only 64 partitions per flush; the bytes in progress are bounded by
    /// the request budget, not by this.
    pub max_in_flight_per_connection: usize,
    /// Flush the pending segment once it holds this many bytes…
    pub flush_bytes: usize,
    /// …or this long after its first batch arrived, whichever comes first.
    pub flush_interval_ms: u64,
    /// …or, when no earlier flush is still in progress, this long after the last flush began
    /// (group commit). Unset means: equal to `flush_interval_ms` on a store billed per request
    /// (S3), so PUTs stay at most one per interval, and
    /// [`LOCAL_MIN_FLUSH_INTERVAL_MS`] on a file or memory store, where a PUT costs nothing.
    pub min_flush_interval_ms: Option<u64>,
    /// Produce data held in memory (pending plus uploading segments); producers wait beyond it.
    pub max_pending_bytes: usize,
    /// Segments uploading at once; commits still happen strictly in order.
    pub max_in_flight_flushes: usize,
    /// Fetch requests allowed to long-poll at once; beyond it fetches answer immediately.
    pub max_fetch_waiters: usize,
    /// Kafka's broker-side `fetch.max.bytes`: the most record bytes one fetch response carries,
    /// whatever the client asks (a single larger batch still goes out alone, KIP-74).
    pub fetch_max_bytes: usize,
    /// Cap on a fetch's per-partition `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: usize,
    /// A compressed batch may decompress to at most this many times its topic's
    /// `max.message.bytes`; beyond it the batch is refused (MESSAGE_TOO_LARGE), which bounds
    /// the work a decompression bomb can cause.
    pub max_decompressed_multiple: usize,
    pub auto_create_topics: bool,
    pub default_partitions: u32,
    /// Topics created through this broker (CreateTopics or auto-creation) without
    /// `skiff.archive.enable` get `skiff.archive.enable=true`.
    pub archive_all_topics: bool,
    /// `group.initial.rebalance.delay.ms`: how long a new group's first rebalance waits for
    /// more members to join.
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.max.size`: members per group.
    pub group_max_size: usize,
    /// `offset.metadata.max.bytes`: the longest metadata string a commit may carry.
    pub offset_metadata_max_bytes: usize,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a transactional
    /// producer may ask for (InitProducerId answers INVALID_TRANSACTION_TIMEOUT above it).
    pub transaction_max_timeout_ms: i32,
    /// Consumer groups held in memory at once (idle empty groups are dropped to make room).
    pub max_groups: usize,
    /// JoinGroup/SyncGroup requests waiting for a rebalance at once, across all groups.
    pub max_group_waiters: usize,
    /// Offset commits and group snapshots queued for the controller; commits wait beyond it.
    pub max_pending_group_writes: usize,
    /// Heartbeat the controller this often to keep the broker's lease (a separate controller
    /// cluster expires silent brokers); 0 sends none, as the embedded `skiff dev` controller
    /// needs none.
    pub lease_heartbeat_ms: u64,
    /// A broker started while its previous process's lease still runs (killed and restarted
    /// within the lease) ends that lease at once, so its partitions and groups move to the
    /// other live brokers, and goes live itself only this much later, once clients that
    /// failed to reach the old process have left their reconnect backoff (librdkafka's
    /// `reconnect.backoff.max.ms`, 10 s). 0 goes live at once. Only with leases.
    pub restart_live_delay_ms: u64,
    /// Kafka's `security.protocol` of the listener: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.
    pub security_protocol: SecurityProtocol,
    /// PEM certificate chain for SSL and SASL_SSL.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for SSL and SASL_SSL.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate one of them signed (mutual
    /// TLS, Kafka's `ssl.client.auth=required`); the principal is its subject.
    pub tls_client_ca_file: Option<PathBuf>,
    /// How often the TLS files are looked at; a change is loaded without a restart (new
    /// connections get it). 0: never.
    pub tls_reload_interval_ms: u64,
    /// Kafka's `sasl.enabled.mechanisms`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
    pub sasl_mechanisms: Vec<String>,
    /// Kafka's `connections.max.reauth.ms`: an authenticated session lasts this long; the
    /// client must re-authenticate on the connection before its next request after it (KIP-368).
    /// 0: sessions never expire.
    pub connections_max_reauth_ms: u64,
    /// Kafka's `sasl.server.max.receive.size`: the largest frame before authentication completes.
    pub sasl_max_receive_bytes: usize,
    /// Kafka's `super.users` (`User:name` principals): they bypass the ACLs.
    pub super_users: Vec<String>,
    /// Kafka's `authorizer.class.name` set to its StandardAuthorizer: requests are checked
    /// against the ACLs. Off, every request is allowed and the ACL APIs answer
    /// SECURITY_DISABLED, as in Kafka.
    pub acl_authorizer: bool,
    /// Kafka's `allow.everyone.if.no.acl.found`: a resource no ACL names is open to all.
    pub allow_everyone_if_no_acl_found: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_id: 1,
            kafka_addr: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_addr: None,
            rack: None,
            max_request_bytes: 100 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            max_connections_per_ip_overrides: HashMap::new(),
            queued_max_request_bytes: 256 * 1024 * 1024,
            queued_max_response_bytes: 256 * 1024 * 1024,
            request_read_timeout_ms: 30_000,
            response_write_timeout_ms: 30_000,
            connections_max_idle_ms: 600_000,
            max_in_flight_per_connection: 1024,
            flush_bytes: 8 * 1024 * 1024,
            flush_interval_ms: 100,
            min_flush_interval_ms: None,
            max_pending_bytes: 256 * 1024 * 1024,
            max_in_flight_flushes: 4,
            max_fetch_waiters: 10_000,
            fetch_max_bytes: 55 * 1024 * 1024,
            max_partition_fetch_bytes: 10 * 1024 * 1024,
            max_decompressed_multiple: 32,
            auto_create_topics: false,
            default_partitions: 1,
            archive_all_topics: false,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: 1_000,
            offset_metadata_max_bytes: 4_096,
            transaction_max_timeout_ms: 900_000,
            max_groups: 100_000,
            max_group_waiters: 50_000,
            max_pending_group_writes: 10_000,
            lease_heartbeat_ms: 0,
            restart_live_delay_ms: 10_000,
            security_protocol: SecurityProtocol::Plaintext,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            tls_reload_interval_ms: 10_000,
            sasl_mechanisms: SaslMechanism::ALL
                .iter()
                .map(|m| m.name().to_string())
                .collect(),
            connections_max_reauth_ms: 0,
            sasl_max_receive_bytes: 512 * 1024,
            super_users: Vec::new(),
            acl_authorizer: false,
            allow_everyone_if_no_acl_found: false,
        }
    }
}

impl BrokerConfig {
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// The shortest time between two flushes on a store that is (or is not) billed per request.
    pub fn min_flush_interval_ms(&self, billed_per_request: bool) -> u64 {
        let default = match billed_per_request {
            true => self.flush_interval_ms,
            false => LOCAL_MIN_FLUSH_INTERVAL_MS,
        };
        self.min_flush_interval_ms
            .unwrap_or(default)
            .min(self.flush_interval_ms)
    }

    pub fn request_read_timeout(&self) -> Duration {
        Duration::from_millis(self.request_read_timeout_ms)
    }

    pub fn response_write_timeout(&self) -> Duration {
        Duration::from_millis(self.response_write_timeout_ms)
    }

    /// How many connections `ip` may hold.
    pub fn connection_limit_for(&self, ip: IpAddr) -> usize {
        self.max_connections_per_ip_overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.max_connections_per_ip)
    }

    /// How long an idle connection stays open, or `None` to keep it forever.
    pub fn connections_max_idle(&self) -> Option<Duration> {
        (self.connections_max_idle_ms > 0)
            .then(|| Duration::from_millis(self.connections_max_idle_ms))
    }

    /// The enabled SASL mechanisms, or why one is unknown.
    pub fn sasl_mechanisms(&self) -> Result<Vec<SaslMechanism>, String> {
        self.sasl_mechanisms
            .iter()
            .map(|name| {
                SaslMechanism::from_name(name.trim()).ok_or_else(|| {
                    format!(
                        "unknown SASL mechanism {name:?}: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    )
                })
            })
            .collect()
    }

    /// How long an authenticated session lasts, or `None` for ever.
    pub fn connections_max_reauth(&self) -> Option<Duration> {
        (self.connections_max_reauth_ms > 0)
            .then(|| Duration::from_millis(self.connections_max_reauth_ms))
    }

    fn validate_security(&self) -> Result<(), String> {
        let protocol = self.security_protocol;
        if protocol.uses_tls() && (self.tls_cert_file.is_none() || self.tls_key_file.is_none()) {
            return Err(format!(
                "security protocol {protocol} needs a TLS certificate and key (--tls-cert-file, --tls-key-file)"
            ));
        }
        if self.tls_client_ca_file.is_some() && !protocol.uses_tls() {
            return Err(format!(
                "--tls-client-ca-file needs a TLS listener (SSL or SASL_SSL), not {protocol}"
            ));
        }
        if protocol.uses_sasl() && self.sasl_mechanisms()?.is_empty() {
            return Err(format!(
                "security protocol {protocol} needs at least one SASL mechanism"
            ));
        }
        if self.sasl_max_receive_bytes < 1024 {
            return Err("sasl max receive bytes must be at least 1024".into());
        }
        Ok(())
    }

    /// Rejects settings that cannot work, with a message naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_security()?;
        let checks: [(bool, &str); 22] = [
            (self.broker_id >= 0, "broker id must be >= 0"),
            (
                self.max_request_bytes >= 1024,
                "max request bytes must be at least 1024",
            ),
            (
                self.max_connections >= 1,
                "max connections must be at least 1",
            ),
            (
                self.max_in_flight_per_connection >= 1,
                "max in-flight requests per connection must be at least 1",
            ),
            (self.flush_bytes >= 1, "flush bytes must be at least 1"),
            (
                self.queued_max_request_bytes >= self.max_request_bytes,
                "queued max request bytes must be at least max request bytes",
            ),
            (
                self.queued_max_response_bytes >= 1024 * 1024,
                "queued max response bytes must be at least 1 MiB",
            ),
            (
                self.request_read_timeout_ms >= 1,
                "request read timeout must be at least 1 ms",
            ),
            (
                self.response_write_timeout_ms >= 1,
                "response write timeout must be at least 1 ms",
            ),
            (
                self.fetch_max_bytes >= 1024,
                "fetch max bytes must be at least 1024",
            ),
            (
                self.max_partition_fetch_bytes >= 1024,
                "max partition fetch bytes must be at least 1024",
            ),
            (
                self.max_decompressed_multiple >= 1,
                "max decompressed multiple must be at least 1",
            ),
            (
                self.flush_interval_ms >= 1,
                "flush interval must be at least 1 ms",
            ),
            (
                self.max_in_flight_flushes >= 1,
                "max in-flight flushes must be at least 1",
            ),
            (
                self.default_partitions >= 1,
                "default partitions must be at least 1",
            ),
            (
                self.group_min_session_timeout_ms >= 1,
                "group min session timeout must be at least 1 ms",
            ),
            (
                self.group_max_session_timeout_ms >= self.group_min_session_timeout_ms,
                "group max session timeout must be at least the min session timeout",
            ),
            (
                self.group_max_size >= 1,
                "group max size must be at least 1",
            ),
            (self.max_groups >= 1, "max groups must be at least 1"),
            (
                self.transaction_max_timeout_ms >= 1,
                "transaction max timeout must be at least 1 ms",
            ),
            (
                self.max_group_waiters >= 1,
                "max group waiters must be at least 1",
            ),
            (
                self.max_pending_group_writes >= 1,
                "max pending group writes must be at least 1",
            ),
        ];
        for (ok, message) in checks {
            if !ok {
                return Err(message.to_string());
            }
        }
        if self.max_pending_bytes < self.flush_bytes {
            return Err(format!(
                "max pending bytes ({}) must be at least flush bytes ({})",
                self.max_pending_bytes, self.flush_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_flush_interval_depends_on_what_a_request_costs() {
        let mut config = BrokerConfig {
            flush_interval_ms: 250,
            ..BrokerConfig::default()
        };
        assert_eq!(
            config.min_flush_interval_ms(true),
            250,
            "S3: one PUT per interval"
        );
        assert_eq!(
            config.min_flush_interval_ms(false),
            LOCAL_MIN_FLUSH_INTERVAL_MS
        );
        config.min_flush_interval_ms = Some(40);
        assert_eq!(config.min_flush_interval_ms(true), 40, "a set value wins");
        config.min_flush_interval_ms = Some(1_000);
        assert_eq!(
            config.min_flush_interval_ms(false),
            250,
            "never longer than the interval"
        );
    }
}
