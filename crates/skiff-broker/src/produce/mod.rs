//! The write path: produce requests append validated batches to one pending segment shared by
//! all partitions; the flusher uploads it as one object and commits it to the controller in one
//! proposal; only then are the producers answered.

mod buffer;
mod failure;
mod flusher;

pub use buffer::{
    AppendTicket, PartitionAppend, PartitionKey, ProduceBuffer, SegmentOutcome, SegmentWaiter,
};
pub use failure::FlushFailure;
pub use flusher::{FlushDeps, Flusher};
