//! The read path: find the index entries that hold an offset, read their bytes through the
//! cache (memory, disk, then one ranged GET), and cut whole batches out of them.

mod chunk_source;
mod partition_read;
mod timestamp;

pub use chunk_source::ChunkSource;
pub use partition_read::{
    PartitionReadPlan, PlannedEntry, ReadError, plan_partition_read, slice_batches,
};
pub use timestamp::{offset_for_max_timestamp, offset_for_timestamp};
