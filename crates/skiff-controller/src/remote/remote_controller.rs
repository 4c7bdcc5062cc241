//! The controller client a `skiff broker` uses: proposals go to any controller (followers
//! forward to the leader), state is read from the local replica, and a proposal returns only
//! once the replica has applied it, so a broker always sees its own writes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::follower::{Follower, Readiness};
use super::replica::StateReplica;
use skiff_meta::{Command, CommandResponse, ProposeError, StateHandle};

use crate::auth::ClusterSecret;
use crate::error::ControllerError;
use crate::metrics::ProposalMetrics;
use crate::rpc::ControllerEndpoints;

#[derive(Debug, Clone)]
pub struct RemoteControllerConfig {
    /// `host:port` of every controller node (at least one).
    pub controllers: Vec<String>,
    /// How long `connect` waits for the first state snapshot.
    pub connect_timeout: Duration,
    /// How long a proposal waits for the replica to apply it before returning anyway.
    pub read_your_writes_wait: Duration,
    /// Signs every request to the controllers (`--cluster-secret-file`).
    pub cluster_secret: Option<ClusterSecret>,
    /// HTTPS to the controllers (`--controller-tls-*`); `None`: plain HTTP.
    pub tls: Option<skiff_tls::ClientFiles>,
}

impl RemoteControllerConfig {
    pub fn new(controllers: Vec<String>) -> Self {
        RemoteControllerConfig {
            controllers,
            connect_timeout: Duration::from_secs(60),
            read_your_writes_wait: Duration::from_secs(5),
            cluster_secret: None,
            tls: None,
        }
    }
}

pub struct RemoteController {
    endpoints: Arc<ControllerEndpoints>,
    replica: StateReplica,
    read_your_writes_wait: Duration,
    stop: CancellationToken,
    follower: parking_lot::Mutex<Option<JoinHandle<()>>>,
    proposals: ProposalMetrics,
}

impl RemoteController {
    /// Starts following the controllers and waits (bounded) for the first state snapshot.
    pub async fn connect(
        config: RemoteControllerConfig,
    ) -> Result<RemoteController, ControllerError> {
        let endpoints = Arc::new(
            ControllerEndpoints::with_tls(config.controllers.clone(), config.tls.as_ref())?
                .with_secret(config.cluster_secret.clone()),
        );
        let replica = StateReplica::default();
        let (ready_tx, mut ready) = watch::channel(Readiness::Waiting);
        let stop = CancellationToken::new();
        let follower = Follower {
            endpoints: endpoints.clone(),
            replica: replica.clone(),
            ready: ready_tx,
        };
        let task = tokio::spawn(follower.run(stop.clone()));
        let remote = RemoteController {
            endpoints,
            replica,
            read_your_writes_wait: config.read_your_writes_wait,
            stop,
            follower: parking_lot::Mutex::new(Some(task)),
            proposals: ProposalMetrics::register(),
        };
        let waited = tokio::time::timeout(
            config.connect_timeout,
            ready.wait_for(|r| *r != Readiness::Waiting),
        )
        .await
        .ok()
        .and_then(|r| r.ok().map(|r| (*r).clone()));
        if let Some(Readiness::Refused(reason)) = waited {
            remote.shutdown().await;
            return Err(ControllerError::Refused { reason });
        }
        if waited != Some(Readiness::Ready) {
            remote.shutdown().await;
            return Err(ControllerError::NotConnected {
                controllers: config.controllers.join(","),
                waited_ms: config.connect_timeout.as_millis(),
            });
        }
        Ok(remote)
    }

    /// Proposes through any controller; returns once the local replica has applied it (or
    /// after a bounded wait, with a warning: the command is committed either way).
    pub async fn submit(&self, command: Command) -> Result<CommandResponse, ProposeError> {
        if self.stop.is_cancelled() {
            return Err(ProposeError::ShuttingDown);
        }
        let started = std::time::Instant::now();
        let result = self.propose_and_catch_up(command).await;
        self.proposals.finished(started, &result);
        self.proposals.applied(self.replica.applied());
        result
    }

    async fn propose_and_catch_up(
        &self,
        command: Command,
    ) -> Result<CommandResponse, ProposeError> {
        let proposed = self.endpoints.submit(command).await?;
        let mut applied = self.replica.subscribe();
        let caught_up = tokio::time::timeout(
            self.read_your_writes_wait,
            applied.wait_for(|i| *i >= proposed.index),
        )
        .await;
        if !matches!(caught_up, Ok(Ok(_))) {
            tracing::warn!(
                index = proposed.index,
                applied = self.replica.applied(),
                "the local controller replica has not applied a committed proposal yet"
            );
        }
        Ok(proposed.response)
    }

    pub fn state(&self) -> StateHandle {
        self.replica.handle()
    }

    /// How many times the replica was loaded from a whole-state snapshot (bootstrap + resyncs).
    pub fn snapshot_loads(&self) -> u64 {
        self.replica.reset_count()
    }

    /// The controller addresses this client uses.
    pub fn endpoints(&self) -> &ControllerEndpoints {
        &self.endpoints
    }

    /// Stops following; later proposals fail with `ShuttingDown`.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.follower.lock().take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "controller watch task failed");
        }
    }
}
