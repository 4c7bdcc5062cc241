//! Where consumed records come from: partitions assigned by the command itself (`--partition`,
//! or all), or, with `--group G`, the partitions a consumer group assigns
//! ([`super::group_source::GroupSource`], which commits what was processed).

use skiff_client::{ClientError, ConsumedRecord, FetchConfig, Fetcher, KafkaClient};

use super::start::PartitionRange;

pub trait RecordSource {
    /// The next records (possibly none after a long-poll).
    async fn next_batch(&mut self) -> Result<Vec<ConsumedRecord>, ClientError>;

    /// True when, without --follow, everything there was at the start has been read.
    fn caught_up(&self) -> bool;

    /// Called after each batch with the records of it that were written out (a prefix of
    /// the batch: a record limit or a closed output may cut it short), where a group source
    /// notes their offsets for its next commit.
    async fn processed(&mut self, written: &[ConsumedRecord]) -> Result<(), ClientError>;

    /// Called once at the end, however reading ended (a group source commits and leaves).
    async fn close(&mut self) -> Result<(), ClientError>;
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

    async fn processed(&mut self, _written: &[ConsumedRecord]) -> Result<(), ClientError> {
        Ok(())
    }

    async fn close(&mut self) -> Result<(), ClientError> {
        Ok(())
    }
}
