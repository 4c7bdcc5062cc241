//! Where consumed records come from. Today: partitions assigned by the command itself
//! (`--partition`, or all). A consumer-group source (`--group G`) implements the same trait:
//! it joins the group, reads the partitions the group assigns, and commits in `processed`.

use skiff_client::{ClientError, ConsumedRecord, FetchConfig, Fetcher, KafkaClient};

use super::start::PartitionRange;

pub trait RecordSource {
    /// The next records (possibly none after a long-poll).
    async fn next_batch(&mut self) -> Result<Vec<ConsumedRecord>, ClientError>;

    /// True when, without --follow, everything there was at the start has been read.
    fn caught_up(&self) -> bool;

    /// Called once the records of the last batch have been written out (where a group
    /// source commits their offsets).
    async fn processed(&mut self) -> Result<(), ClientError>;
}

/// Reads a fixed set of partitions from chosen offsets, committing nothing.
pub struct AssignedSource {
    fetcher: Fetcher,
    /// Each partition's end offset when reading began.
    ends: Vec<(i32, i64)>,
}

impl AssignedSource {
    pub fn new(
        client: KafkaClient,
        topic: &str,
        ranges: &[PartitionRange],
        config: FetchConfig,
    ) -> Self {
        let mut fetcher = Fetcher::new(client, config);
        for range in ranges {
            fetcher.assign(topic, range.partition, range.start);
        }
        AssignedSource {
            fetcher,
            ends: ranges.iter().map(|r| (r.partition, r.end)).collect(),
        }
    }
}

impl RecordSource for AssignedSource {
    async fn next_batch(&mut self) -> Result<Vec<ConsumedRecord>, ClientError> {
        self.fetcher.poll().await
    }

    fn caught_up(&self) -> bool {
        self.fetcher.positions().iter().all(|p| {
            self.ends
                .iter()
                .find(|(partition, _)| *partition == p.partition)
                .is_none_or(|(_, end)| p.offset >= *end)
        })
    }

    async fn processed(&mut self) -> Result<(), ClientError> {
        Ok(())
    }
}
