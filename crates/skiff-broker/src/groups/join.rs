//! JoinGroup: new members (with the MEMBER_ID_REQUIRED round trip of v4+), rejoining
//! members, and static members replacing their previous incarnation.

use tokio::sync::oneshot;

use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::member::{Member, Protocol};
use super::outcome::{JoinReply, JoinResult};
use super::state::GroupState;
use super::store_request::StorePurpose;

/// A JoinGroup request, already checked for a valid session timeout.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// v4+: a new dynamic member first gets an id and must rejoin with it.
    pub require_known_member_id: bool,
    /// v9+: a rejoining static leader may be told to skip the assignment.
    pub supports_skip_assignment: bool,
}

impl ClassicGroup {
    pub fn join(&mut self, request: JoinRequest, now: u64) -> JoinReply {
        if !self.accepts_joining_member(&request.member_id) {
            // Kafka drops the member too, so the last ones to rejoin a shrunk group leave it.
            self.remove_member(&request.member_id);
            return JoinReply::Ready(JoinResult::failed(
                CoordinatorError::GroupMaxSizeReached,
                "",
            ));
        }
        if self.state == GroupState::Dead {
            return JoinReply::Ready(JoinResult::failed(
                CoordinatorError::CoordinatorNotAvailable,
                &request.member_id,
            ));
        }
        let member_id_for_errors = request.member_id.clone();
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            return JoinReply::Ready(JoinResult::failed(
                CoordinatorError::InconsistentGroupProtocol,
                &member_id_for_errors,
            ));
        }
        if request.member_id.is_empty() {
            self.join_new_member(request, now)
        } else {
            self.join_existing_member(request, now)
        }
    }

    fn accepts_joining_member(&self, member_id: &str) -> bool {
        let max = self.config.max_size;
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            // Counting members that already rejoined (not all members) lets the last
            // rejoiners of a group over its limit be the ones turned away.
            GroupState::PreparingRebalance => {
                self.members
                    .get(member_id)
                    .is_some_and(Member::is_awaiting_join)
                    || self.awaiting_join_count < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.members.contains_key(member_id) || self.members.len() < max
            }
        }
    }

    fn join_new_member(&mut self, request: JoinRequest, now: u64) -> JoinReply {
        let prefix = request.instance_id.as_deref().unwrap_or(&request.client_id);
        let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        if let Some(instance) = request.instance_id.clone() {
            return match self.static_members.get(&instance).cloned() {
                Some(old_id) => {
                    self.replace_static_and_rejoin(request, &instance, &old_id, &new_id, now)
                }
                None => self.add_member_and_rebalance(request, new_id, now),
            };
        }
        if request.require_known_member_id {
            // Ids handed out but not yet used cost memory until they expire; a client looping
            // on empty-id joins must not grow them without limit.
            if self.pending_members.len() >= self.config.max_size {
                return JoinReply::Ready(JoinResult::failed(
                    CoordinatorError::GroupMaxSizeReached,
                    "",
                ));
            }
            let expires_at = now.saturating_add(request.session_timeout_ms);
            self.pending_members.insert(new_id.clone(), expires_at);
            self.hint(expires_at);
            return JoinReply::Ready(JoinResult::failed(
                CoordinatorError::MemberIdRequired,
                &new_id,
            ));
        }
        self.add_member_and_rebalance(request, new_id, now)
    }

    fn join_existing_member(&mut self, request: JoinRequest, now: u64) -> JoinReply {
        let member_id = request.member_id.clone();
        if self.pending_members.contains_key(&member_id) {
            // Pending ids are only handed to dynamic members.
            if request.instance_id.is_some() {
                return JoinReply::Ready(JoinResult::failed(
                    CoordinatorError::UnknownMemberId,
                    &member_id,
                ));
            }
            return self.add_member_and_rebalance(request, member_id, now);
        }
        if let Err(error) = self.validate_member(&member_id, request.instance_id.as_deref()) {
            return JoinReply::Ready(JoinResult::failed(error, &member_id));
        }
        let is_leader = self.is_leader(&member_id);
        let unchanged = self
            .members
            .get(&member_id)
            .is_some_and(|m| m.matches(&request.protocols));
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(request, now),
            // Same metadata: the client most likely lost the join response; send it again.
            GroupState::CompletingRebalance if unchanged => JoinReply::Ready(
                self.generation_result(&member_id, self.leader.as_deref(), is_leader, false),
            ),
            GroupState::CompletingRebalance => self.update_member_and_rebalance(request, now),
            // The leader rejoining forces a rebalance (it may have seen new topics); a follower
            // with unchanged metadata just gets the current generation and syncs again.
            GroupState::Stable if is_leader || !unchanged => {
                self.update_member_and_rebalance(request, now)
            }
            GroupState::Stable => JoinReply::Ready(self.generation_result(
                &member_id,
                self.leader.as_deref(),
                false,
                false,
            )),
            GroupState::Empty | GroupState::Dead => JoinReply::Ready(JoinResult::failed(
                CoordinatorError::UnknownMemberId,
                &member_id,
            )),
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        request: JoinRequest,
        member_id: String,
        now: u64,
    ) -> JoinReply {
        let (responder, receiver) = oneshot::channel();
        // A member cannot heartbeat before its first join response, so only this (long) timeout
        // removes it if the client gave up on the request.
        let expires_at = now.saturating_add(self.config.new_member_join_timeout_ms);
        let member = Member {
            id: member_id,
            instance_id: request.instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocols: request.protocols,
            assignment: Default::default(),
            awaiting_join: Some(responder),
            awaiting_sync: None,
            is_new: true,
            heard_here: true,
            expires_at,
        };
        self.hint(expires_at);
        if self.state == GroupState::PreparingRebalance && self.previous_state == GroupState::Empty
        {
            self.new_member_added = true;
        }
        self.add_member(member, &request.protocol_type);
        self.maybe_prepare_rebalance_or_complete_join(now);
        JoinReply::Parked(receiver)
    }

    fn update_member_and_rebalance(&mut self, request: JoinRequest, now: u64) -> JoinReply {
        let (responder, receiver) = oneshot::channel();
        self.update_member(
            &request.member_id,
            request.protocols,
            request.rebalance_timeout_ms,
            request.session_timeout_ms,
            Some(responder),
        );
        self.maybe_prepare_rebalance_or_complete_join(now);
        JoinReply::Parked(receiver)
    }

    /// A static member restarted (it has no member id): it takes over its old entry under a
    /// new id. In a Stable group whose protocol would not change there is no rebalance: the
    /// new id is stored, then the member gets the current generation and syncs to receive its
    /// old assignment.
    fn replace_static_and_rejoin(
        &mut self,
        request: JoinRequest,
        instance_id: &str,
        old_id: &str,
        new_id: &str,
        now: u64,
    ) -> JoinReply {
        let previous_leader = self.leader.clone();
        self.replace_static_member(instance_id, old_id, new_id);
        if let Some(member) = self.members.get_mut(new_id) {
            member.session_timeout_ms = request.session_timeout_ms;
            member.touch(now);
            member.client_id = request.client_id.clone();
            member.client_host = request.client_host.clone();
        }
        let (responder, receiver) = oneshot::channel();
        self.update_member(
            new_id,
            request.protocols,
            request.rebalance_timeout_ms,
            request.session_timeout_ms,
            Some(responder),
        );
        match self.state {
            GroupState::Stable => {
                if self.select_protocol() == self.protocol {
                    self.request_store(
                        StorePurpose::StaticRejoin {
                            generation: self.generation,
                            member_id: new_id.to_string(),
                            previous_leader,
                            supports_skip_assignment: request.supports_skip_assignment,
                        },
                        None,
                    );
                } else {
                    self.maybe_prepare_rebalance_or_complete_join(now);
                }
            }
            // The leader may already have the old id in its assignment: rebalance so the new
            // id gets one.
            GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance => self.maybe_complete_join_phase(now),
            // A static member is a member, so the group cannot be Empty; Dead was refused above.
            GroupState::Empty | GroupState::Dead => {
                self.complete_join(
                    new_id,
                    JoinResult::failed(CoordinatorError::UnknownMemberId, new_id),
                );
            }
        }
        JoinReply::Parked(receiver)
    }

    /// Answers a static member's rejoin once its new member id is stored (or failed to be).
    pub(super) fn finish_static_rejoin(
        &mut self,
        generation: i32,
        member_id: &str,
        previous_leader: Option<&str>,
        supports_skip_assignment: bool,
        stored: Result<(), CoordinatorError>,
    ) {
        let waiting = self
            .members
            .get(member_id)
            .is_some_and(Member::is_awaiting_join);
        if !waiting || generation != self.generation || self.state != GroupState::Stable {
            // A rebalance started meanwhile; it answers the member when its join phase ends.
            return;
        }
        let result = match stored {
            Err(error) => JoinResult::failed(error, ""),
            Ok(()) if supports_skip_assignment => {
                // The leader gets the members (to refresh its view) but must not reassign:
                // a Stable group never broadcasts a new assignment.
                let is_leader = self.is_leader(member_id);
                self.generation_result(member_id, self.leader.as_deref(), is_leader, is_leader)
            }
            // Older clients would assign if they saw themselves as leader, so they are told
            // the previous leader id, which never matches their new id.
            Ok(()) => self.generation_result(member_id, previous_leader, false, false),
        };
        self.complete_join(member_id, result);
    }
}
