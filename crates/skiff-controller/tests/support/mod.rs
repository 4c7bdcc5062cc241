//! An in-process controller cluster on real sockets (port 0), for the cluster tests.

#![allow(dead_code)]

pub mod pki;
pub mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use skiff_controller::server::ControllerServer;
use skiff_controller::*;
use skiff_meta::*;
use tokio::net::TcpListener;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Node {
    pub controller: Arc<Controller>,
    pub server: ControllerServer,
}

pub struct TestCluster {
    pub peers: BTreeMap<u64, String>,
    pub nodes: BTreeMap<u64, Node>,
    pub template: ControllerConfig,
    /// Given to every node: the leader garbage-collects it.
    pub store: Option<skiff_storage::SegmentStore>,
    root: tempfile::TempDir,
}

pub fn config_template(snapshot_logs_since_last: u64) -> ControllerConfig {
    ControllerConfig {
        snapshot_logs_since_last,
        // Generous for a loaded 2-core machine running debug builds, still sub-second.
        heartbeat_interval_ms: 100,
        election_timeout_min_ms: 400,
        election_timeout_max_ms: 800,
        ..ControllerConfig::default()
    }
}

impl TestCluster {
    pub async fn start(size: u64, template: ControllerConfig) -> TestCluster {
        Self::start_with_store(size, template, None).await
    }

    pub async fn start_with_store(
        size: u64,
        template: ControllerConfig,
        store: Option<skiff_storage::SegmentStore>,
    ) -> TestCluster {
        let root = tempfile::tempdir().expect("tempdir");
        let mut listeners = BTreeMap::new();
        for id in 1..=size {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listeners.insert(id, listener);
        }
        let peers: BTreeMap<u64, String> = listeners
            .iter()
            .map(|(id, l)| (*id, l.local_addr().expect("addr").to_string()))
            .collect();
        let mut cluster = TestCluster {
            peers,
            nodes: BTreeMap::new(),
            template,
            store,
            root,
        };
        for (id, listener) in listeners {
            cluster.start_node(id, listener, false).await;
        }
        cluster
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.root.path().join(format!("node-{id}"))
    }

    pub fn config(&self, id: u64, join: bool) -> ControllerConfig {
        ControllerConfig {
            node_id: id,
            data_dir: self.data_dir(id),
            peers: self.peers.clone(),
            join,
            ..self.template.clone()
        }
    }

    async fn start_node(&mut self, id: u64, listener: TcpListener, join: bool) {
        let controller = Arc::new(
            Controller::start_with_store(self.config(id, join), self.store.clone())
                .await
                .expect("controller starts"),
        );
        let server = ControllerServer::start(controller.clone(), listener).expect("server starts");
        self.nodes.insert(id, Node { controller, server });
    }

    /// Starts (or restarts) node `id` on its address.
    pub async fn restart(&mut self, id: u64, join: bool) {
        let addr = self.peers.get(&id).expect("known node").clone();
        let listener = bind_retrying(&addr).await;
        self.start_node(id, listener, join).await;
    }

    /// Adds a node that is not in the peer list yet and starts it in join mode.
    pub async fn start_new_node(&mut self, id: u64) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        self.peers.insert(id, addr.clone());
        self.start_node(id, listener, true).await;
        addr
    }

    pub async fn stop(&mut self, id: u64) {
        let node = self.nodes.remove(&id).expect("running node");
        node.server.shutdown().await;
        node.controller.shutdown().await.expect("clean shutdown");
    }

    pub async fn stop_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    pub fn node(&self, id: u64) -> &Arc<Controller> {
        &self.nodes.get(&id).expect("running node").controller
    }

    pub fn addr(&self, id: u64) -> String {
        self.peers.get(&id).expect("known node").clone()
    }

    /// Waits until every running node names the same running leader, which leads.
    pub async fn wait_for_leader(&self) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let leaders: Vec<Option<u64>> = self
                .nodes
                .values()
                .map(|n| n.controller.current_leader())
                .collect();
            if let Some(Some(leader)) = leaders.first()
                && leaders.iter().all(|l| *l == Some(*leader))
                && let Some(node) = self.nodes.get(leader)
                && node.controller.raft_metrics().borrow().state == ServerState::Leader
            {
                return *leader;
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {WAIT:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every running node has applied at least `index`.
    pub async fn wait_applied(&self, index: u64) {
        for (id, node) in &self.nodes {
            node.controller
                .raft_metrics()
                .clone()
                .wait_for(|m| m.last_applied.is_some_and(|l| l.index >= index))
                .await
                .map(|_| ())
                .unwrap_or_else(|_| panic!("node {id} stopped before applying {index}"));
        }
    }

    /// The postcard bytes of each running node's state.
    pub fn encoded_states(&self) -> BTreeMap<u64, Vec<u8>> {
        self.nodes
            .iter()
            .map(|(id, n)| {
                let state = n.controller.state();
                let bytes = postcard::to_allocvec(&*state.read()).expect("encodes");
                (*id, bytes)
            })
            .collect()
    }

    pub fn followers(&self, leader: u64) -> Vec<u64> {
        self.nodes
            .keys()
            .copied()
            .filter(|id| *id != leader)
            .collect()
    }
}

async fn bind_retrying(addr: &str) -> TcpListener {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            // The old listener's socket may linger for a moment after shutdown.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot bind {addr} again: {e}"),
        }
    }
}

pub fn topic(name: &str, n: u128) -> CreateTopics {
    CreateTopics(vec![NewTopic {
        name: name.into(),
        id: uuid::Uuid::from_u128(n),
        partitions: 1,
        configs: BTreeMap::new(),
        created_ms: 1_700_000_000_000,
    }])
}

/// [`topic`] in its wire form, for tests of the HTTP API.
pub fn topic_command(name: &str, n: u128) -> Command {
    topic(name, n).into()
}
