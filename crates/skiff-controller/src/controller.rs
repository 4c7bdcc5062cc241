//! The handle brokers use: starts the Raft node over the on-disk log and snapshots, proposes
//! commands, and exposes the applied state with a watch on the applied index.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use openraft::error::{InitializeError, RaftError};
use openraft::metrics::WaitError;
use openraft::{BasicNode, ServerState};
use parking_lot::Mutex;
use skiff_meta::state::ClusterLimits;
use skiff_meta::{Command, CommandResponse, InitCluster, Propose, ProposeError, StateHandle};
use skiff_storage::SegmentStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::ClusterSecret;
use crate::clock::{Clock, SystemClock};
pub use crate::config::ControllerConfig;
use crate::error::ControllerError;
use crate::leader::{GcSettings, LeaderDuties, LifecycleSettings};
use crate::metrics::{LifecycleMetrics, ProposalMetrics, track_raft_gauges};
use crate::raft::types::{Raft, RaftMetrics};
use crate::raft::{AppliedLog, ControllerStateMachine, RedbLogStore, SnapshotStore, StateSource};
use crate::raft_errors::{client_write_error, from_fatal, from_leader_check, initialize_error};
use crate::rpc::HttpNetwork;
use crate::rpc::http::HttpClient;
use crate::topic_limits::{is_topic_change, within_limits};

const LOG_FILE_NAME: &str = "raft-log.redb";
const SNAPSHOT_DIR_NAME: &str = "snapshots";
/// How long a bootstrapping node waits for each peer's status.
const PEER_PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long `shutdown` waits for openraft's tasks to release the log file.
const LOG_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// What a controller works with besides its config.
pub struct ControllerDeps {
    /// The brokers' object store: with it, the leader collects garbage objects.
    pub store: Option<SegmentStore>,
    /// The wall clock of the leader's lifecycle duties.
    pub clock: Arc<dyn Clock>,
}

pub struct Controller {
    node_id: u64,
    raft: Raft,
    state: StateHandle,
    log_db: Weak<redb::Database>,
    snapshots: SnapshotStore,
    shutting_down: AtomicBool,
    pub(crate) applied_log: AppliedLog,
    pub(crate) state_source: StateSource,
    pub(crate) http: HttpClient,
    /// What requests to this node's HTTP API must be signed with.
    pub(crate) cluster_secret: Option<ClusterSecret>,
    /// What this node's HTTP API is served with (`None`: plain HTTP).
    pub(crate) tls: Option<skiff_tls::TlsFiles>,
    pub(crate) tls_reload_interval: Duration,
    /// How long a follower waits for the leader on a forwarded request.
    pub(crate) forward_timeout: Duration,
    duties_stop: CancellationToken,
    duties: Mutex<Option<JoinHandle<()>>>,
    proposals: ProposalMetrics,
    limits: ClusterLimits,
    /// Held while a topic change is checked against the limits and proposed.
    topic_changes: tokio::sync::Mutex<()>,
    /// Mirrors leadership, term and applied index into gauges; stopped by `duties_stop`.
    gauges: Mutex<Option<JoinHandle<()>>>,
}

/// Raft stopped for good: a storage failure, a panic, or shutdown.
impl Controller {
    /// Opens or creates the log and snapshot, starts Raft, initialises a single-node membership
    /// on first start (idempotent), waits (bounded) until this node leads and has applied the
    /// whole log, and sets a random cluster id once.
    pub async fn start(cfg: ControllerConfig) -> Result<Controller, ControllerError> {
        Self::start_with_store(cfg, None).await
    }

    /// Like [`Controller::start`]; with `store`, the leader also garbage-collects segment
    /// objects in it (see `gc_grace_ms`, `gc_interval_ms`).
    pub async fn start_with_store(
        cfg: ControllerConfig,
        store: Option<SegmentStore>,
    ) -> Result<Controller, ControllerError> {
        Self::start_with(
            cfg,
            ControllerDeps {
                store,
                clock: Arc::new(SystemClock),
            },
        )
        .await
    }

    /// Like [`Controller::start_with_store`], with the clock the leader's lifecycle duties read
    /// (tests pass a manual one).
    pub async fn start_with(
        cfg: ControllerConfig,
        deps: ControllerDeps,
    ) -> Result<Controller, ControllerError> {
        let ControllerDeps { store, clock } = deps;
        let raft_config = Arc::new(cfg.raft_config()?);
        let data_dir = cfg.data_dir.clone();
        let ring = cfg.watch_ring_entries;
        let (log_store, state_machine) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&data_dir).map_err(|source| ControllerError::DataDir {
                path: data_dir.clone(),
                source,
            })?;
            let log_store = RedbLogStore::open(&data_dir.join(LOG_FILE_NAME))?;
            let state_machine =
                ControllerStateMachine::open(&data_dir.join(SNAPSHOT_DIR_NAME), ring)?;
            Ok::<_, ControllerError>((log_store, state_machine))
        })
        .await??;

        let state = StateHandle::new(state_machine.state(), state_machine.applied_index());
        let log_db = log_store.database_handle();
        let snapshots = state_machine.snapshot_store();
        let applied_log = state_machine.applied_log();
        let state_source = state_machine.state_source();
        let peer_tls = cfg.peer_tls()?;
        let http = HttpClient::with_tls(peer_tls.as_ref())?.with_secret(cfg.cluster_secret.clone());
        let raft = Raft::new(
            cfg.node_id,
            raft_config,
            HttpNetwork::new(http.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(from_fatal)?;
        let proposals = ProposalMetrics::register();
        let duties_stop = CancellationToken::new();
        let gauges = tokio::spawn(track_raft_gauges(
            raft.metrics(),
            proposals.clone(),
            duties_stop.clone(),
        ));
        let controller = Controller {
            node_id: cfg.node_id,
            raft,
            state,
            log_db,
            snapshots,
            shutting_down: AtomicBool::new(false),
            applied_log,
            state_source,
            http,
            cluster_secret: cfg.cluster_secret.clone(),
            tls: cfg.tls.clone(),
            tls_reload_interval: Duration::from_millis(cfg.tls_reload_interval_ms),
            forward_timeout: Duration::from_millis(cfg.forward_timeout_ms),
            duties_stop,
            duties: Mutex::new(None),
            proposals,
            limits: cfg.cluster_limits(),
            topic_changes: tokio::sync::Mutex::new(()),
            gauges: Mutex::new(Some(gauges)),
        };
        let ready = if cfg.is_cluster() {
            controller.bootstrap_cluster(&cfg).await
        } else {
            controller.become_ready(&cfg).await
        };
        if let Err(e) = ready {
            if let Err(shutdown_error) = controller.shutdown().await {
                tracing::warn!(error = %shutdown_error, "shutting down after a failed start also failed");
            }
            return Err(e);
        }
        let gc = store.map(|store| GcSettings {
            store,
            grace: Duration::from_millis(cfg.gc_grace_ms),
            interval: Duration::from_millis(cfg.gc_interval_ms.max(1)),
            max_objects_per_round: cfg.gc_max_objects_per_round.max(1),
        });
        let duties = LeaderDuties::new(
            controller.raft.clone(),
            controller.state.clone(),
            // An embedded controller's broker sends no heartbeats: its lease never lapses.
            cfg.is_cluster()
                .then(|| Duration::from_millis(cfg.broker_lease_ms)),
            gc,
            LifecycleSettings {
                config: cfg.lifecycle.clone(),
                clock,
                metrics: LifecycleMetrics::register(),
            },
        );
        *controller.duties.lock() = Some(tokio::spawn(duties.run(controller.duties_stop.clone())));
        tracing::info!(node_id = cfg.node_id, data_dir = %cfg.data_dir.display(), "controller started");
        Ok(controller)
    }

    /// Initialises the membership with every peer if this node bootstraps and the log is
    /// empty. Restarting (any log or snapshot present) never initialises again. Does not wait
    /// for a leader: the peers may not be up yet.
    async fn bootstrap_cluster(&self, cfg: &ControllerConfig) -> Result<(), ControllerError> {
        if !cfg.bootstraps() || self.raft.is_initialized().await.map_err(from_fatal)? {
            return Ok(());
        }
        // A lowest-id node whose data directory was lost must not found a second cluster
        // next to the running one: it waits to be caught up instead.
        if let Some(peer) = self.running_peer(cfg).await {
            tracing::warn!(
                node_id = self.node_id,
                peer,
                "this node's log is empty but peer {peer} already belongs to a cluster: not bootstrapping, waiting to be caught up"
            );
            return Ok(());
        }
        let members: BTreeMap<u64, BasicNode> = cfg
            .peers
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(node_id = self.node_id, peers = ?cfg.peers, "bootstrapped the controller cluster");
                Ok(())
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(initialize_error(e).into()),
        }
    }

    /// A peer that answers and already has a membership (so a cluster exists). Asks all
    /// peers at once; one that does not answer in time counts as not running.
    async fn running_peer(&self, cfg: &ControllerConfig) -> Option<u64> {
        let probes =
            cfg.peers
                .iter()
                .filter(|(id, _)| **id != self.node_id)
                .map(|(id, addr)| async move {
                    let status: Result<crate::rpc::wire::NodeStatus, _> = self
                        .http
                        .get(addr, crate::rpc::wire::PATH_STATUS, PEER_PROBE_TIMEOUT)
                        .await;
                    status.is_ok_and(|s| !s.voters.is_empty()).then_some(*id)
                });
        futures::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
            .next()
    }

    /// Waits until this node knows a leader and returns its id.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, ControllerError> {
        let metrics = self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|e| match e {
                WaitError::Timeout(..) => ControllerError::NoLeaderInTime {
                    waited_ms: timeout.as_millis(),
                },
                WaitError::ShuttingDown => ProposeError::ShuttingDown.into(),
            })?;
        metrics
            .current_leader
            .ok_or(ControllerError::NoLeaderInTime {
                waited_ms: timeout.as_millis(),
            })
    }

    async fn become_ready(&self, cfg: &ControllerConfig) -> Result<(), ControllerError> {
        if !self.raft.is_initialized().await.map_err(from_fatal)? {
            let members = BTreeMap::from([(self.node_id, BasicNode::default())]);
            match self.raft.initialize(members).await {
                Ok(()) => tracing::info!(
                    node_id = self.node_id,
                    "initialised a single-node controller"
                ),
                // Already initialised: exactly the state we want.
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(initialize_error(e).into()),
            }
        }

        let wait = cfg.leader_wait();
        let deadline = Instant::now() + wait;
        let node_id = self.node_id;
        self.raft
            .wait(Some(wait))
            .metrics(
                |m| m.state == ServerState::Leader && m.current_leader == Some(node_id),
                "this node leads",
            )
            .await
            .map_err(|e| match e {
                WaitError::Timeout(..) => ControllerError::NotLeaderInTime {
                    node: node_id,
                    waited_ms: wait.as_millis(),
                },
                WaitError::ShuttingDown => ProposeError::ShuttingDown.into(),
            })?;

        // Leading does not mean the state machine has applied the log replayed at startup; a
        // linearizable read barrier waits until it has.
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(from_leader_check(e).into()),
            Err(_) => {
                return Err(ControllerError::LogNotAppliedInTime {
                    waited_ms: wait.as_millis(),
                });
            }
        }

        if self.state.read().cluster_id().is_none() {
            let cluster_id = crate::cluster_id::new_cluster_id();
            tracing::info!(%cluster_id, "setting the cluster id");
            self.propose(InitCluster { cluster_id }).await?;
        }
        Ok(())
    }

    /// Replicates and applies `cmd`, returning what applying it produced (the wire form;
    /// callers use the typed [`Propose::propose`]).
    pub async fn submit(&self, cmd: Command) -> Result<CommandResponse, ProposeError> {
        self.submit_indexed(cmd).await.map(|(_, response)| response)
    }

    /// Like [`Controller::submit`], also returning the log index the command was applied at.
    pub async fn submit_indexed(
        &self,
        cmd: Command,
    ) -> Result<(u64, CommandResponse), ProposeError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(ProposeError::ShuttingDown);
        }
        let started = Instant::now();
        let result = if is_topic_change(&cmd) {
            self.submit_topic_change(cmd).await
        } else {
            self.client_write(cmd).await
        };
        self.proposals.finished(started, &result);
        result
    }

    /// Proposes what of a topic change the cluster's limits allow, and answers for all of it.
    async fn submit_topic_change(
        &self,
        cmd: Command,
    ) -> Result<(u64, CommandResponse), ProposeError> {
        // One at a time, so each change is checked against the state the one before it left;
        // rare and small, so waiting here costs nothing.
        let _one_at_a_time = self.topic_changes.lock().await;
        let mut limited = within_limits(&self.state.read(), cmd, &self.limits);
        let (index, proposed) = match limited.propose.take() {
            Some(cmd) => {
                let (index, answer) = self.client_write(cmd).await?;
                (index, Some(answer))
            }
            // Nothing was written, so there is no log index to wait for.
            None => (0, None),
        };
        Ok((index, limited.answer(proposed)?))
    }

    async fn client_write(&self, cmd: Command) -> Result<(u64, CommandResponse), ProposeError> {
        self.raft
            .client_write(cmd)
            .await
            .map(|response| (response.log_id.index, response.data))
            .map_err(client_write_error)
    }

    pub fn state(&self) -> StateHandle {
        self.state.clone()
    }

    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The leader this node currently knows of.
    pub fn current_leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// openraft's metrics (log, applied, snapshot and purge positions, leadership).
    pub fn raft_metrics(&self) -> watch::Receiver<RaftMetrics> {
        self.raft.metrics()
    }

    /// Stops Raft and waits until the log file is closed, so the same directory can be started
    /// again. Later proposals fail with [`ControllerError::ShuttingDown`].
    pub async fn shutdown(&self) -> Result<(), ControllerError> {
        self.shutting_down.store(true, Ordering::Release);
        self.duties_stop.cancel();
        let duties = self.duties.lock().take();
        if let Some(duties) = duties
            && let Err(e) = duties.await
        {
            tracing::warn!(error = %e, "the leader duties task failed");
        }
        let gauges = self.gauges.lock().take();
        if let Some(gauges) = gauges
            && let Err(e) = gauges.await
        {
            tracing::warn!(error = %e, "the controller gauges task failed");
        }
        self.raft.shutdown().await?;
        // openraft drops the log store as its tasks finish; poll with a deadline rather than
        // assume they already have.
        let deadline = Instant::now() + LOG_RELEASE_WAIT;
        while self.log_db.strong_count() > 0 {
            if Instant::now() >= deadline {
                return Err(ControllerError::LogStillOpen {
                    waited_s: LOG_RELEASE_WAIT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A snapshot build openraft started may still be saving; wait for it and stop later ones
        // so nothing writes the data directory after shutdown returns.
        let snapshots = self.snapshots.clone();
        tokio::task::spawn_blocking(move || snapshots.close()).await?;
        tracing::info!(node_id = self.node_id, "controller stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_reports_the_problem() {
        let cfg = ControllerConfig {
            snapshot_logs_since_last: 0,
            ..Default::default()
        };
        let err = cfg.raft_config().expect_err("zero threshold");
        assert!(matches!(
            err,
            ControllerError::InvalidConfig(crate::InvalidConfig::ZeroSnapshotThreshold)
        ));
        assert_eq!(
            err.to_string(),
            "invalid controller configuration: snapshot_logs_since_last must be at least 1"
        );
        let cfg = ControllerConfig {
            election_timeout_min_ms: 40,
            ..Default::default()
        };
        let err = cfg
            .raft_config()
            .expect_err("election timeout below heartbeat");
        assert!(err.to_string().contains("heartbeat_interval"), "{err}");
    }

    #[test]
    fn config_deserialises_with_defaults_for_missing_fields() {
        let cfg: ControllerConfig =
            serde_json::from_str(r#"{"node_id": 7, "data_dir": "/tmp/x"}"#).expect("valid config");
        assert_eq!(cfg.node_id, 7);
        assert_eq!(cfg.snapshot_logs_since_last, 10_000);
    }
}
