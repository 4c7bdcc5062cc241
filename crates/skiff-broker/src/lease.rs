//! Keeps this broker's lease at the controller: one heartbeat proposal per interval, and a
//! re-registration when the controller no longer knows the broker. A clean shutdown
//! unregisters it, so its partitions and groups move at once instead of after the lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use skiff_meta::{
    BrokerHeartbeat, BrokerInfo, ControllerClient, HeartbeatAnswer, Propose, RegisterBroker,
    UnregisterBroker,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;

/// How long a clean shutdown waits for the controller to take the unregistration.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// What this broker knows of its own lease: when a heartbeat the controller accepted was
/// last sent. A broker that was paused (SIGSTOP, a long GC-like stall) or cut off from the
/// controller for longer than `suspect_after` cannot know whether its lease lapsed meanwhile,
/// so the group coordinator stops trusting what it holds in memory.
#[derive(Clone)]
pub struct LeaseStatus {
    inner: Arc<LeaseClock>,
}

struct LeaseClock {
    origin: Instant,
    /// Milliseconds after `origin` at which the newest accepted heartbeat was sent.
    held_at_ms: AtomicU64,
    suspect_after: Duration,
    /// Set once a lapse has been reported, until the lease is held again.
    lapse_reported: AtomicBool,
}

impl LeaseStatus {
    /// A lease just taken (the broker registered at `now`).
    pub fn new(suspect_after: Duration) -> LeaseStatus {
        LeaseStatus {
            inner: Arc::new(LeaseClock {
                origin: Instant::now(),
                held_at_ms: AtomicU64::new(0),
                suspect_after,
                lapse_reported: AtomicBool::new(false),
            }),
        }
    }

    fn millis_since_origin(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.origin).as_millis())
            .unwrap_or(u64::MAX)
    }

    /// A heartbeat sent at `sent` was accepted: the lease was held at least until then.
    fn held_since(&self, sent: Instant) {
        self.inner
            .held_at_ms
            .fetch_max(self.millis_since_origin(sent), Ordering::AcqRel);
        self.inner.lapse_reported.store(false, Ordering::Release);
    }

    /// Whether no accepted heartbeat was sent within `suspect_after` before `now`.
    pub fn is_suspect(&self, now: Instant) -> bool {
        let now = self.millis_since_origin(now);
        let held = self.inner.held_at_ms.load(Ordering::Acquire);
        u128::from(now.saturating_sub(held)) > self.inner.suspect_after.as_millis()
    }

    /// True once per lapse: the first time it is asked while the lease is suspect.
    pub fn take_lapse(&self, now: Instant) -> bool {
        self.is_suspect(now) && !self.inner.lapse_reported.swap(true, Ordering::AcqRel)
    }
}

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
        status: LeaseStatus,
    ) -> LeaseKeeper {
        let stop = CancellationToken::new();
        let broker_id = info.id;
        let task = tokio::spawn(heartbeat_loop(
            controller.clone(),
            info,
            interval,
            status,
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
    status: LeaseStatus,
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
        let sent = Instant::now();
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
        if outcome.is_ok() {
            status.held_since(sent);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_without_an_accepted_heartbeat_for_a_while_is_suspect_once_per_lapse() {
        let status = LeaseStatus::new(Duration::from_millis(3000));
        let t0 = status.inner.origin;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(!status.is_suspect(at(0)), "just registered");
        status.held_since(at(2500));
        assert!(
            !status.is_suspect(at(5000)),
            "a heartbeat 2.5 s ago keeps it"
        );
        assert!(!status.take_lapse(at(5000)));

        // A pause: 8 s without an accepted heartbeat.
        assert!(status.is_suspect(at(10_500)));
        assert!(status.take_lapse(at(10_500)), "reported once");
        assert!(
            !status.take_lapse(at(10_600)),
            "and not again for the same lapse"
        );

        // A heartbeat sent before the pause but accepted after it proves nothing new.
        status.held_since(at(3000));
        assert!(status.is_suspect(at(10_700)));
        status.held_since(at(10_700));
        assert!(!status.is_suspect(at(10_800)));
        assert!(
            status.take_lapse(at(14_000)),
            "a new lapse is reported again"
        );
    }
}
