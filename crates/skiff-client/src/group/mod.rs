//! Consumer-group membership over the classic protocol, interoperable with stock clients in
//! the same group: protocol type `consumer`, the `range` assignor and the standard
//! ConsumerProtocol subscription and assignment encodings.

pub mod assignor;
mod coordinator;
mod heartbeat;
mod membership;
pub(crate) mod requests;

pub use heartbeat::RejoinReason;
pub use membership::{
    GroupGeneration, GroupMembership, JoinedGroup, MembershipConfig, default_heartbeat_interval,
};
