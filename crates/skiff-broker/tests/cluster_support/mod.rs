//! A three-node controller cluster and brokers that reach it over HTTP, all in one process on
//! real sockets, sharing one in-memory object store.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use skiff_broker::{Broker, BrokerConfig, BrokerDeps};
use skiff_controller::server::ControllerServer;
use skiff_controller::{Controller, ControllerConfig, RemoteController, RemoteControllerConfig};
use skiff_storage::{CacheConfig, ChunkCache, SegmentStore, StoreConfig};
use tokio::net::TcpListener;

pub struct Controllers {
    pub addrs: Vec<String>,
    nodes: Vec<(Arc<Controller>, ControllerServer)>,
    _dir: tempfile::TempDir,
}

impl Controllers {
    pub async fn start(tune: impl Fn(&mut ControllerConfig)) -> Controllers {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let peers: BTreeMap<u64, String> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.local_addr().expect("addr").to_string()))
            .collect();
        let mut nodes = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let id = i as u64 + 1;
            let mut cfg = ControllerConfig {
                node_id: id,
                data_dir: dir.path().join(format!("c{id}")),
                peers: peers.clone(),
                heartbeat_interval_ms: 100,
                election_timeout_min_ms: 400,
                election_timeout_max_ms: 800,
                ..ControllerConfig::default()
            };
            tune(&mut cfg);
            let controller = Arc::new(Controller::start(cfg).await.expect("controller starts"));
            let server = ControllerServer::start(controller.clone(), listener).expect("serves");
            nodes.push((controller, server));
        }
        Controllers {
            addrs: peers.into_values().collect(),
            nodes,
            _dir: dir,
        }
    }

    pub fn node(&self, i: usize) -> &Arc<Controller> {
        &self.nodes[i].0
    }

    /// Shuts the current leader down (as a crash would look to the others) and returns its
    /// position in `addrs`.
    pub async fn stop_leader(&mut self) -> usize {
        let leader = self.nodes[0]
            .0
            .wait_for_leader(std::time::Duration::from_secs(30))
            .await
            .expect("a leader");
        let i = (leader - 1) as usize;
        let (controller, server) = self.nodes.remove(i);
        server.shutdown().await;
        controller.shutdown().await.expect("leader stops");
        i
    }

    pub async fn stop(self) {
        for (controller, server) in self.nodes {
            server.shutdown().await;
            controller.shutdown().await.expect("controller stops");
        }
    }
}

pub struct ClusterBroker {
    pub id: i32,
    pub broker: Broker,
    pub remote: Arc<RemoteController>,
    cache: ChunkCache,
    _dir: tempfile::TempDir,
}

impl ClusterBroker {
    /// A broker reaching the controllers at `controllers`, on the shared `store`.
    pub async fn start(
        id: i32,
        controllers: Vec<String>,
        store: SegmentStore,
        tune: impl FnOnce(&mut BrokerConfig),
    ) -> ClusterBroker {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = Arc::new(
            RemoteController::connect(RemoteControllerConfig::new(controllers))
                .await
                .expect("reaches the controllers"),
        );
        let cache = ChunkCache::open(&CacheConfig {
            memory_bytes: 32 << 20,
            disk_bytes: 0,
            dir: dir.path().join("cache"),
        })
        .await
        .expect("cache opens");
        let mut config = BrokerConfig {
            broker_id: id,
            kafka_addr: "127.0.0.1:0".parse().expect("addr"),
            flush_interval_ms: 5,
            ..Default::default()
        };
        tune(&mut config);
        let broker = Broker::start(
            config,
            BrokerDeps {
                controller: remote.clone(),
                store,
                cache: cache.clone(),
                log_levels: None,
            },
        )
        .await
        .expect("broker starts");
        ClusterBroker {
            id,
            broker,
            remote,
            cache,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.broker.local_addr()
    }

    pub async fn stop(self) {
        self.broker.shutdown().await;
        self.remote.shutdown().await;
        self.cache.close().await.expect("cache closes");
    }
}

pub fn memory_store() -> SegmentStore {
    SegmentStore::open(&StoreConfig::for_url("memory://")).expect("store opens")
}
