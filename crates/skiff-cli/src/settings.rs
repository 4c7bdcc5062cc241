//! Resolves `skiff dev` settings: flag, then `SKIFF_*` variable (clap reads both), then the
//! `--config` TOML file, then the default.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use skiff_broker::BrokerConfig;
use skiff_broker::security::bootstrap::AddScram;
use skiff_controller::ControllerConfig;
use skiff_storage::{CacheConfig, StoreConfig};

use crate::dev_args::DevArgs;

/// The `--config` file. Sections mirror the crates' own settings structs.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DevFile {
    data_dir: Option<PathBuf>,
    broker: BrokerConfig,
    store: StoreConfig,
    cache: CacheConfig,
    controller: ControllerConfig,
}

/// Everything `skiff dev` needs, fully resolved.
#[derive(Debug)]
pub struct DevSettings {
    pub data_dir: PathBuf,
    pub broker: BrokerConfig,
    pub store: StoreConfig,
    pub cache: CacheConfig,
    pub controller: ControllerConfig,
    /// `--add-scram`: users created at start-up when they have no credential yet.
    pub add_scram: Vec<AddScram>,
}

pub fn resolve(args: DevArgs) -> anyhow::Result<DevSettings> {
    let file: DevFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?
        }
        None => DevFile::default(),
    };
    let DevFile {
        data_dir,
        mut broker,
        mut store,
        mut cache,
        mut controller,
    } = file;

    let data_dir = args
        .data_dir
        .or(data_dir)
        .unwrap_or_else(|| PathBuf::from("skiff-data"));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&data_dir)
        .with_context(|| format!("data directory {}", data_dir.display()))?;

    set(&mut broker.kafka_addr, args.kafka_addr);
    set_opt(&mut broker.advertised_addr, args.advertised_addr);
    set(&mut broker.flush_interval_ms, args.flush_interval_ms);
    set_opt(
        &mut broker.min_flush_interval_ms,
        args.min_flush_interval_ms,
    );
    set(&mut broker.flush_bytes, args.flush_bytes);
    set(&mut broker.auto_create_topics, args.auto_create_topics);
    set(&mut broker.archive_all_topics, args.archive_all_topics);
    set(&mut broker.default_partitions, args.default_partitions);
    set(&mut broker.max_request_bytes, args.max_request_bytes);
    set(
        &mut broker.connections_max_idle_ms,
        args.connections_max_idle_ms,
    );
    set(
        &mut broker.max_in_flight_per_connection,
        args.max_in_flight_per_connection,
    );
    set(&mut broker.broker_id, args.broker_id);
    set(
        &mut broker.group_initial_rebalance_delay_ms,
        args.group_initial_rebalance_delay_ms,
    );
    set(
        &mut broker.group_min_session_timeout_ms,
        args.group_min_session_timeout_ms,
    );
    set(
        &mut broker.group_max_session_timeout_ms,
        args.group_max_session_timeout_ms,
    );
    set(&mut broker.group_max_size, args.group_max_size);
    set(
        &mut broker.offset_metadata_max_bytes,
        args.offset_metadata_max_bytes,
    );
    set(
        &mut broker.transaction_max_timeout_ms,
        args.transaction_max_timeout_ms,
    );
    if let Err(problem) = args.security.apply_to(&mut broker) {
        bail!("{problem}");
    }
    let add_scram = args.security.add_scram.clone();
    if broker.max_pending_bytes < broker.flush_bytes {
        // A larger flush size than the default memory budget raises the budget with it.
        broker.max_pending_bytes = broker.flush_bytes.saturating_mul(4);
    }
    if let Err(problem) = broker.validate() {
        bail!("{problem}");
    }

    if let Some(url) = args.store.object_store {
        store.url = url;
    }
    if store.url.is_empty() {
        store.url = file_url(&data_dir.join("objects"));
    }
    args.store.s3.apply_to(&mut store);

    set(&mut cache.memory_bytes, args.cache_memory_bytes);
    set(&mut cache.disk_bytes, args.cache_disk_bytes);
    match args.cache_dir {
        Some(dir) => cache.dir = dir,
        None if cache.dir == CacheConfig::default().dir => cache.dir = data_dir.join("cache"),
        None => {}
    }
    if is_local_store(&store.url) && cache.disk_bytes > 0 {
        // The disk tier exists to keep remote objects close. For a store on this machine it
        // would hold a second copy of bytes already on the same disk, and filling it cost half
        // the broker's CPU on a cold catch-up read (and a third while producing) in profiles.
        tracing::info!(
            object_store = %store.url,
            "disk cache tier not used: the object store is already on local disk"
        );
        cache.disk_bytes = 0;
    }
    if controller.data_dir == ControllerConfig::default().data_dir {
        controller.data_dir = data_dir.join("controller");
    }
    controller.cluster_secret = args.secret.load()?;
    set(&mut controller.gc_grace_ms, args.gc_grace_ms);
    set(&mut controller.gc_interval_ms, args.gc_interval_ms);
    args.lifecycle.apply_to(&mut controller.lifecycle);
    if let Err(problem) = controller.lifecycle.validate() {
        bail!("invalid setting: {problem}");
    }
    Ok(DevSettings {
        data_dir,
        broker,
        store,
        cache,
        controller,
        add_scram,
    })
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

fn set_opt<T>(target: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *target = value;
    }
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// True for object stores on this machine (`file://`, `memory://`), where a disk-cache copy
/// would only duplicate what the store already holds locally.
pub fn is_local_store(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with("memory://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn only_file_and_memory_stores_are_local() {
        assert!(is_local_store("file:///tmp/objects"));
        assert!(is_local_store("memory://"));
        assert!(!is_local_store("s3://bucket/prefix"));
    }

    #[test]
    fn only_remote_stores_get_a_disk_cache_tier() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let local = resolve(args(&["--data-dir", data, "--cache-disk-bytes", "2GiB"])).unwrap();
        assert_eq!(
            local.cache.disk_bytes, 0,
            "file store: no second copy on disk"
        );
        let remote = resolve(args(&[
            "--data-dir",
            data,
            "--object-store",
            "s3://bucket/prefix",
            "--cache-disk-bytes",
            "2GiB",
        ]))
        .unwrap();
        assert_eq!(remote.cache.disk_bytes, 2 << 30);
    }

    fn args(extra: &[&str]) -> DevArgs {
        let mut argv = vec!["skiff", "dev"];
        argv.extend_from_slice(extra);
        let Command::Dev(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("parsed as another command");
        };
        *args
    }

    #[test]
    fn defaults_put_everything_under_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d");
        let s = resolve(args(&["--data-dir", data.to_str().unwrap()])).unwrap();
        let data = std::fs::canonicalize(&data).unwrap();
        assert_eq!(
            s.store.url,
            format!("file://{}", data.join("objects").display())
        );
        assert_eq!(s.cache.dir, data.join("cache"));
        assert_eq!(s.controller.data_dir, data.join("controller"));
        assert_eq!(s.broker.kafka_addr.to_string(), "127.0.0.1:9092");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skiff.toml");
        std::fs::write(&file, "[broker]\nflush_interval_ms = 7\ndefault_partitions = 3\n[store]\nurl = \"memory://\"\n").unwrap();
        let s = resolve(args(&[
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--flush-interval-ms",
            "9",
        ]))
        .unwrap();
        assert_eq!(s.broker.flush_interval_ms, 9, "flag wins");
        assert_eq!(s.broker.default_partitions, 3, "file wins over default");
        assert_eq!(s.store.url, "memory://");
    }

    #[test]
    fn unknown_file_keys_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skiff.toml");
        std::fs::write(&file, "[broker]\nflush_intervall_ms = 7\n").unwrap();
        let err = resolve(args(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(format!("{err:#}").contains("flush_intervall_ms"), "{err:#}");
    }
}
