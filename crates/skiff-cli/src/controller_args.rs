//! The flags of `skiff controller` and `skiff controller admin`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cluster_secret_args::ClusterSecretArgs;
use crate::controller_tls_args::ControllerTlsArgs;
use crate::lifecycle_args::LifecycleArgs;
use crate::store_args::ObjectStoreArgs;

/// Run one controller node, or (with `admin`) manage a running controller cluster.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ControllerArgs {
    #[command(subcommand)]
    pub admin: Option<ControllerCommand>,

    #[command(flatten)]
    pub node: ControllerNodeArgs,
}

#[derive(Debug, Subcommand)]
pub enum ControllerCommand {
    /// Membership and status of a running controller cluster.
    Admin(AdminArgs),
}

#[derive(Debug, Args)]
pub struct ControllerNodeArgs {
    /// Serve Prometheus metrics on http://HOST:PORT/metrics [default: off].
    #[arg(long, env = "SKIFF_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// This node's id; must appear in --peers.
    #[arg(long, env = "SKIFF_NODE_ID", required = true)]
    pub node_id: Option<u64>,

    /// Address the controller's HTTP listener binds (Raft, brokers, admin).
    #[arg(long, env = "SKIFF_LISTEN", value_name = "HOST:PORT", required = true)]
    pub listen: Option<SocketAddr>,

    /// Every voter with the address the others reach it at, this node included. The lowest id
    /// initialises the cluster on its first start.
    #[arg(long, env = "SKIFF_PEERS", value_name = "ID=HOST:PORT,...", value_parser = parse_peers, required = true)]
    pub peers: Option<BTreeMap<u64, String>>,

    /// Directory for the Raft log and snapshots.
    #[arg(long, env = "SKIFF_DATA_DIR", value_name = "DIR", required = true)]
    pub data_dir: Option<PathBuf>,

    /// Never initialise the cluster: this node is added later with `controller admin add-node`.
    #[arg(long, env = "SKIFF_JOIN")]
    pub join: bool,

    /// Snapshot (and truncate the log) after this many entries [default: 10000].
    #[arg(long, env = "SKIFF_SNAPSHOT_LOGS", value_name = "N")]
    pub snapshot_logs: Option<u64>,

    /// Raft heartbeat interval [default: 100].
    #[arg(long, env = "SKIFF_RAFT_HEARTBEAT_MS", value_name = "MS")]
    pub heartbeat_ms: Option<u64>,

    /// Shortest Raft election timeout [default: 500].
    #[arg(long, env = "SKIFF_ELECTION_TIMEOUT_MIN_MS", value_name = "MS")]
    pub election_timeout_min_ms: Option<u64>,

    /// Longest Raft election timeout [default: 1000].
    #[arg(long, env = "SKIFF_ELECTION_TIMEOUT_MAX_MS", value_name = "MS")]
    pub election_timeout_max_ms: Option<u64>,

    /// A broker whose heartbeats stop for this long is no longer live [default: 5000].
    #[arg(long, env = "SKIFF_BROKER_LEASE_MS", value_name = "MS")]
    pub broker_lease_ms: Option<u64>,

    /// The brokers' object store: with it the leader garbage-collects uncommitted and
    /// unreferenced segment objects.
    #[command(flatten)]
    pub store: ObjectStoreArgs,

    /// Start even when `skiff store check` finds that the s3:// store would lose data or
    /// cannot be used (a lifecycle rule expiring the prefix, create-only PUTs ignored, ...).
    #[arg(long, env = "SKIFF_ALLOW_UNSAFE_STORE")]
    pub allow_unsafe_store: bool,

    /// Objects younger than this are never garbage-collected [default: 600000].
    #[arg(long, env = "SKIFF_GC_GRACE_MS", value_name = "MS")]
    pub gc_grace_ms: Option<u64>,

    /// How often the leader looks for garbage objects [default: 60000].
    #[arg(long, env = "SKIFF_GC_INTERVAL_MS", value_name = "MS")]
    pub gc_interval_ms: Option<u64>,

    #[command(flatten)]
    pub lifecycle: LifecycleArgs,

    #[command(flatten)]
    pub secret: ClusterSecretArgs,

    #[command(flatten)]
    pub tls: ControllerTlsArgs,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Controller addresses (any member; requests are forwarded to the leader).
    #[arg(
        long,
        short = 'c',
        env = "SKIFF_CONTROLLERS",
        value_name = "HOST:PORT[,HOST:PORT...]",
        value_delimiter = ',',
        required = true
    )]
    pub controllers: Vec<String>,

    /// File holding the controller API's shared secret, as the controllers were given it;
    /// requests are signed with it (also after the subcommand).
    #[arg(
        long,
        global = true,
        env = "SKIFF_CLUSTER_SECRET_FILE",
        value_name = "FILE"
    )]
    pub cluster_secret_file: Option<PathBuf>,

    /// PEM client certificate presented to controllers that require one (with
    /// --controller-tls-key-file and --controller-tls-client-ca-file).
    #[arg(
        long,
        global = true,
        env = "SKIFF_CONTROLLER_TLS_CERT_FILE",
        value_name = "FILE"
    )]
    pub controller_tls_cert_file: Option<PathBuf>,

    /// PEM private key of --controller-tls-cert-file.
    #[arg(
        long,
        global = true,
        env = "SKIFF_CONTROLLER_TLS_KEY_FILE",
        value_name = "FILE"
    )]
    pub controller_tls_key_file: Option<PathBuf>,

    /// PEM CA that signed the controllers' certificates, the only one trusted; turns on https.
    #[arg(
        long,
        global = true,
        env = "SKIFF_CONTROLLER_TLS_CLIENT_CA_FILE",
        value_name = "FILE"
    )]
    pub controller_tls_client_ca_file: Option<PathBuf>,

    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// The leader, the members and each node's applied index.
    Status,
    /// Add a controller node (start it first with --join); it becomes a voter once caught up.
    AddNode {
        #[arg(long)]
        id: u64,
        /// The address the other nodes reach it at.
        #[arg(long, value_name = "HOST:PORT")]
        addr: String,
    },
    /// Remove a controller node from the membership.
    RemoveNode {
        #[arg(long)]
        id: u64,
    },
}

/// Parses `1=host:port,2=host:port`.
pub fn parse_peers(text: &str) -> Result<BTreeMap<u64, String>, String> {
    let mut peers = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ID=HOST:PORT"))?;
        let id: u64 = id
            .parse()
            .map_err(|_| format!("{id:?} in {part:?} is not a node id"))?;
        if !addr.contains(':') {
            return Err(format!("{addr:?} in {part:?} is not HOST:PORT"));
        }
        if peers.insert(id, addr.to_string()).is_some() {
            return Err(format!("node {id} appears twice"));
        }
    }
    if peers.is_empty() {
        return Err("no peers given".into());
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_bad_ones_are_named() {
        let peers = parse_peers("1=a:1, 2=b:2,3=c:3").unwrap();
        assert_eq!(peers.len(), 3);
        assert_eq!(peers.get(&2).map(String::as_str), Some("b:2"));
        assert!(parse_peers("1=a:1,1=b:2").unwrap_err().contains("twice"));
        assert!(parse_peers("x=a:1").unwrap_err().contains("not a node id"));
        assert!(parse_peers("1=a").unwrap_err().contains("HOST:PORT"));
        assert!(parse_peers("").is_err());
    }
}
