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

/// Object ids from here up are not objects: the entry is a transaction marker (see
/// [`TxnMarker`]). Real object ids count up from 0 and never get near 2^63.
pub const MARKER_OBJECT_ID: u64 = 1 << 63;
const MARKER_COMMIT_BIT: u64 = 1 << 16;

/// Bytes of the control batch a marker is served as (61-byte header and one 17-byte record);
/// what a marker entry counts towards the partition's size.
pub const MARKER_BATCH_LEN: u32 = 78;

/// A COMMIT or ABORT control record that EndTxn wrote at one offset of a partition. It is
/// fully determined by these fields, so it is kept in the index itself (an entry whose
/// `object_id` is [`MARKER_OBJECT_ID`] with the control type and epoch in its low bits and
/// whose `position` is the producer id) and has no object: readers build its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub offset: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub timestamp: i64,
}

impl TxnMarker {
    /// Kafka's coordinator epoch guards against a stale coordinator writing markers; here the
    /// markers are written by the apply that ends the transaction, so there is no stale one.
    pub const COORDINATOR_EPOCH: i32 = 0;
}

impl IndexEntry {
    /// The index entry holding `marker`.
    pub fn marker(marker: TxnMarker) -> IndexEntry {
        let commit = if marker.commit { MARKER_COMMIT_BIT } else { 0 };
        IndexEntry {
            base_offset: marker.offset,
            last_offset: marker.offset,
            // The epoch's 16 bits as they are (a negative epoch never reaches a marker).
            object_id: MARKER_OBJECT_ID | commit | u64::from(marker.producer_epoch as u16),
            // Producer ids are never negative in a transaction.
            position: marker.producer_id as u64,
            len: MARKER_BATCH_LEN,
            max_timestamp: marker.timestamp,
        }
    }

    /// Whether the entry is a transaction marker rather than bytes of an object.
    pub fn is_marker(&self) -> bool {
        self.object_id >= MARKER_OBJECT_ID
    }

    /// The marker this entry holds, if it is one.
    pub fn as_marker(&self) -> Option<TxnMarker> {
        self.is_marker().then_some(TxnMarker {
            offset: self.base_offset,
            producer_id: self.position as i64,
            producer_epoch: (self.object_id & 0xffff) as u16 as i16,
            commit: self.object_id & MARKER_COMMIT_BIT != 0,
            timestamp: self.max_timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_entry_round_trips_and_is_never_an_object() {
        for (commit, epoch) in [(true, 0), (false, 7), (true, i16::MAX)] {
            let marker = TxnMarker {
                offset: 42,
                producer_id: 1_000_123,
                producer_epoch: epoch,
                commit,
                timestamp: 1_700_000_000_000,
            };
            let entry = IndexEntry::marker(marker);
            assert!(entry.is_marker());
            assert_eq!(entry.as_marker(), Some(marker));
            assert_eq!((entry.base_offset, entry.last_offset), (42, 42));
        }
        let stored = IndexEntry {
            base_offset: 0,
            last_offset: 9,
            object_id: 12,
            position: 0,
            len: 100,
            max_timestamp: 0,
        };
        assert!(!stored.is_marker());
        assert_eq!(stored.as_marker(), None);
    }
}
