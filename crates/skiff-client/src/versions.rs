//! The API versions this client knows how to fill, and the choice of version per broker.

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;

/// One API this client can send, with the versions whose fields it fills correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownApi {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> KnownApi {
    KnownApi { key, min, max }
}

/// Every request this crate builds, with the version range its builders are tested at.
/// Upper bounds stop where a version would need something this client does not track
/// (topic ids in Produce 13 and Fetch 13+, KIP-848 member epochs, multi-group OffsetFetch).
pub const KNOWN_APIS: &[KnownApi] = &[
    api(ApiKey::ApiVersions, 0, 3),
    // v1: the SASL tokens travel in SaslAuthenticate, not as bare frames.
    api(ApiKey::SaslHandshake, 1, 1),
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::Metadata, 1, 12),
    api(ApiKey::Produce, 3, 11),
    api(ApiKey::Fetch, 4, 12),
    api(ApiKey::ListOffsets, 1, 8),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DescribeCluster, 0, 1),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::ListGroups, 0, 4),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::OffsetFetch, 1, 7),
    api(ApiKey::OffsetCommit, 2, 8),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::DescribeUserScramCredentials, 0, 0),
    api(ApiKey::AlterUserScramCredentials, 0, 0),
    api(ApiKey::DescribeAcls, 1, 3),
    api(ApiKey::CreateAcls, 1, 3),
    api(ApiKey::DeleteAcls, 1, 3),
];

pub(crate) fn known(key: ApiKey) -> Option<KnownApi> {
    KNOWN_APIS.iter().copied().find(|a| a.key == key)
}

/// What one broker said it supports (its ApiVersions answer).
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

impl BrokerVersions {
    pub(crate) fn new(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        BrokerVersions {
            ranges: ranges
                .into_iter()
                .map(|(key, min, max)| (key, (min, max)))
                .collect(),
        }
    }

    /// The highest version both sides support, if any.
    pub(crate) fn pick(&self, key: ApiKey) -> Option<i16> {
        let ours = known(key)?;
        let &(their_min, their_max) = self.ranges.get(&(key as i16))?;
        let version = ours.max.min(their_max);
        (version >= ours.min.max(their_min)).then_some(version)
    }

    pub(crate) fn supports(&self, key: ApiKey) -> bool {
        self.pick(key).is_some()
    }
}

/// A short name for an API, for messages.
pub(crate) fn api_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::DescribeLogDirs => "DescribeLogDirs",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::DescribeUserScramCredentials => "DescribeUserScramCredentials",
        ApiKey::AlterUserScramCredentials => "AlterUserScramCredentials",
        ApiKey::DescribeAcls => "DescribeAcls",
        ApiKey::CreateAcls => "CreateAcls",
        ApiKey::DeleteAcls => "DeleteAcls",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        _ => "Kafka",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_range_is_within_the_codec() {
        for a in KNOWN_APIS {
            let codec = a.key.valid_versions();
            assert!(a.min <= a.max, "{:?}", a.key);
            assert!(
                codec.min <= a.min && a.max <= codec.max,
                "{:?}: ours {}..{} vs codec {codec}",
                a.key,
                a.min,
                a.max
            );
            assert_ne!(api_name(a.key), "Kafka", "{:?} needs a name", a.key);
        }
    }

    #[test]
    fn the_highest_common_version_is_picked() {
        let broker = BrokerVersions::new([
            (ApiKey::Fetch as i16, 4, 18),
            (ApiKey::Metadata as i16, 0, 5),
            (ApiKey::Produce as i16, 12, 13),
        ]);
        assert_eq!(broker.pick(ApiKey::Fetch), Some(12), "capped by ours");
        assert_eq!(broker.pick(ApiKey::Metadata), Some(5), "capped by theirs");
        assert_eq!(broker.pick(ApiKey::Produce), None, "no overlap");
        assert_eq!(broker.pick(ApiKey::ListGroups), None, "not offered");
    }
}
