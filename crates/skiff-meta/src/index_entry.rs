//! The unit of the offset→object index: a leaf type shared by the commands that report index
//! changes and the state that keeps them.

use serde::{Deserialize, Serialize};

/// A run of consecutive batches of one partition stored back to back in one object.
/// Fixed-size and string-free so millions of them stay cheap to hold and snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub base_offset: i64,
    /// Inclusive.
    pub last_offset: i64,
    pub object_id: u64,
    /// Byte offset of the first batch in the object.
    pub position: u64,
    /// Bytes covered, from the first batch's start to the last batch's end.
    pub len: u32,
    pub max_timestamp: i64,
}
