//! The membership requests — JoinGroup, SyncGroup, Heartbeat, LeaveGroup — filled for the
//! version negotiated with the coordinator (fields a version cannot carry are left unset).

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};

use crate::admin::str_bytes;

/// The protocol type every Kafka consumer uses; members of one group must agree on it.
pub(crate) const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The one assignor this client offers (and librdkafka's and Java's default first choice).
pub(crate) const RANGE_ASSIGNOR: &str = "range";

/// Who is asking, in a generation: what SyncGroup, Heartbeat and LeaveGroup carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberRef<'a> {
    pub group_id: &'a str,
    pub member_id: &'a str,
    pub generation_id: i32,
}

pub(crate) struct JoinParams<'a> {
    pub group_id: &'a str,
    pub member_id: &'a str,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub subscription: Bytes,
    pub reason: &'a str,
}

pub(crate) fn join_group_request(params: &JoinParams<'_>, version: i16) -> JoinGroupRequest {
    let mut protocol = JoinGroupRequestProtocol::default();
    protocol.name = str_bytes(RANGE_ASSIGNOR);
    protocol.metadata = params.subscription.clone();
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(str_bytes(params.group_id));
    request.session_timeout_ms = params.session_timeout_ms;
    request.rebalance_timeout_ms = params.rebalance_timeout_ms;
    request.member_id = str_bytes(params.member_id);
    request.protocol_type = str_bytes(CONSUMER_PROTOCOL_TYPE);
    request.protocols = vec![protocol];
    if version >= 8 {
        request.reason = Some(str_bytes(params.reason));
    }
    request
}

/// The leader sends every member's assignment; followers send none.
pub(crate) fn sync_group_request(
    member: MemberRef<'_>,
    assignments: Vec<(String, Bytes)>,
    version: i16,
) -> SyncGroupRequest {
    let mut request = SyncGroupRequest::default();
    request.group_id = GroupId(str_bytes(member.group_id));
    request.generation_id = member.generation_id;
    request.member_id = str_bytes(member.member_id);
    if version >= 5 {
        request.protocol_type = Some(str_bytes(CONSUMER_PROTOCOL_TYPE));
        request.protocol_name = Some(str_bytes(RANGE_ASSIGNOR));
    }
    request.assignments = assignments
        .into_iter()
        .map(|(member_id, assignment)| {
            let mut entry = SyncGroupRequestAssignment::default();
            entry.member_id = str_bytes(&member_id);
            entry.assignment = assignment;
            entry
        })
        .collect();
    request
}

pub(crate) fn heartbeat_request(member: MemberRef<'_>) -> HeartbeatRequest {
    let mut request = HeartbeatRequest::default();
    request.group_id = GroupId(str_bytes(member.group_id));
    request.generation_id = member.generation_id;
    request.member_id = str_bytes(member.member_id);
    request
}

/// Before v3 a member names itself; from v3 on requests carry a list of leaving members.
pub(crate) fn leave_group_request(
    group_id: &str,
    member_id: &str,
    version: i16,
) -> LeaveGroupRequest {
    let mut request = LeaveGroupRequest::default();
    request.group_id = GroupId(str_bytes(group_id));
    if version >= 3 {
        let mut member = MemberIdentity::default();
        member.member_id = str_bytes(member_id);
        if version >= 5 {
            member.reason = Some(str_bytes("the consumer is closing"));
        }
        request.members = vec![member];
    } else {
        request.member_id = str_bytes(member_id);
    }
    request
}
