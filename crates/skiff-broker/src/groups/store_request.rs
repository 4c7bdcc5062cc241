//! A snapshot of a group's generation on its way to the controller, and what the group does
//! once it is stored.

use skiff_meta::StoredGroup;

/// Why a snapshot is being stored: the group reacts to the outcome differently for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorePurpose {
    /// The leader's assignment for `generation`; members get it once it is stored.
    Assignment { generation: i32 },
    /// The group became empty; nothing waits on this.
    Empty,
    /// A static member rejoined under a new member id without a rebalance; its JoinGroup is
    /// answered once the new id is stored.
    StaticRejoin {
        generation: i32,
        member_id: String,
        /// The leader before the replacement (what pre-v9 clients must be told).
        previous_leader: Option<String>,
        supports_skip_assignment: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRequest {
    pub group: StoredGroup,
    pub purpose: StorePurpose,
    /// The placement epoch at which this broker loaded the group: the controller stores the
    /// snapshot only if this broker coordinated the group throughout since then.
    pub loaded_at: u64,
}
