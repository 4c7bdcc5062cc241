//! What join and sync rounds answer, and the channels parked requests wait on.

use bytes::Bytes;
use tokio::sync::oneshot;

use super::error::CoordinatorError;

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinResult {
    pub error: Option<CoordinatorError>,
    pub member_id: String,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    /// Filled for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn failed(error: CoordinatorError, member_id: &str) -> JoinResult {
        JoinResult {
            error: Some(error),
            member_id: member_id.to_string(),
            generation_id: -1,
            ..JoinResult::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncResult {
    pub error: Option<CoordinatorError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn failed(error: CoordinatorError) -> SyncResult {
        SyncResult {
            error: Some(error),
            ..SyncResult::default()
        }
    }
}

pub type JoinResponder = oneshot::Sender<JoinResult>;
pub type SyncResponder = oneshot::Sender<SyncResult>;

/// A JoinGroup answered at once or parked until the join phase completes.
#[derive(Debug)]
pub enum JoinReply {
    Ready(JoinResult),
    Parked(oneshot::Receiver<JoinResult>),
}

/// A SyncGroup answered at once or parked until the leader's assignment is stored.
#[derive(Debug)]
pub enum SyncReply {
    Ready(SyncResult),
    Parked(oneshot::Receiver<SyncResult>),
}
