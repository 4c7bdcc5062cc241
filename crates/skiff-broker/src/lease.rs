//! Keeps this broker's lease at the controller: one heartbeat proposal per interval, and a
//! re-registration when the controller no longer knows the broker. A clean shutdown
//! unregisters it, so its partitions and groups move at once instead of after the lease.
//!
//! A broker that starts while its previous process's lease still runs (it was killed and
//! restarted within the lease) ends that lease at once, so its partitions and groups move to
//! the other live brokers now rather than when the lease lapses, and goes live itself only
//! after `restart_live_delay_ms`: clients that failed to reach the dead process are in their
//! reconnect backoff (librdkafka's `reconnect.backoff.max.ms` is 10 s) and would stall if
//! Metadata sent them straight back to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use skiff_meta::{
    BrokerInfo, ControllerClient, ControllerState, ExpireBroker, HeartbeatAnswer, Propose,
    ProposeError, RegisterBroker, RenewBrokerLease, UnregisterBroker,
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

    /// How long after its last accepted heartbeat a broker stops trusting its lease (and so
    /// stops serving groups): every broker runs with the same setting.
    pub fn suspect_after(&self) -> Duration {
        self.inner.suspect_after
    }

    /// True once per lapse: the first time it is asked while the lease is suspect.
    pub fn take_lapse(&self, now: Instant) -> bool {
        self.is_suspect(now) && !self.inner.lapse_reported.swap(true, Ordering::AcqRel)
    }
}

/// Ends the lease of this broker id's previous process if it still runs and another broker
/// that heartbeated lately can take over its partitions and groups; true when it did. The
/// expiry carries the heartbeat count read here, so if the previous process is in fact alive
/// and heartbeated meanwhile, the controller ignores it. `recent_ms`: how old another
/// broker's last heartbeat may be (by command time) for it to count as taking over.
pub async fn end_previous_lease(
    controller: &Arc<dyn ControllerClient>,
    broker_id: i32,
    recent_ms: i64,
) -> Result<bool, ProposeError> {
    let heartbeats_seen = {
        let state = controller.state();
        let state = state.read();
        match state.broker_lease(broker_id) {
            Some(lease) if lease.live && others_take_over(&state, broker_id, recent_ms) => {
                lease.heartbeats
            }
            _ => return Ok(false),
        }
    };
    controller
        .propose(ExpireBroker {
            broker_id,
            heartbeats_seen,
        })
        .await?;
    let ended = !controller
        .state()
        .read()
        .broker_lease(broker_id)
        .is_some_and(|lease| lease.live);
    if ended {
        tracing::info!(
            broker = broker_id,
            "ended the lease of this broker's previous process; its partitions and groups move now"
        );
    }
    Ok(ended)
}

/// Whether a live broker other than `broker_id` heartbeated within `recent_ms` of the newest
/// command: one that can lead partitions while this one waits to go live.
fn others_take_over(state: &ControllerState, broker_id: i32, recent_ms: i64) -> bool {
    let newest = state.clock_ms();
    state
        .live_brokers()
        .filter(|b| b.id != broker_id)
        .filter_map(|b| state.broker_lease(b.id))
        .any(|lease| lease.last_heartbeat_ms.saturating_add(recent_ms) >= newest)
}

/// Waits `delay`, or less if no other live broker is left to lead in the meantime; false
/// when the broker is stopping.
async fn wait_to_go_live(
    controller: &Arc<dyn ControllerClient>,
    broker_id: i32,
    delay: Duration,
    stop: &CancellationToken,
) -> bool {
    let state = controller.state();
    let mut applied = state.applied();
    let deadline = Instant::now() + delay;
    loop {
        if !state.read().live_brokers().any(|b| b.id != broker_id) {
            tracing::info!(
                broker = broker_id,
                "no other broker is live; going live before the restart delay ends"
            );
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return true,
            changed = applied.changed() => if changed.is_err() { return true },
            _ = stop.cancelled() => return false,
        }
    }
}

pub struct LeaseKeeper {
    controller: Arc<dyn ControllerClient>,
    broker_id: i32,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Heartbeats every `interval`. With `register_after`, the broker is not registered yet:
    /// it registers (goes live) after that delay, then heartbeats. A lease found lapsed later
    /// (the broker was paused or cut off) is taken again after `rejoin_delay` the same way.
    pub fn spawn(
        controller: Arc<dyn ControllerClient>,
        info: BrokerInfo,
        interval: Duration,
        status: LeaseStatus,
        register_after: Option<Duration>,
        rejoin_delay: Duration,
    ) -> LeaseKeeper {
        let stop = CancellationToken::new();
        let broker_id = info.id;
        let task = tokio::spawn({
            let controller = controller.clone();
            let stop = stop.clone();
            async move {
                if let Some(delay) = register_after
                    && !register_later(&controller, &info, interval, delay, &status, &stop).await
                {
                    return;
                }
                heartbeat_loop(controller, info, interval, rejoin_delay, status, stop).await;
            }
        });
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

/// Registers after `delay` (see [`wait_to_go_live`]), retrying every `interval` until the
/// controller takes it; false when the broker is stopping.
async fn register_later(
    controller: &Arc<dyn ControllerClient>,
    info: &BrokerInfo,
    interval: Duration,
    delay: Duration,
    status: &LeaseStatus,
    stop: &CancellationToken,
) -> bool {
    if !wait_to_go_live(controller, info.id, delay, stop).await {
        return false;
    }
    loop {
        let sent = Instant::now();
        let outcome = tokio::select! {
            outcome = controller.propose(RegisterBroker(info.clone())) => outcome,
            _ = stop.cancelled() => return false,
        };
        match outcome {
            Ok(()) => {
                status.held_since(sent);
                tracing::info!(
                    broker = info.id,
                    "registered after the restart delay: live again"
                );
                return true;
            }
            Err(e) => tracing::warn!(broker = info.id, error = %e, "could not register; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => return false,
        }
    }
}

async fn heartbeat_loop(
    controller: Arc<dyn ControllerClient>,
    info: BrokerInfo,
    interval: Duration,
    rejoin_delay: Duration,
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
        let heartbeat = RenewBrokerLease {
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
            Ok(HeartbeatAnswer::Lapsed) => {
                // Paused or cut off for longer than the lease: the partitions and groups moved
                // on. Taking them straight back would send clients to a broker they may be
                // backing off from, and move every group a second time.
                tracing::info!(
                    broker = info.id,
                    delay_ms = rejoin_delay.as_millis() as u64,
                    "this broker's lease lapsed; going live again after the restart delay"
                );
                if !register_later(&controller, &info, interval, rejoin_delay, &status, &stop).await
                {
                    return;
                }
                failing = false;
                continue;
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
