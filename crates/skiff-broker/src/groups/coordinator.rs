//! The group coordinator: the groups this broker holds in memory, the timer that expires
//! sessions and ends rebalance phases, and the hand-off of group snapshots to the writer.
//!
//! Locking: the group map lock is held only to find, load or insert a group; each group has
//! its own lock, held for one synchronous state-machine step and never across an await, so a
//! slow or misbehaving client can only ever hold up its own group. Lock order is map → group
//! → timer queue; nothing takes them the other way round.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use skiff_meta::{BrokerInfo, FencedGroup};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::GroupConfig;
use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::store_request::{StorePurpose, StoreRequest};
use super::timers::TimerQueue;
use super::writer::GroupWriter;
use crate::clock::now_ms;
use crate::lease::LeaseStatus;
use skiff_meta::ControllerClient;
use skiff_meta::placement::group_coordinator;

pub(super) type GroupSlot = Arc<Mutex<ClassicGroup>>;

/// Whether a lookup may create the group when neither memory nor the controller has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    Existing,
    CreateIfMissing,
}

pub(super) struct CoordinatorCore {
    pub(super) config: Arc<GroupConfig>,
    pub(super) broker_id: i32,
    pub(super) controller: Arc<dyn ControllerClient>,
    origin: Instant,
    groups: Mutex<HashMap<String, GroupSlot>>,
    timers: Mutex<TimerQueue>,
    timer_wake: Notify,
    pub(super) writer: GroupWriter,
    /// This broker's lease (`None` in `skiff dev`, which has none to lose).
    lease: Option<LeaseStatus>,
    waiters: Arc<Semaphore>,
    /// Lets store callbacks (run on the writer task) find their way back without keeping the
    /// coordinator alive.
    this: Weak<CoordinatorCore>,
}

/// Owns the coordinator's state and its two tasks (timer and writer).
pub struct GroupCoordinator {
    pub(super) core: Arc<CoordinatorCore>,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl GroupCoordinator {
    pub fn start(
        config: GroupConfig,
        broker_id: i32,
        controller: Arc<dyn ControllerClient>,
        lease: Option<LeaseStatus>,
    ) -> GroupCoordinator {
        let stop = CancellationToken::new();
        let (writer, writer_task) = GroupWriter::spawn(
            controller.clone(),
            broker_id,
            config.max_pending_writes,
            stop.clone(),
        );
        let core = Arc::new_cyclic(|this| CoordinatorCore {
            waiters: Arc::new(Semaphore::new(config.max_waiters)),
            config: Arc::new(config),
            broker_id,
            controller,
            origin: Instant::now(),
            groups: Mutex::new(HashMap::new()),
            timers: Mutex::new(TimerQueue::default()),
            timer_wake: Notify::new(),
            writer,
            lease,
            this: this.clone(),
        });
        core.load_active_groups();
        let timer_task = tokio::spawn(timer_loop(core.clone(), stop.clone()));
        let handover_task = tokio::spawn(handover_loop(core.clone(), stop.clone()));
        GroupCoordinator {
            core,
            stop,
            tasks: Mutex::new(vec![timer_task, handover_task, writer_task]),
        }
    }

    /// Stops the timer and, after writing what is already queued, the writer. Called once
    /// connections have drained, so no request waits on either any more.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "group coordinator task failed");
            }
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.core.config
    }

    /// A slot for one parked JoinGroup or SyncGroup; `None` when too many are parked.
    pub fn reserve_waiter(&self) -> Option<OwnedSemaphorePermit> {
        self.core.waiters.clone().try_acquire_owned().ok()
    }

    /// The live broker that coordinates `group_id`.
    pub fn coordinator_for(&self, group_id: &str) -> Option<BrokerInfo> {
        let state = self.core.controller.state();
        let state = state.read();
        let id = group_coordinator(group_id, state.live_brokers())?;
        state.broker(id).cloned()
    }

    /// `Ok` when this broker coordinates the group.
    pub fn check_coordinator(&self, group_id: &str) -> Result<(), CoordinatorError> {
        let state = self.core.controller.state();
        let state = state.read();
        match group_coordinator(group_id, state.live_brokers()) {
            // A broker that cannot tell whether it still holds its lease serves no group:
            // another broker may have taken them over meanwhile. It also bounds when a broker
            // whose lease lapsed last answered a member (see `CoordinatorCore::silent_ms`).
            Some(id) if id == self.core.broker_id && self.core.lease_is_suspect() => {
                Err(CoordinatorError::CoordinatorNotAvailable)
            }
            Some(id) if id == self.core.broker_id => Ok(()),
            Some(_) => Err(CoordinatorError::NotCoordinator),
            None => Err(CoordinatorError::CoordinatorNotAvailable),
        }
    }
}

impl CoordinatorCore {
    /// Milliseconds on the coordinator's monotonic clock (tokio's, so paused-time tests work).
    pub(super) fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Loads every persisted group with members that this broker coordinates and has not
    /// loaded yet (at start, and whenever the live brokers change), so their sessions run from
    /// now: members that come back with their ids carry on, the others expire and the group
    /// rebalances or empties, as after a Kafka coordinator fails over. Other groups load when
    /// first touched.
    fn load_active_groups(&self) {
        let active: Vec<String> = {
            let state = self.controller.state();
            let state = state.read();
            state
                .groups()
                .filter(|(_, record)| {
                    record
                        .metadata
                        .as_ref()
                        .is_some_and(|m| !m.members.is_empty())
                })
                .filter(|(id, _)| {
                    group_coordinator(id, state.live_brokers()) == Some(self.broker_id)
                })
                .map(|(id, _)| id.to_string())
                .take(self.config.max_groups)
                .collect()
        };
        for group_id in &active {
            if let Err(error) = self.slot(group_id, Lookup::Existing) {
                tracing::warn!(group = %group_id, %error, "could not load a group with members");
            }
        }
    }

    /// Finds a group in memory, else loads it from its persisted state, else (if allowed)
    /// creates it. `Ok(None)`: the group does not exist.
    pub(super) fn slot(
        &self,
        group_id: &str,
        lookup: Lookup,
    ) -> Result<Option<GroupSlot>, CoordinatorError> {
        let mut groups = self.groups.lock();
        if let Some(slot) = groups.get(group_id) {
            return Ok(Some(slot.clone()));
        }
        let now = self.now();
        let (persisted, epoch, silent_ms) = {
            let state = self.controller.state();
            let state = state.read();
            (
                state.group(group_id).map(|record| record.metadata.clone()),
                state.placement_epoch(),
                self.silent_ms(&state, group_id),
            )
        };
        let mut group = match persisted {
            Some(Some(stored)) => {
                let group = ClassicGroup::from_stored(&stored, self.config.clone(), now, silent_ms);
                tracing::info!(group = %group_id, generation = group.generation(), members = group.member_count(), silent_ms, "loaded group from the controller");
                group
            }
            // Only offsets were stored: a group of standalone consumers.
            Some(None) => ClassicGroup::new(group_id, self.config.clone()),
            None if lookup == Lookup::CreateIfMissing => {
                ClassicGroup::new(group_id, self.config.clone())
            }
            None => return Ok(None),
        };
        group.loaded_at = epoch;
        if groups.len() >= self.config.max_groups && !evict_one(&mut groups, &self.timers) {
            tracing::warn!(
                limit = self.config.max_groups,
                "too many active groups; refusing another"
            );
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        if let Some(at) = group.next_deadline() {
            self.lower_timer(group_id, at);
        }
        let slot = Arc::new(Mutex::new(group));
        groups.insert(group_id.to_string(), slot.clone());
        Ok(Some(slot))
    }

    /// How long the members of `group_id` have certainly gone unheard when this broker takes
    /// the group from a coordinator whose lease lapsed. That broker stopped serving groups once
    /// its last accepted heartbeat was `suspect_after` old, so no session was kept alive by it
    /// since; counting that time lets members whose clients already gave up their ids (as
    /// librdkafka does at its own session timeout) expire a session after they were last
    /// heard, not a session after the takeover. 0 when the previous coordinator left cleanly,
    /// is live, or is unknown, and in `skiff dev` (no lease).
    fn silent_ms(&self, state: &skiff_meta::ControllerState, group_id: &str) -> u64 {
        let Some(lease) = &self.lease else {
            return 0;
        };
        let Some(previous) = state
            .live_history()
            .previous_coordinator(group_id, self.broker_id)
        else {
            return 0;
        };
        match state.broker_lease(previous) {
            Some(previous) if !previous.live && previous.last_heartbeat_ms > 0 => {
                let suspect_ms =
                    i64::try_from(lease.suspect_after().as_millis()).unwrap_or(i64::MAX);
                let served_until = previous.last_heartbeat_ms.saturating_add(suspect_ms);
                u64::try_from(now_ms().saturating_sub(served_until)).unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn lease_is_suspect(&self) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|lease| lease.is_suspect(Instant::now()))
    }

    /// Drops every loaded group this broker has not coordinated without a break since it
    /// loaded it: another broker coordinates it now, or did for a while (this broker's lease
    /// lapsed, or a broker came and went). Such a group reloads from the controller when next
    /// asked for, with the interim coordinator's generation. Runs only when the set of live
    /// brokers changed, so its scan of the loaded groups is rare.
    fn hand_over_moved_groups(&self) {
        let loaded = self.loaded_groups();
        let moved: Vec<(String, GroupSlot)> = {
            let state = self.controller.state();
            let state = state.read();
            loaded
                .into_iter()
                .filter(|(id, slot)| {
                    let loaded_at = slot.lock().loaded_at;
                    !state.coordinated_since(self.broker_id, id, loaded_at)
                })
                .collect()
        };
        for (group_id, slot) in moved {
            self.unload(
                &group_id,
                &slot,
                "this broker did not coordinate it throughout",
            );
        }
    }

    /// Takes a group out of memory and answers its parked requests NOT_COORDINATOR; the next
    /// request loads it afresh from the controller.
    pub(super) fn unload(&self, group_id: &str, slot: &GroupSlot, why: &str) {
        // Out of the map first, so a client told NOT_COORDINATOR never finds it here.
        self.forget(group_id, slot);
        slot.lock().hand_over();
        tracing::info!(group = %group_id, why, "unloaded group");
    }

    /// Drops every loaded group without writing anything: this broker cannot tell whether it
    /// still holds its lease, so what its timers would decide (members expired on a clock that
    /// kept running while it was paused or cut off) must not happen.
    fn unload_all(&self, why: &str) {
        for (group_id, slot) in self.loaded_groups() {
            self.unload(&group_id, &slot, why);
        }
    }

    /// The group if it is in memory; never loads or creates it.
    pub(super) fn loaded(&self, group_id: &str) -> Option<GroupSlot> {
        self.groups.lock().get(group_id).cloned()
    }

    /// Runs one synchronous step on a group, then registers any new deadline (under the
    /// group lock, so it cannot race the timer task) and sends the writes it asked for.
    pub(super) fn with_group<R>(
        &self,
        group_id: &str,
        slot: &GroupSlot,
        step: impl FnOnce(&mut ClassicGroup, u64) -> R,
    ) -> R {
        let (result, stores) = {
            let mut group = slot.lock();
            let result = step(&mut group, self.now());
            if let Some(at) = group.take_wake_hint() {
                self.lower_timer(group_id, at);
            }
            (result, group.take_stores())
        };
        self.dispatch(group_id, stores);
        result
    }

    /// Takes a group out of memory (after deletion), if `slot` is still the one registered.
    pub(super) fn forget(&self, group_id: &str, slot: &GroupSlot) {
        let mut groups = self.groups.lock();
        if groups.get(group_id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            groups.remove(group_id);
            self.timers.lock().set(group_id, None);
        }
    }

    /// Every group in memory, for listing.
    pub(super) fn loaded_groups(&self) -> Vec<(String, GroupSlot)> {
        self.groups
            .lock()
            .iter()
            .map(|(id, slot)| (id.clone(), slot.clone()))
            .collect()
    }

    fn lower_timer(&self, group_id: &str, at: u64) {
        if self.timers.lock().lower(group_id, at) {
            self.timer_wake.notify_one();
        }
    }

    fn run_timers(&self, group_id: &str) {
        let Some(slot) = self.groups.lock().get(group_id).cloned() else {
            return;
        };
        let stores = {
            let mut group = slot.lock();
            group.on_timer(self.now());
            group.take_wake_hint();
            if self.timers.lock().set(group_id, group.next_deadline()) {
                self.timer_wake.notify_one();
            }
            group.take_stores()
        };
        self.dispatch(group_id, stores);
    }

    /// Sends snapshots to the writer; each comes back through `store_done`.
    fn dispatch(&self, group_id: &str, stores: Vec<StoreRequest>) {
        for StoreRequest {
            mut group,
            purpose,
            loaded_at,
        } in stores
        {
            group.stored_at_ms = now_ms();
            let group = FencedGroup { loaded_at, group };
            let this = self.this.clone();
            let id = group_id.to_string();
            self.writer.store(
                group,
                Box::new(move |outcome| {
                    if let Some(core) = this.upgrade() {
                        core.store_done(&id, &purpose, outcome);
                    }
                }),
            );
        }
    }

    fn store_done(
        &self,
        group_id: &str,
        purpose: &StorePurpose,
        outcome: Result<(), CoordinatorError>,
    ) {
        if let (StorePurpose::Empty, Err(error)) = (purpose, &outcome) {
            // Safe to lose: the previous generation stored has no live members to wait on.
            tracing::warn!(group = %group_id, %error, "could not store an empty group");
        }
        let Some(slot) = self.groups.lock().get(group_id).cloned() else {
            return;
        };
        if outcome == Err(CoordinatorError::NotCoordinator) {
            // Fenced: what this broker holds is older than what the controller has.
            self.unload(group_id, &slot, "the controller refused its snapshot");
            return;
        }
        self.with_group(group_id, &slot, |group, now| {
            group.on_store_done(purpose, outcome, now)
        });
    }
}

/// Drops one idle empty group (reloadable from the controller) to make room; false if none
/// is idle. Scans only when the map is full.
fn evict_one(groups: &mut HashMap<String, GroupSlot>, timers: &Mutex<TimerQueue>) -> bool {
    let victim = groups.iter().find_map(|(id, slot)| {
        let mut group = slot.try_lock()?;
        if !group.is_evictable() {
            return None;
        }
        // Anyone still holding this slot must come back through the map and reload.
        group.prepare_eviction();
        Some(id.clone())
    });
    match victim {
        Some(id) => {
            groups.remove(&id);
            timers.lock().set(&id, None);
            true
        }
        None => false,
    }
}

/// Hands groups over when the live brokers change (a broker joined, left or expired). It
/// follows the placement epoch, not the live set itself: a broker that lapsed and came back
/// between two looks leaves the same live set but a newer epoch.
async fn handover_loop(core: Arc<CoordinatorCore>, stop: CancellationToken) {
    let state = core.controller.state();
    let mut applied = state.applied();
    let mut epoch = state.read().placement_epoch();
    loop {
        tokio::select! {
            changed = applied.changed() => if changed.is_err() { return },
            _ = stop.cancelled() => return,
        }
        let now = state.read().placement_epoch();
        if now != epoch {
            epoch = now;
            core.hand_over_moved_groups();
            // Groups that moved here start their members' sessions now, not when a member
            // first finds this broker: ids whose clients gave up meanwhile expire sooner.
            core.load_active_groups();
        }
    }
}

async fn timer_loop(core: Arc<CoordinatorCore>, stop: CancellationToken) {
    loop {
        let next = core.timers.lock().next();
        let sleep = async {
            match next {
                Some(at) => {
                    tokio::time::sleep_until(core.origin + std::time::Duration::from_millis(at))
                        .await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = core.timer_wake.notified() => continue,
            _ = stop.cancelled() => return,
        }
        if core
            .lease
            .as_ref()
            .is_some_and(|lease| lease.take_lapse(Instant::now()))
        {
            core.unload_all("this broker's lease may have lapsed (no heartbeat accepted lately)");
        }
        let due = core.timers.lock().pop_due(core.now());
        for group_id in due {
            core.run_timers(&group_id);
        }
    }
}
