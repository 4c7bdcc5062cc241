//! The leader's broker lease monitor. It watches each live broker's heartbeat counter in the
//! applied state on the leader's own monotonic clock; a broker whose counter has not moved for
//! a whole lease is expired by a command carrying the counter it saw, so a heartbeat that is
//! applied first wins. The clock starts fresh with each term, giving every broker a full lease
//! after a change of leader.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use skiff_meta::{Command, ExpireBroker, StateHandle};

use crate::raft::types::Raft;

pub(crate) struct LeaseMonitor {
    lease: Duration,
}

/// What the monitor last saw of one broker.
struct Seen {
    heartbeats: u64,
    since: Instant,
}

impl LeaseMonitor {
    pub(crate) fn new(lease: Duration) -> Self {
        LeaseMonitor { lease }
    }

    /// How often the counters are read. A broker is expired between one lease and one lease
    /// plus two ticks after its last heartbeat (the tick it was seen on, the tick it is found
    /// silent on), so ticks are short: clients wait out that slack on every broker failure, and
    /// a look at the live brokers' counters costs next to nothing.
    fn tick(&self) -> Duration {
        (self.lease / 50).clamp(Duration::from_millis(20), Duration::from_millis(100))
    }

    pub(crate) async fn run(&self, raft: &Raft, state: &StateHandle, stop: CancellationToken) {
        let mut seen: HashMap<i32, Seen> = HashMap::new();
        let mut ticker = tokio::time::interval(self.tick());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            let now = Instant::now();
            let live: Vec<(i32, u64)> = {
                let state = state.read();
                state
                    .live_brokers()
                    .filter_map(|b| state.broker_lease(b.id).map(|l| (b.id, l.heartbeats)))
                    .collect()
            };
            seen.retain(|id, _| live.iter().any(|(live_id, _)| live_id == id));
            for (broker_id, heartbeats) in live {
                let entry = seen.entry(broker_id).or_insert(Seen {
                    heartbeats,
                    since: now,
                });
                if entry.heartbeats != heartbeats {
                    *entry = Seen {
                        heartbeats,
                        since: now,
                    };
                    continue;
                }
                let silent = now.duration_since(entry.since);
                if silent < self.lease {
                    continue;
                }
                tracing::info!(
                    broker = broker_id,
                    silent_ms = silent.as_millis() as u64,
                    "broker lease lapsed: expiring it"
                );
                let expire = Command::from(ExpireBroker {
                    broker_id,
                    heartbeats_seen: heartbeats,
                });
                if let Err(e) = raft.client_write(expire).await {
                    tracing::warn!(broker = broker_id, error = %e, "could not expire a broker");
                }
                // Either way, look again only after another full lease.
                entry.since = Instant::now();
            }
        }
    }
}
