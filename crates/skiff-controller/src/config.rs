//! Controller settings: the node, its data directory, Raft timing and (for a cluster) its peers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use openraft::SnapshotPolicy;
use skiff_meta::state::{ClusterLimits, DEFAULT_MAX_PARTITIONS, DEFAULT_MAX_TOPICS_PER_REQUEST};

use crate::auth::ClusterSecret;
use crate::error::{ControllerError, InvalidConfig};

/// The shortest time `start` waits for a single-node controller to lead before giving up.
const MIN_LEADER_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ControllerConfig {
    pub node_id: u64,
    /// Holds `raft-log.redb` and `snapshots/`.
    pub data_dir: PathBuf,
    /// Build a snapshot (and purge the log behind it) after this many log entries.
    pub snapshot_logs_since_last: u64,
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Every voter of a cluster with its `host:port` (this node included). Empty: a
    /// single-node controller embedded in `skiff dev`, which leads alone and has no network.
    pub peers: BTreeMap<u64, String>,
    /// Never bootstrap, even with the lowest id: this node joins an existing cluster through
    /// `controller admin add-node`.
    pub join: bool,
    /// The leader expires a broker whose heartbeats stop for this long.
    pub broker_lease_ms: u64,
    /// Applied entries kept in memory for brokers' watch streams; a broker further behind
    /// re-reads the whole state.
    pub watch_ring_entries: usize,
    /// Garbage collection (leader only, with an object store): objects younger than this are
    /// never deleted, so uploads still being committed and fetches still reading finish.
    pub gc_grace_ms: u64,
    /// How often the leader looks for garbage objects.
    pub gc_interval_ms: u64,
    /// Most objects one collection round deletes (of each kind, unreferenced and orphan), so a
    /// round's memory and time stay bounded however much garbage there is; the rest waits for
    /// the next round.
    pub gc_max_objects_per_round: usize,
    /// Snapshots go to lagging nodes in chunks of this many bytes.
    pub snapshot_chunk_bytes: u64,
    /// How long a lagging node may take to receive and install one snapshot chunk (the last
    /// one decodes and saves the whole state). Too short and a large state never installs.
    pub install_snapshot_timeout_ms: u64,
    /// How long a follower waits for the leader to answer a proposal or membership change it
    /// forwarded.
    pub forward_timeout_ms: u64,
    /// Partitions the cluster may hold across all topics; creations and growth past it are
    /// refused with POLICY_VIOLATION.
    pub max_partitions: u64,
    /// Topics one CreateTopics request may create; larger requests are refused with
    /// INVALID_REQUEST.
    pub max_topics_per_request: usize,
    /// The storage lifecycle the leader runs: retention and offset expiry.
    #[serde(flatten)]
    pub lifecycle: LifecycleConfig,
    /// Every request to this node's HTTP API must be signed with it, and this node signs its
    /// own requests to peers (see `crate::auth`). `None`: the API is open to anyone who can
    /// reach it. Never read from a settings file: only `--cluster-secret-file` names it.
    #[serde(skip)]
    pub cluster_secret: Option<ClusterSecret>,
    /// TLS on this node's HTTP API (`--controller-tls-*`): served with `cert` and `key`,
    /// requiring clients to present a certificate signed by `client_ca`. This node's own
    /// requests to its peers present the same certificate and trust only `client_ca`, which a
    /// cluster therefore needs. `None`: plain HTTP.
    #[serde(skip)]
    pub tls: Option<skiff_tls::TlsFiles>,
    /// How often the TLS files are checked for changes (reloaded without a restart); 0: never.
    pub tls_reload_interval_ms: u64,
}

/// What the leader enforces, with Kafka's names where Kafka has the setting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct LifecycleConfig {
    /// `log.retention.ms`: topics without `retention.ms` keep data this long (-1: forever).
    pub log_retention_ms: i64,
    /// `log.retention.bytes`: topics without `retention.bytes` keep this much per partition
    /// (-1: no limit).
    pub log_retention_bytes: i64,
    /// `log.retention.check.interval.ms`: how often the leader looks for data to delete.
    pub retention_check_interval_ms: u64,
    /// `offsets.retention.minutes`: committed offsets of a group empty this long expire.
    pub offsets_retention_minutes: u64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how often the leader looks for merge and compaction work and
    /// takes back job leases that lapsed.
    pub cleaner_backoff_ms: u64,
    /// Index entries younger than this (by their object's commit) are not merged yet.
    pub merge_min_age_ms: u64,
    /// Merges and compactions write per-partition objects up to this size (a job holds about
    /// this much of a partition in memory at a time).
    pub merge_target_bytes: u64,
    /// A job's lease: a broker that stops renewing it for this long loses the job.
    pub job_lease_ms: u64,
    /// Jobs leased to one broker at a time.
    pub jobs_per_broker: usize,
    /// An archiving topic's records wait at most about this long for their archive job.
    pub archive_interval_ms: u64,
    /// An archiving topic with this many stored bytes not archived yet is archived at once.
    pub archive_flush_bytes: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often the leader
    /// aborts transactions open past their timeout (and forgets expired transactional ids).
    pub transaction_abort_check_interval_ms: u64,
    /// `transactional.id.expiration.ms`: a transactional id with no transaction open for this
    /// long is forgotten.
    pub transactional_id_expiration_ms: u64,
}

/// Largest `merge_target_bytes`: an index entry's length is a u32, and a job holds its
/// source bytes in memory.
pub const MAX_MERGE_TARGET_BYTES: u64 = 1 << 30;

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            log_retention_ms: skiff_meta::DEFAULT_LOG_RETENTION_MS,
            log_retention_bytes: -1,
            retention_check_interval_ms: 300_000,
            offsets_retention_minutes: 7 * 24 * 60,
            offsets_retention_check_interval_ms: 600_000,
            cleaner_backoff_ms: 15_000,
            merge_min_age_ms: 2 * 60 * 1000,
            merge_target_bytes: 64 * 1024 * 1024,
            job_lease_ms: 30_000,
            jobs_per_broker: 1,
            archive_interval_ms: 60_000,
            archive_flush_bytes: 128 << 20,
            transaction_abort_check_interval_ms: 10_000,
            transactional_id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
        }
    }
}

impl LifecycleConfig {
    /// Rejects values the leader cannot work with, naming the setting.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let bad = |setting: &'static str, rule: &'static str| {
            Err(InvalidConfig::Lifecycle { setting, rule })
        };
        if self.log_retention_ms < -1 {
            return bad("log retention ms", "-1 (forever) or at least 0");
        }
        if self.log_retention_bytes < -1 {
            return bad("log retention bytes", "-1 (no limit) or at least 0");
        }
        if self.retention_check_interval_ms == 0 {
            return bad("retention check interval", "at least 1 ms");
        }
        if self.offsets_retention_minutes == 0 {
            return bad("offsets retention", "at least 1 minute");
        }
        if self.cleaner_backoff_ms == 0 {
            return bad("cleaner backoff", "at least 1 ms");
        }
        if !(1024..=MAX_MERGE_TARGET_BYTES).contains(&self.merge_target_bytes) {
            return bad("merge target bytes", "between 1024 and 1073741824");
        }
        if self.job_lease_ms < 100 {
            return bad("job lease", "at least 100 ms");
        }
        if self.jobs_per_broker == 0 {
            return bad("jobs per broker", "at least 1");
        }
        if self.archive_interval_ms < 100 {
            return bad("archive interval", "at least 100 ms");
        }
        if self.archive_flush_bytes < 1024 {
            return bad("archive flush bytes", "at least 1024");
        }
        if self.transaction_abort_check_interval_ms == 0 {
            return bad("transaction abort check interval", "at least 1 ms");
        }
        if self.transactional_id_expiration_ms == 0 {
            return bad("transactional id expiration", "at least 1 ms");
        }
        Ok(())
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            node_id: 1,
            data_dir: PathBuf::from("skiff-data/controller"),
            snapshot_logs_since_last: 10_000,
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            peers: BTreeMap::new(),
            join: false,
            broker_lease_ms: 5_000,
            watch_ring_entries: 10_000,
            gc_grace_ms: 10 * 60 * 1000,
            gc_interval_ms: 60 * 1000,
            gc_max_objects_per_round: 10_000,
            snapshot_chunk_bytes: 3 * 1024 * 1024,
            install_snapshot_timeout_ms: 10_000,
            forward_timeout_ms: 10_000,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            max_topics_per_request: DEFAULT_MAX_TOPICS_PER_REQUEST,
            lifecycle: LifecycleConfig::default(),
            cluster_secret: None,
            tls: None,
            tls_reload_interval_ms: 10_000,
        }
    }
}

impl ControllerConfig {
    pub(crate) fn cluster_limits(&self) -> ClusterLimits {
        ClusterLimits {
            max_partitions: self.max_partitions,
            max_topics_per_request: self.max_topics_per_request,
        }
    }

    pub(crate) fn raft_config(&self) -> Result<openraft::Config, ControllerError> {
        if self.snapshot_logs_since_last == 0 {
            return Err(InvalidConfig::ZeroSnapshotThreshold.into());
        }
        self.lifecycle.validate()?;
        if !self.peers.is_empty() && !self.peers.contains_key(&self.node_id) {
            return Err(InvalidConfig::PeersWithoutThisNode { node: self.node_id }.into());
        }
        let config = openraft::Config {
            cluster_name: "skiff-controller".into(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_logs_since_last),
            // Everything a snapshot covers is purged: a lagging follower gets the snapshot.
            max_in_snapshot_log_to_keep: 0,
            snapshot_max_chunk_size: self.snapshot_chunk_bytes.max(1),
            install_snapshot_timeout: self.install_snapshot_timeout_ms,
            // openraft gives each append-entries RPC one heartbeat interval; fewer entries
            // per RPC keep a catching-up follower's batches (segment commits) within it.
            max_payload_entries: 64,
            ..Default::default()
        };
        Ok(config
            .validate()
            .map_err(|e| InvalidConfig::Raft(Box::new(e)))?)
    }

    pub(crate) fn leader_wait(&self) -> Duration {
        Duration::from_millis(self.election_timeout_max_ms.saturating_mul(20)).max(MIN_LEADER_WAIT)
    }

    /// A cluster node (as opposed to `skiff dev`'s embedded single node).
    pub fn is_cluster(&self) -> bool {
        !self.peers.is_empty()
    }

    /// What this node's requests to its peers (Raft, forwarding) use: its own certificate
    /// as the client's, and the client CA as the only root.
    pub(crate) fn peer_tls(&self) -> Result<Option<skiff_tls::ClientFiles>, InvalidConfig> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        match &tls.client_ca {
            Some(ca) => Ok(Some(skiff_tls::ClientFiles {
                ca: ca.clone(),
                identity: Some((tls.cert.clone(), tls.key.clone())),
            })),
            // `skiff dev`'s embedded node serves TLS (server authentication only) and calls
            // no peer.
            None if !self.is_cluster() => Ok(None),
            None => Err(InvalidConfig::TlsWithoutCa),
        }
    }

    /// This node initialises the cluster's membership: the lowest id, unless told to join.
    pub(crate) fn bootstraps(&self) -> bool {
        !self.join && self.peers.keys().next() == Some(&self.node_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_settings_out_of_range_are_refused_naming_the_setting() {
        assert!(LifecycleConfig::default().validate().is_ok());
        let refused = |tune: fn(&mut LifecycleConfig)| {
            let mut config = LifecycleConfig::default();
            tune(&mut config);
            config.validate().map_err(|e| e.to_string())
        };
        assert_eq!(
            refused(|c| c.merge_target_bytes = 1023),
            Err("the merge target bytes must be between 1024 and 1073741824".into())
        );
        assert!(refused(|c| c.merge_target_bytes = MAX_MERGE_TARGET_BYTES + 1).is_err());
        assert!(refused(|c| c.merge_target_bytes = MAX_MERGE_TARGET_BYTES).is_ok());
        assert_eq!(
            refused(|c| c.cleaner_backoff_ms = 0),
            Err("the cleaner backoff must be at least 1 ms".into())
        );
        assert!(refused(|c| c.job_lease_ms = 99).is_err());
        assert_eq!(
            refused(|c| c.jobs_per_broker = 0),
            Err("the jobs per broker must be at least 1".into())
        );
        assert_eq!(
            refused(|c| c.archive_interval_ms = 99),
            Err("the archive interval must be at least 100 ms".into())
        );
        assert!(refused(|c| c.archive_flush_bytes = 1023).is_err());
    }
}
