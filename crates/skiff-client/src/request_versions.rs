//! Every request this crate builds encodes at every version of its range in [`KNOWN_APIS`]
//! (kafka-protocol refuses fields a version cannot carry, so a builder that sets one would
//! fail here rather than against some broker).

use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, DescribeClusterRequest, DescribeGroupsRequest, GroupId,
    ListGroupsRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::admin::acls::{
    Acl, AclFilter, create_acls_request, delete_acls_request, describe_acls_request,
};
use crate::admin::configs::{
    AlterConfigOp, ConfigResource, alter_configs_request, describe_configs_request,
};
use crate::admin::groups::{
    MemberCommit, OffsetToCommit, delete_groups_request, find_coordinator_request,
    offset_commit_request, offset_fetch_request,
};
use crate::admin::offsets::{OffsetSpec, list_offsets_request};
use crate::admin::records::{delete_records_request, describe_log_dirs_request};
use crate::admin::topics::{
    NewTopic, create_partitions_request, create_topics_request, delete_topics_request,
};
use crate::admin::users::{ScramUpsertion, alter_users_request, describe_users_request};
use crate::client::metadata_request;
use crate::fetcher::{FetchConfig, PartitionPosition, fetch_request};
use crate::group::requests::{
    JoinParams, MemberRef, heartbeat_request, join_group_request, leave_group_request,
    sync_group_request,
};
use crate::producer::ProducerConfig;
use crate::producer::sender::produce_request_for_tests;
use crate::versions::KNOWN_APIS;

fn check<R: Encodable + Decodable + PartialEq + std::fmt::Debug>(
    key: ApiKey,
    build: impl Fn(i16) -> R,
) {
    let Some(range) = KNOWN_APIS.iter().find(|a| a.key == key) else {
        panic!("{key:?} is not in KNOWN_APIS");
    };
    for version in range.min..=range.max {
        let request = build(version);
        let mut buf = bytes::BytesMut::new();
        request
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e:#}"));
        let mut bytes = buf.freeze();
        R::decode(&mut bytes, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version} decode: {e:#}"));
        assert!(bytes.is_empty(), "{key:?} v{version}: trailing bytes");
    }
}

#[test]
fn every_built_request_encodes_at_every_known_version() {
    check(ApiKey::SaslHandshake, |_| {
        crate::connection::sasl_handshake_request(crate::security::SaslMechanism::ScramSha256)
    });
    check(ApiKey::SaslAuthenticate, |_| {
        crate::connection::sasl_authenticate_request(b"n,,n=user,r=abc".to_vec())
    });
    check(ApiKey::DescribeUserScramCredentials, |_| {
        describe_users_request(Some(&["alice".to_string()]))
    });
    check(ApiKey::AlterUserScramCredentials, |_| {
        let upsertion = ScramUpsertion {
            user: "alice".into(),
            mechanism: 1,
            iterations: 4096,
            salt: vec![1; 16],
            salted_password: vec![2; 32],
        };
        alter_users_request(Some(&upsertion), Some(("bob", 2)))
    });
    let acl = Acl {
        resource_type: 2,
        resource_name: "t".into(),
        pattern_type: 3,
        principal: "User:a".into(),
        host: "*".into(),
        operation: 4,
        permission: 3,
    };
    let filter = AclFilter {
        resource_type: 1,
        resource_name: None,
        pattern_type: 1,
        principal: Some("User:a".into()),
        host: None,
        operation: 1,
        permission: 1,
    };
    check(ApiKey::CreateAcls, |_| {
        create_acls_request(std::slice::from_ref(&acl))
    });
    check(ApiKey::DescribeAcls, |_| describe_acls_request(&filter));
    check(ApiKey::DeleteAcls, |_| {
        delete_acls_request(std::slice::from_ref(&filter))
    });
    check(ApiKey::DeleteRecords, |_| {
        delete_records_request("t", &[(0, 5), (1, -1)])
    });
    check(ApiKey::DescribeLogDirs, |_| {
        describe_log_dirs_request("t", vec![0, 1])
    });
    check(ApiKey::ApiVersions, |v| {
        let mut r = ApiVersionsRequest::default();
        if v >= 3 {
            r.client_software_name = StrBytes::from_static_str("skiff");
            r.client_software_version = StrBytes::from_static_str("0.1.0");
        }
        r
    });
    check(ApiKey::Metadata, |v| metadata_request(Some(&["a", "b"]), v));
    check(ApiKey::Metadata, |v| metadata_request(None, v));
    check(ApiKey::Produce, |_| {
        produce_request_for_tests(&ProducerConfig::default())
    });
    let positions = [
        PartitionPosition {
            topic: "b".into(),
            partition: 1,
            offset: 10,
            high_watermark: -1,
        },
        PartitionPosition {
            topic: "a".into(),
            partition: 0,
            offset: 0,
            high_watermark: -1,
        },
    ];
    check(ApiKey::Fetch, |_| {
        fetch_request(&positions, &[0, 1], &FetchConfig::default())
    });
    for spec in [
        OffsetSpec::Earliest,
        OffsetSpec::Latest,
        OffsetSpec::Timestamp(5),
    ] {
        check(ApiKey::ListOffsets, |_| {
            list_offsets_request("t", &[0, 1], spec)
        });
    }
    let topic = NewTopic {
        name: "t".into(),
        partitions: Some(3),
        replication_factor: None,
        configs: vec![("retention.ms".into(), "1000".into())],
    };
    check(ApiKey::CreateTopics, |_| {
        create_topics_request(&topic, false)
    });
    check(ApiKey::DeleteTopics, |v| delete_topics_request("t", v));
    check(ApiKey::CreatePartitions, |_| {
        create_partitions_request("t", 6)
    });
    for resource in [ConfigResource::Topic("t".into()), ConfigResource::Broker(1)] {
        check(ApiKey::DescribeConfigs, |v| {
            describe_configs_request(&resource, v)
        });
        let ops = [
            AlterConfigOp::Set("retention.ms".into(), "5".into()),
            AlterConfigOp::Delete("cleanup.policy".into()),
        ];
        check(ApiKey::IncrementalAlterConfigs, |_| {
            alter_configs_request(&resource, &ops)
        });
    }
    check(ApiKey::DescribeCluster, |_| {
        DescribeClusterRequest::default()
    });
    check(ApiKey::FindCoordinator, |v| {
        find_coordinator_request("g", v)
    });
    check(ApiKey::ListGroups, |_| ListGroupsRequest::default());
    check(ApiKey::DescribeGroups, |_| {
        let mut r = DescribeGroupsRequest::default();
        r.groups = vec![GroupId(StrBytes::from_static_str("g"))];
        r
    });
    let partitions = [("t".to_owned(), vec![0, 1])];
    check(ApiKey::OffsetFetch, |_| {
        offset_fetch_request("g", Some(&partitions))
    });
    check(ApiKey::OffsetFetch, |v| {
        // A null topic list ("everything") exists from v2 on.
        offset_fetch_request("g", if v >= 2 { None } else { Some(&partitions) })
    });
    let offsets = [OffsetToCommit {
        topic: "t".into(),
        partition: 0,
        offset: 42,
        metadata: None,
    }];
    check(ApiKey::OffsetCommit, |_| {
        offset_commit_request("g", &offsets, None)
    });
    check(ApiKey::OffsetCommit, |_| {
        offset_commit_request(
            "g",
            &offsets,
            Some(MemberCommit {
                generation_id: 3,
                member_id: "m-1",
            }),
        )
    });
    check(ApiKey::DeleteGroups, |_| delete_groups_request(&["g"]));

    let join = JoinParams {
        group_id: "g",
        member_id: "m-1",
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 60_000,
        subscription: bytes::Bytes::from_static(b"\0\x01sub"),
        reason: "starting",
    };
    check(ApiKey::JoinGroup, |v| join_group_request(&join, v));
    let member = MemberRef {
        group_id: "g",
        member_id: "m-1",
        generation_id: 4,
    };
    check(ApiKey::SyncGroup, |v| {
        sync_group_request(
            member,
            vec![("m-1".into(), bytes::Bytes::from_static(b"\0\0a"))],
            v,
        )
    });
    check(ApiKey::SyncGroup, |v| {
        sync_group_request(member, Vec::new(), v)
    });
    check(ApiKey::Heartbeat, |_| heartbeat_request(member));
    check(ApiKey::LeaveGroup, |v| leave_group_request("g", "m-1", v));
}
