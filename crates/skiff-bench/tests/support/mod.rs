//! An in-process Skiff broker on a real socket (port 0), as skiff-broker's own tests start
//! one, plus helpers to run the bench against it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use skiff_bench::{BenchArgs, BenchError, Measured};
use skiff_broker::{Broker, BrokerConfig, BrokerDeps};
use skiff_controller::{Controller, ControllerConfig};
use skiff_storage::{CacheConfig, ChunkCache, SegmentStore, StoreConfig};

/// How long any single bench run in these tests may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct TestBroker {
    pub addr: SocketAddr,
    broker: Broker,
    controller: Arc<Controller>,
    cache: ChunkCache,
    _tempdir: tempfile::TempDir,
}

impl TestBroker {
    /// A broker on an in-memory store, flushing every 5 ms so tests run fast.
    pub async fn start() -> TestBroker {
        let tempdir = tempfile::tempdir().expect("tempdir");
        let dir = tempdir.path();
        let controller = Controller::start(ControllerConfig {
            data_dir: dir.join("controller"),
            ..Default::default()
        })
        .await
        .expect("controller starts");
        let controller = Arc::new(controller);
        let store = SegmentStore::open(&StoreConfig::for_url("memory://")).expect("store opens");
        let cache = ChunkCache::open(&CacheConfig {
            memory_bytes: 64 << 20,
            disk_bytes: 0,
            dir: dir.join("cache"),
        })
        .await
        .expect("cache opens");
        let config = BrokerConfig {
            kafka_addr: "127.0.0.1:0".parse().expect("addr"),
            flush_interval_ms: 5,
            ..Default::default()
        };
        let broker = Broker::start(
            config,
            BrokerDeps {
                controller: controller.clone(),
                store,
                cache: cache.clone(),
                log_levels: None,
            },
        )
        .await
        .expect("broker starts");
        TestBroker {
            addr: broker.local_addr(),
            broker,
            controller,
            cache,
            _tempdir: tempdir,
        }
    }

    pub async fn stop(self) {
        self.broker.shutdown().await;
        self.controller
            .shutdown()
            .await
            .expect("controller shuts down");
        self.cache.close().await.expect("cache closes");
    }
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Parses `skiff bench <words…>` as the CLI would.
pub fn bench_args(words: &[&str]) -> BenchArgs {
    let argv = std::iter::once("bench").chain(words.iter().copied());
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{words:?} should parse: {e}"))
        .bench
}

/// Runs the bench, failing the test if it hangs.
pub async fn measure(words: &[&str]) -> Result<Measured, BenchError> {
    tokio::time::timeout(DEADLINE, skiff_bench::measure(bench_args(words)))
        .await
        .unwrap_or_else(|_| panic!("bench {words:?} did not finish within {DEADLINE:?}"))
}
