//! Rebalances: starting one, completing the join phase into a new generation, propagating the
//! leader's assignment, and every timeout (join phase, sync phase, pending member ids,
//! sessions) through one `on_timer` the coordinator calls when a deadline passes.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::error::CoordinatorError;
use super::group::{ClassicGroup, JoinTimer};
use super::outcome::{JoinResult, SyncResult};
use super::state::GroupState;
use super::store_request::StorePurpose;

impl ClassicGroup {
    pub(super) fn maybe_prepare_rebalance_or_complete_join(&mut self, now: u64) {
        if self.can_rebalance() {
            self.prepare_rebalance(now);
        } else {
            self.maybe_complete_join_phase(now);
        }
    }

    pub(super) fn prepare_rebalance(&mut self, now: u64) {
        if self.state == GroupState::CompletingRebalance {
            // Members waiting in SyncGroup must rejoin instead.
            self.reset_and_propagate_assignment_error(CoordinatorError::RebalanceInProgress, now);
        }
        self.pending_sync.clear();
        self.sync_timer = None;
        self.pending_assignment = None;
        let initial = self.state == GroupState::Empty;
        self.transition(GroupState::PreparingRebalance);
        if initial {
            let delay = self.config.initial_rebalance_delay_ms;
            let remaining = self.rebalance_timeout_ms().saturating_sub(delay);
            self.set_join_timer(JoinTimer::Initial {
                at: now.saturating_add(delay),
                delay,
                remaining,
            });
        } else if self.has_all_members_joined() {
            self.complete_join_phase(now);
        } else {
            let at = now.saturating_add(self.rebalance_timeout_ms());
            self.set_join_timer(JoinTimer::Rebalance { at });
        }
    }

    /// Completes the join phase early once everyone has rejoined, except during a new group's
    /// first rebalance, which always waits out the initial delay for more members.
    pub(super) fn maybe_complete_join_phase(&mut self, now: u64) {
        if self.state == GroupState::PreparingRebalance
            && self.has_all_members_joined()
            && self.previous_state != GroupState::Empty
        {
            self.complete_join_phase(now);
        }
    }

    fn set_join_timer(&mut self, timer: JoinTimer) {
        self.join_timer = Some(timer);
        self.hint(timer.at());
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, starts the next
    /// generation and answers every parked JoinGroup (the leader gets the member list).
    pub(super) fn complete_join_phase(&mut self, now: u64) {
        self.join_timer = None;
        let laggards: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &laggards {
            self.remove_member(id);
        }
        if !laggards.is_empty() {
            tracing::info!(group = %self.id, removed = ?laggards, "removed members that did not rejoin in time");
        }
        if self.state == GroupState::Dead {
            return;
        }
        if !self.members.is_empty() && !self.elect_joined_leader() {
            // Only static members that have not rejoined remain: wait for them (or for their
            // sessions to expire) for another rebalance timeout.
            let at = now.saturating_add(self.rebalance_timeout_ms());
            self.set_join_timer(JoinTimer::Rebalance { at });
            return;
        }
        self.start_next_generation();
        if self.state == GroupState::Empty {
            tracing::info!(group = %self.id, generation = self.generation, "group is now empty");
            self.request_store(StorePurpose::Empty, None);
            return;
        }
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = ?self.protocol,
            "join phase complete"
        );
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in &ids {
            let is_leader = self.is_leader(id);
            let result = self.generation_result(id, self.leader.as_deref(), is_leader, false);
            self.complete_join(id, result);
            let expires_at = self.members.get_mut(id).map(|member| {
                member.touch(now);
                member.is_new = false;
                member.expires_at
            });
            if let Some(at) = expires_at {
                self.hint(at);
            }
            self.pending_sync.insert(id.clone());
        }
        let at = now.saturating_add(self.rebalance_timeout_ms());
        self.sync_timer = Some((at, self.generation));
        self.hint(at);
    }

    /// Keeps the leader if it rejoined, else picks a member that did. False when none did.
    fn elect_joined_leader(&mut self) -> bool {
        let leader_joined = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.is_awaiting_join());
        if leader_joined {
            return true;
        }
        match self.members.values().find(|m| m.is_awaiting_join()) {
            Some(member) => {
                tracing::info!(group = %self.id, old = ?self.leader, new = %member.id, "leader did not rejoin; elected another");
                self.leader = Some(member.id.clone());
                true
            }
            None => false,
        }
    }

    fn start_next_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1).max(1);
        self.pending_sync.clear();
        self.pending_assignment = None;
        if self.members.is_empty() {
            self.protocol = None;
            self.transition(GroupState::Empty);
        } else {
            self.protocol = self.select_protocol();
            self.transition(GroupState::CompletingRebalance);
        }
        self.subscribed_topics = self.compute_subscribed_topics();
    }

    pub(super) fn reset_and_propagate_assignment_error(
        &mut self,
        error: CoordinatorError,
        now: u64,
    ) {
        let mut next_deadline = None;
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            if member.complete_sync(SyncResult::failed(error)) {
                // Its session did not run while it waited; it restarts now.
                member.touch(now);
                next_deadline = Some(
                    next_deadline.map_or(member.expires_at, |d: u64| d.min(member.expires_at)),
                );
            }
        }
        if let Some(at) = next_deadline {
            self.hint(at);
        }
    }

    /// Applies the stored assignment and answers every parked SyncGroup with its share.
    pub(super) fn set_and_propagate_assignment(
        &mut self,
        assignment: &BTreeMap<String, Bytes>,
        now: u64,
    ) {
        let protocol_type = self.protocol_type.clone();
        let protocol = self.protocol.clone();
        let mut next_deadline = None;
        for member in self.members.values_mut() {
            member.assignment = assignment.get(&member.id).cloned().unwrap_or_default();
            let answered = member.complete_sync(SyncResult {
                error: None,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol.clone(),
                assignment: member.assignment.clone(),
            });
            if answered {
                // Sessions of members that waited in SyncGroup restart now.
                member.touch(now);
                next_deadline = Some(
                    next_deadline.map_or(member.expires_at, |d: u64| d.min(member.expires_at)),
                );
            }
        }
        if let Some(at) = next_deadline {
            self.hint(at);
        }
    }

    /// Removes a member that left or expired, then rebalances (or finishes the join phase
    /// if everyone else already rejoined).
    pub(super) fn remove_member_and_rebalance(&mut self, member_id: &str, now: u64) {
        self.complete_join(
            member_id,
            JoinResult::failed(CoordinatorError::UnknownMemberId, ""),
        );
        self.remove_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(now);
            }
            GroupState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join_phase(now);
            }
            _ => {}
        }
    }

    /// Runs every deadline that has passed at `now`.
    pub fn on_timer(&mut self, now: u64) {
        if let Some(timer) = self.join_timer
            && timer.at() <= now
        {
            self.join_timer = None;
            if self.state == GroupState::PreparingRebalance {
                match timer {
                    JoinTimer::Initial {
                        delay, remaining, ..
                    } if self.new_member_added && remaining > 0 => {
                        // Members are still arriving: wait a little longer, within the
                        // rebalance timeout.
                        self.new_member_added = false;
                        let next_delay = self.config.initial_rebalance_delay_ms.min(remaining);
                        self.set_join_timer(JoinTimer::Initial {
                            at: now.saturating_add(next_delay),
                            delay: next_delay,
                            remaining: remaining.saturating_sub(delay),
                        });
                    }
                    _ => self.complete_join_phase(now),
                }
            }
        }
        if let Some((at, generation)) = self.sync_timer
            && at <= now
        {
            self.sync_timer = None;
            self.expire_pending_sync(generation, now);
        }
        self.expire_pending_members(now);
        self.expire_sessions(now);
    }

    /// Members that got their join response but never sent SyncGroup are removed and the group
    /// rebalances without them.
    fn expire_pending_sync(&mut self, generation: i32, now: u64) {
        if generation != self.generation
            || !matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            )
            || self.pending_sync.is_empty()
        {
            return;
        }
        let late: Vec<String> = self.pending_sync.iter().cloned().collect();
        tracing::info!(group = %self.id, members = ?late, "removing members that did not send SyncGroup in time");
        for id in &late {
            self.remove_member(id);
        }
        self.prepare_rebalance(now);
    }

    fn expire_pending_members(&mut self, now: u64) {
        let expired: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in &expired {
            self.pending_members.remove(id);
        }
        if self.state == GroupState::PreparingRebalance && self.has_all_members_joined() {
            self.complete_join_phase(now);
        }
    }

    fn expire_sessions(&mut self, now: u64) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expires_at <= now)
            // A member parked in JoinGroup or SyncGroup is alive by definition; only a new
            // member (which may have given up on its first join) can expire while parked.
            .filter(|m| m.is_new || !(m.is_awaiting_join() || m.is_awaiting_sync()))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            // An earlier removal may have completed a join phase that dropped this one too.
            if !self.members.contains_key(&id) {
                continue;
            }
            tracing::info!(group = %self.id, member = %id, "member session expired");
            self.remove_member_and_rebalance(&id, now);
        }
    }

    /// The earliest deadline this group has, for the coordinator's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.is_new || !(m.is_awaiting_join() || m.is_awaiting_sync()))
            .map(|m| m.expires_at);
        let pending = self.pending_members.values().copied();
        let timers = self
            .join_timer
            .map(JoinTimer::at)
            .into_iter()
            .chain(self.sync_timer.map(|(at, _)| at));
        sessions.chain(pending).chain(timers).min()
    }
}
