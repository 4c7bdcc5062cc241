//! skiff-storage: the segment object format, object store access, and the chunk cache.

mod cache;
mod error;
pub mod metric_names;
pub mod segment;
mod store;

pub use cache::{CacheConfig, CacheStats, ChunkCache, ChunkKey};
pub use error::{SegmentError, StorageError};
pub use metric_names::describe_metrics;
pub use segment::{
    ChunkLocation, ChunkMeta, EncodedSegment, SegmentBuilder, SegmentFooter, decode_footer,
    segment_path,
};
pub use store::{MeteredStore, ObjectInfo, SegmentStore, StoreConfig, StoreStats};

/// Re-exported so callers name object paths without depending on object_store directly.
pub use object_store::path::Path as ObjectPath;
