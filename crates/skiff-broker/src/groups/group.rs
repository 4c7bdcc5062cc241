//! A classic consumer group's in-memory state and the membership bookkeeping every operation
//! shares. The operations themselves live in `join.rs`, `sync.rs`, `rebalance.rs` and
//! `admin.rs`; all of them are synchronous and take the coordinator's clock as `now` (ms), so
//! the whole state machine runs under tests without a runtime or real time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use super::config::GroupConfig;
use super::error::CoordinatorError;
use super::member::{Member, Protocol};
use super::outcome::{JoinResult, JoinedMember, SyncResult};
use super::state::GroupState;
use super::store_request::StoreRequest;
use super::subscription::subscribed_topics;

/// The protocol type standard Kafka consumers use.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// When the join phase ends if not every member has rejoined by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JoinTimer {
    /// The first rebalance of an empty group waits `delay` (extended while members keep
    /// arriving, up to `remaining` more).
    Initial {
        at: u64,
        delay: u64,
        remaining: u64,
    },
    Rebalance {
        at: u64,
    },
}

impl JoinTimer {
    pub(super) fn at(self) -> u64 {
        match self {
            JoinTimer::Initial { at, .. } | JoinTimer::Rebalance { at } => at,
        }
    }
}

#[derive(Debug)]
pub struct ClassicGroup {
    pub(super) id: String,
    pub(super) config: Arc<GroupConfig>,
    pub(super) state: GroupState,
    pub(super) previous_state: GroupState,
    pub(super) generation: i32,
    pub(super) protocol_type: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) leader: Option<String>,
    /// Ordered by id, so leader re-election and member lists are deterministic.
    pub(super) members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    pub(super) static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the time they expire unless used.
    pub(super) pending_members: BTreeMap<String, u64>,
    /// Members that got the current generation's join response but have not sent SyncGroup.
    pub(super) pending_sync: BTreeSet<String>,
    /// How many members support each protocol name.
    pub(super) supported_protocols: HashMap<String, usize>,
    pub(super) awaiting_join_count: usize,
    pub(super) new_member_added: bool,
    pub(super) join_timer: Option<JoinTimer>,
    /// (deadline, generation) for members to send SyncGroup.
    pub(super) sync_timer: Option<(u64, i32)>,
    /// `None` when unknown (not the consumer protocol, or metadata that does not parse).
    pub(super) subscribed_topics: Option<BTreeSet<String>>,
    /// The leader's assignment, held until the controller has stored it.
    pub(super) pending_assignment: Option<(i32, BTreeMap<String, Bytes>)>,
    /// Writes for the coordinator to send to the controller after the current operation.
    pub(super) outbox: Vec<StoreRequest>,
    /// The placement epoch at which this broker loaded the group; every write for the group
    /// carries it, so a coordinator that lost the group since is fenced at the controller.
    pub(super) loaded_at: u64,
    pub(super) stores_in_flight: u32,
    /// The earliest deadline set since the coordinator last looked (it may need to wake
    /// earlier than it planned).
    pub(super) wake_hint: Option<u64>,
}

impl ClassicGroup {
    /// A new, empty group.
    pub fn new(id: &str, config: Arc<GroupConfig>) -> ClassicGroup {
        ClassicGroup {
            id: id.to_string(),
            config,
            state: GroupState::Empty,
            previous_state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            supported_protocols: HashMap::new(),
            awaiting_join_count: 0,
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            subscribed_topics: None,
            pending_assignment: None,
            outbox: Vec::new(),
            loaded_at: 0,
            stores_in_flight: 0,
            wake_hint: None,
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    #[cfg(test)]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    #[cfg(test)]
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    #[cfg(test)]
    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    #[cfg(test)]
    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.static_members.get(instance_id).map(String::as_str)
    }

    #[cfg(test)]
    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_members.contains_key(member_id)
    }

    pub(super) fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The writes this group wants persisted; the coordinator sends them to the controller.
    pub fn take_stores(&mut self) -> Vec<StoreRequest> {
        std::mem::take(&mut self.outbox)
    }

    pub fn take_wake_hint(&mut self) -> Option<u64> {
        self.wake_hint.take()
    }

    pub(super) fn hint(&mut self, at: u64) {
        self.wake_hint = Some(self.wake_hint.map_or(at, |h| h.min(at)));
    }

    pub(super) fn transition(&mut self, to: GroupState) {
        self.previous_state = self.state;
        self.state = to;
    }

    /// Only these states may start a rebalance (the others already are in one, or are dead).
    pub(super) fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        )
    }

    /// The longest rebalance timeout of any member: how long the join phase may take.
    pub(super) fn rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.awaiting_join_count && self.pending_members.is_empty()
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    /// Whether a member with these protocols could join: an empty group takes any non-empty
    /// set; otherwise the type must match and one protocol must be supported by every member.
    pub(super) fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.supported_protocols.get(name).copied().unwrap_or(0) == self.members.len()
            })
    }

    /// The protocol with the most votes among those every member supports (ties go to the
    /// lexically smallest name, so the choice is deterministic).
    pub(super) fn select_protocol(&self) -> Option<String> {
        let member_count = self.members.len();
        let mut candidates: Vec<&str> = self
            .supported_protocols
            .iter()
            .filter(|(_, count)| **count == member_count)
            .map(|(name, _)| name.as_str())
            .collect();
        candidates.sort_unstable();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(choice) = member.vote(&candidates) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, count)| *count == most)
            .map(|(name, _)| name.to_string())
    }

    pub(super) fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            topics.extend(subscribed_topics(member.metadata(protocol)?)?);
        }
        Some(topics)
    }

    /// Whether a live member may still be consuming `topic`. Unknown subscriptions of a
    /// consumer-protocol group count as subscribed, so offsets are never deleted under one.
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    /// The member id must exist; with a group.instance.id it must also be that instance's
    /// current member id.
    pub(super) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), CoordinatorError> {
        if let Some(instance) = instance_id {
            match self.static_members.get(instance) {
                None => return Err(CoordinatorError::UnknownMemberId),
                Some(current) if current != member_id => {
                    return Err(CoordinatorError::FencedInstanceId);
                }
                Some(_) => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(CoordinatorError::UnknownMemberId)
        }
    }

    /// Adds a member; the first member of an empty group sets the group's protocol type.
    pub(super) fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_string());
        }
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        for (name, _) in &member.protocols {
            *self.supported_protocols.entry(name.clone()).or_default() += 1;
        }
        if member.is_awaiting_join() {
            self.awaiting_join_count += 1;
        }
        self.pending_members.remove(&member.id);
        self.members.insert(member.id.clone(), member);
    }

    pub(super) fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let removed = self.members.remove(member_id);
        if let Some(member) = &removed {
            self.forget_protocols(&member.protocols.clone());
            if member.is_awaiting_join() {
                self.awaiting_join_count = self.awaiting_join_count.saturating_sub(1);
            }
            if let Some(instance) = &member.instance_id {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
        self.pending_members.remove(member_id);
        self.pending_sync.remove(member_id);
        removed
    }

    fn forget_protocols(&mut self, protocols: &[Protocol]) {
        for (name, _) in protocols {
            if let Some(count) = self.supported_protocols.get_mut(name) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.supported_protocols.remove(name);
                }
            }
        }
    }

    /// New protocols, timeouts and (optionally) a parked join for an existing member.
    pub(super) fn update_member(
        &mut self,
        member_id: &str,
        protocols: Vec<Protocol>,
        rebalance_timeout_ms: u64,
        session_timeout_ms: u64,
        responder: Option<super::outcome::JoinResponder>,
    ) {
        let Some(old_protocols) = self.members.get(member_id).map(|m| m.protocols.clone()) else {
            return;
        };
        self.forget_protocols(&old_protocols);
        for (name, _) in &protocols {
            *self.supported_protocols.entry(name.clone()).or_default() += 1;
        }
        let mut counted = 0isize;
        if let Some(member) = self.members.get_mut(member_id) {
            member.protocols = protocols;
            member.rebalance_timeout_ms = rebalance_timeout_ms;
            member.session_timeout_ms = session_timeout_ms;
            match (member.is_awaiting_join(), responder.is_some()) {
                (false, true) => counted = 1,
                (true, false) => counted = -1,
                _ => {}
            }
            // A second JoinGroup replaces the first; dropping the old responder answers that
            // request with a retriable error.
            member.awaiting_join = responder;
        }
        match counted {
            1 => self.awaiting_join_count += 1,
            -1 => self.awaiting_join_count = self.awaiting_join_count.saturating_sub(1),
            _ => {}
        }
    }

    /// Gives a static member a new member id, keeping its place, protocols and assignment.
    /// Requests still parked under the old id are fenced.
    pub(super) fn replace_static_member(&mut self, instance_id: &str, old_id: &str, new_id: &str) {
        let Some(mut member) = self.members.remove(old_id) else {
            return;
        };
        let fenced = JoinResult {
            error: Some(CoordinatorError::FencedInstanceId),
            member_id: old_id.to_string(),
            generation_id: -1,
            ..JoinResult::default()
        };
        if member.complete_join(fenced) {
            self.awaiting_join_count = self.awaiting_join_count.saturating_sub(1);
        }
        member.complete_sync(SyncResult::failed(CoordinatorError::FencedInstanceId));
        member.id = new_id.to_string();
        if self.is_leader(old_id) {
            self.leader = Some(new_id.to_string());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.to_string());
        }
        self.static_members
            .insert(instance_id.to_string(), new_id.to_string());
        self.members.insert(new_id.to_string(), member);
    }

    /// Sends a join answer to a member waiting for one, keeping the count in step.
    pub(super) fn complete_join(&mut self, member_id: &str, result: JoinResult) -> bool {
        let completed = self
            .members
            .get_mut(member_id)
            .is_some_and(|m| m.complete_join(result));
        if completed {
            self.awaiting_join_count = self.awaiting_join_count.saturating_sub(1);
        }
        completed
    }

    /// Every member with its metadata for the selected protocol, as the leader receives them.
    pub(super) fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// The current generation as a join response for `member_id`.
    pub(super) fn generation_result(
        &self,
        member_id: &str,
        leader: Option<&str>,
        with_members: bool,
        skip_assignment: bool,
    ) -> JoinResult {
        JoinResult {
            error: None,
            member_id: member_id.to_string(),
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: leader.unwrap_or_default().to_string(),
            skip_assignment,
            members: if with_members {
                self.joined_members()
            } else {
                Vec::new()
            },
        }
    }

    /// Dropped from memory only when nothing about it lives only here: no members, nothing
    /// pending, nothing waiting to be stored.
    pub fn is_evictable(&self) -> bool {
        matches!(self.state, GroupState::Empty | GroupState::Dead)
            && self.members.is_empty()
            && self.pending_members.is_empty()
            && self.stores_in_flight == 0
            && self.outbox.is_empty()
    }
}
