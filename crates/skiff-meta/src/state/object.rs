//! Segment objects known to the controller.

use serde::{Deserialize, Serialize};

/// A committed segment object. `live_entries` counts the index entries that still point into
/// it; at zero the object is garbage once running fetches have finished with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub broker_id: i32,
    pub created_ms: i64,
    pub live_entries: u32,
}
