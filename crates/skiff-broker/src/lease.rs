//! Keeps this broker's lease at the controller: one heartbeat proposal per interval, and a
//! re-registration when the controller no longer knows the broker. A clean shutdown
//! unregisters it, so its partitions and groups move at once instead of after the lease.

use std::sync::Arc;
use std::time::Duration;

use skiff_meta::{
    BrokerHeartbeat, BrokerInfo, ControllerClient, HeartbeatAnswer, Propose, RegisterBroker,
    UnregisterBroker,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;

/// How long a clean shutdown waits for the controller to take the unregistration.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(5);

pub struct LeaseKeeper {
    controller: Arc<dyn ControllerClient>,
    broker_id: i32,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    pub fn spawn(
        controller: Arc<dyn ControllerClient>,
        info: BrokerInfo,
        interval: Duration,
    ) -> LeaseKeeper {
        let stop = CancellationToken::new();
        let broker_id = info.id;
        let task = tokio::spawn(heartbeat_loop(
            controller.clone(),
            info,
            interval,
            stop.clone(),
        ));
        LeaseKeeper {
            controller,
            broker_id,
            stop,
            task,
        }
    }

    /// Stops heartbeating and unregisters the broker (bounded; a failure only means the
    /// lease lapses instead).
    pub async fn unregister(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "heartbeat task failed");
        }
        let unregister = self.controller.propose(UnregisterBroker {
            broker_id: self.broker_id,
        });
        match tokio::time::timeout(UNREGISTER_TIMEOUT, unregister).await {
            Ok(Ok(_)) => {
                tracing::info!(broker = self.broker_id, "unregistered from the controller")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not unregister; the lease will lapse"),
            Err(_) => tracing::warn!("unregistering timed out; the lease will lapse"),
        }
    }
}

async fn heartbeat_loop(
    controller: Arc<dyn ControllerClient>,
    info: BrokerInfo,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        let heartbeat = BrokerHeartbeat {
            broker_id: info.id,
            now_ms: now_ms(),
        };
        let outcome = tokio::select! {
            outcome = controller.propose(heartbeat) => outcome,
            _ = stop.cancelled() => return,
        };
        let outcome = match outcome {
            Ok(HeartbeatAnswer::UnknownBroker) => {
                tracing::info!(
                    broker = info.id,
                    "the controller forgot this broker; registering again"
                );
                controller.propose(RegisterBroker(info.clone())).await
            }
            Ok(HeartbeatAnswer::Accepted) => Ok(()),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) if failing => {
                tracing::info!(broker = info.id, "heartbeats reach the controller again");
                failing = false;
            }
            Ok(()) => {}
            // Logged once per outage, not once per second.
            Err(e) if !failing => {
                tracing::warn!(broker = info.id, error = %e, "heartbeat failed; the lease may lapse");
                failing = true;
            }
            Err(_) => {}
        }
    }
}
