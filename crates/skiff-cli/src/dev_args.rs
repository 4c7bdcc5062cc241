//! The flags of `skiff dev`. Kept apart so flags can be added here without touching the client
//! commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use skiff_bench::parse_size;

use crate::cluster_secret_args::ClusterSecretArgs;
use crate::controller_tls_args::ControllerTlsArgs;
use crate::lifecycle_args::LifecycleArgs;
use crate::security_args::SecurityArgs;
use crate::store_args::ObjectStoreArgs;

/// Every setting is optional here: a flag wins over its `SKIFF_*` variable, which wins over the
/// `--config` file, which wins over the built-in default.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// TOML file with settings (sections [broker], [store], [cache], [controller]).
    #[arg(long, env = "SKIFF_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for controller state, cache and, by default, objects [default: ./skiff-data].
    #[arg(long, env = "SKIFF_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address the Kafka listener binds [default: 127.0.0.1:9092].
    #[arg(long, env = "SKIFF_KAFKA_ADDR", value_name = "HOST:PORT")]
    pub kafka_addr: Option<SocketAddr>,

    /// Serve Prometheus metrics on http://HOST:PORT/metrics [default: off].
    #[arg(long, env = "SKIFF_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// Also serve the embedded controller's HTTP API on HOST:PORT (what `skiff controller
    /// --listen` serves), so controller clients such as `skiff archive run -c HOST:PORT` work
    /// against `skiff dev` [default: off]. Without --cluster-secret-file or the
    /// --controller-tls-* files it has no authentication: keep it on loopback.
    #[arg(long, env = "SKIFF_CONTROLLER_ADDR", value_name = "HOST:PORT")]
    pub controller_addr: Option<SocketAddr>,

    // `skiff dev`: what --controller-addr requires of its clients; `skiff broker`: what it
    // signs its requests to the controllers with.
    #[command(flatten)]
    pub secret: ClusterSecretArgs,

    // `skiff dev`: the TLS --controller-addr serves; `skiff broker`: how it reaches the
    // controllers.
    #[command(flatten)]
    pub controller_tls: ControllerTlsArgs,

    /// host:port clients are told to connect to [default: the bound address].
    #[arg(long, env = "SKIFF_ADVERTISED_ADDR", value_name = "HOST:PORT")]
    pub advertised_addr: Option<String>,

    #[command(flatten)]
    pub store: ObjectStoreArgs,

    /// Longest a produced batch waits before its segment is flushed [default: 100].
    #[arg(long, env = "SKIFF_FLUSH_INTERVAL_MS", value_name = "MS")]
    pub flush_interval_ms: Option<u64>,

    /// Shortest time between two flushes: once the previous flush is answered and this has
    /// passed, pending batches flush at once instead of waiting out the interval (group
    /// commit) [default: the flush interval on S3, where each PUT is billed; 10 on a file or
    /// memory store].
    #[arg(long, env = "SKIFF_MIN_FLUSH_INTERVAL_MS", value_name = "MS")]
    pub min_flush_interval_ms: Option<u64>,

    /// Segment size that triggers a flush, e.g. 8MiB [default: 8MiB].
    #[arg(long, env = "SKIFF_FLUSH_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub flush_bytes: Option<usize>,

    /// Memory for cached segment data, e.g. 256MiB [default: 256MiB].
    #[arg(long, env = "SKIFF_CACHE_MEMORY_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub cache_memory_bytes: Option<usize>,

    /// Disk for cached segment data, 0 for none [default: 1GiB].
    #[arg(long, env = "SKIFF_CACHE_DISK_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub cache_disk_bytes: Option<usize>,

    /// Directory for the disk cache [default: <data-dir>/cache].
    #[arg(long, env = "SKIFF_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Create unknown topics when clients ask for their metadata [default: false].
    #[arg(long, env = "SKIFF_AUTO_CREATE_TOPICS", num_args = 0..=1, default_missing_value = "true")]
    pub auto_create_topics: Option<bool>,

    /// Topics created through this broker without skiff.archive.enable get
    /// skiff.archive.enable=true (kept as an Iceberg table) [default: false].
    #[arg(long, env = "SKIFF_ARCHIVE_ALL_TOPICS", num_args = 0..=1, default_missing_value = "true")]
    pub archive_all_topics: Option<bool>,

    /// Register each archived topic's Iceberg table in this AWS Glue database after every
    /// archive commit, so Athena can query it (the database must exist).
    #[arg(long, env = "SKIFF_ARCHIVE_GLUE_DATABASE", value_name = "NAME")]
    pub archive_glue_database: Option<String>,

    /// Another Glue endpoint than AWS's for the region (moto, LocalStack).
    #[arg(
        long,
        env = "SKIFF_ARCHIVE_GLUE_ENDPOINT",
        value_name = "URL",
        requires = "archive_glue_database"
    )]
    pub archive_glue_endpoint: Option<String>,

    /// Partitions of topics created without a count [default: 1].
    #[arg(long, env = "SKIFF_DEFAULT_PARTITIONS", value_name = "N")]
    pub default_partitions: Option<u32>,

    /// Largest request a client may send (socket.request.max.bytes) [default: 100MiB].
    #[arg(long, env = "SKIFF_MAX_REQUEST_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub max_request_bytes: Option<usize>,

    /// Close client connections idle this long (connections.max.idle.ms; 0: never)
    /// [default: 600000].
    #[arg(long, env = "SKIFF_CONNECTIONS_MAX_IDLE_MS", value_name = "MS")]
    pub connections_max_idle_ms: Option<u64>,

    /// Requests one client connection may have in progress at once [default: 1024]. A produce
    /// waits for the next flush, and librdkafka sends one request per partition, so this caps
    /// how many partitions one producer reaches per flush.
    #[arg(long, env = "SKIFF_MAX_IN_FLIGHT_PER_CONNECTION", value_name = "N")]
    pub max_in_flight_per_connection: Option<usize>,

    /// This broker's id [default: 1].
    #[arg(long, env = "SKIFF_BROKER_ID")]
    pub broker_id: Option<i32>,

    /// Wait this long for more members before a new group's first rebalance [default: 3000].
    #[arg(
        long,
        env = "SKIFF_GROUP_INITIAL_REBALANCE_DELAY_MS",
        value_name = "MS"
    )]
    pub group_initial_rebalance_delay_ms: Option<u64>,

    /// Smallest session timeout a consumer may ask for [default: 6000].
    #[arg(long, env = "SKIFF_GROUP_MIN_SESSION_TIMEOUT_MS", value_name = "MS")]
    pub group_min_session_timeout_ms: Option<i32>,

    /// Largest session timeout a consumer may ask for [default: 1800000].
    #[arg(long, env = "SKIFF_GROUP_MAX_SESSION_TIMEOUT_MS", value_name = "MS")]
    pub group_max_session_timeout_ms: Option<i32>,

    /// Most members one consumer group may have [default: 1000].
    #[arg(long, env = "SKIFF_GROUP_MAX_SIZE", value_name = "N")]
    pub group_max_size: Option<usize>,

    /// Longest metadata string a committed offset may carry [default: 4096].
    #[arg(long, env = "SKIFF_OFFSET_METADATA_MAX_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub offset_metadata_max_bytes: Option<usize>,

    /// Longest transaction timeout a transactional producer may ask for [default: 900000].
    #[arg(long, env = "SKIFF_TRANSACTION_MAX_TIMEOUT_MS", value_name = "MS")]
    pub transaction_max_timeout_ms: Option<i32>,

    /// Unreferenced and orphan objects younger than this are never deleted (the controller
    /// leader collects) [default: 600000].
    #[arg(long, env = "SKIFF_GC_GRACE_MS", value_name = "MS")]
    pub gc_grace_ms: Option<u64>,

    /// How often the controller leader looks for garbage objects [default: 60000].
    #[arg(long, env = "SKIFF_GC_INTERVAL_MS", value_name = "MS")]
    pub gc_interval_ms: Option<u64>,

    #[command(flatten)]
    pub lifecycle: LifecycleArgs,

    #[command(flatten)]
    pub security: SecurityArgs,

    /// TOML file of Lambda triggers (`skiff trigger --config` format) to run in this process
    /// against its own Kafka listener [default: none].
    #[arg(long, env = "SKIFF_TRIGGER_CONFIG", value_name = "FILE")]
    pub trigger_config: Option<PathBuf>,
}
