//! Every API at every advertised version: the request is answered with a response that decodes
//! at that version. (kafka-protocol refuses to encode fields a version lacks, so a handler
//! setting one would close the connection instead of answering; this catches that.)

use crate::support;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterPartitionReassignmentsRequest, ApiKey, ApiVersionsRequest,
    CreatePartitionsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeLogDirsRequest, DescribeProducersRequest, ElectLeadersRequest,
    FetchRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, ListOffsetsRequest,
    ListPartitionReassignmentsRequest, MetadataRequest,
};
use kafka_protocol::protocol::StrBytes;
use skiff_protocol::supported_versions;
use support::*;
use uuid::Uuid;

fn range(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let api = supported_versions(key).expect("advertised");
    api.min..=api.max
}

#[tokio::test]
async fn every_advertised_version_answers_and_decodes() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "v", 2, &[]).await;
    let produced = client
        .call(
            9,
            &produce_request(-1, &[("v", 0, batch("x", 3, 1_000, NO_PRODUCER))]),
        )
        .await;
    assert_eq!(produce_results(&produced), vec![(0, 0)]);
    let topic_id = {
        let mut all = MetadataRequest::default();
        all.topics = None;
        client.call(12, &all).await.topics[0].topic_id
    };

    for version in range(ApiKey::ApiVersions) {
        let mut request = ApiVersionsRequest::default();
        if version >= 3 {
            request.client_software_name = StrBytes::from_static_str("skiff-test");
            request.client_software_version = StrBytes::from_static_str("1");
        }
        assert_eq!(
            client.call(version, &request).await.error_code,
            0,
            "ApiVersions v{version}"
        );
    }
    for version in range(ApiKey::Metadata) {
        let mut request = MetadataRequest::default();
        let mut topic = MetadataRequestTopic::default();
        topic.name = Some(topic_name("v"));
        request.topics = Some(vec![topic]);
        let response = client.call(version, &request).await;
        assert_eq!(
            response.topics[0].partitions.len(),
            2,
            "Metadata v{version}"
        );
        assert_eq!(response.brokers.len(), 1);
    }
    for version in range(ApiKey::Produce) {
        let response = client
            .call(
                version,
                &produce_request(-1, &[("v", 1, batch("p", 1, 1_000, NO_PRODUCER))]),
            )
            .await;
        assert_eq!(produce_results(&response)[0].0, 0, "Produce v{version}");
    }
    for version in range(ApiKey::Fetch) {
        let mut partition = FetchPartition::default();
        partition.fetch_offset = 0;
        partition.partition_max_bytes = 1 << 20;
        let mut topic = FetchTopic::default();
        if version >= 13 {
            topic.topic_id = topic_id;
        } else {
            topic.topic = topic_name("v");
        }
        topic.partitions = vec![partition];
        let mut request = FetchRequest::default();
        request.max_bytes = 1 << 20;
        request.topics = vec![topic];
        if version >= 15 {
            request.replica_id = (-1).into();
        }
        let response = client.call(version, &request).await;
        let partition = &response.responses[0].partitions[0];
        assert_eq!(
            (partition.error_code, partition.high_watermark),
            (0, 3),
            "Fetch v{version}"
        );
        assert!(
            !partition.records.as_ref().unwrap().is_empty(),
            "Fetch v{version} returns the records"
        );
    }
    for version in range(ApiKey::ListOffsets) {
        let mut partition = ListOffsetsPartition::default();
        partition.timestamp = -1;
        let mut topic = ListOffsetsTopic::default();
        topic.name = topic_name("v");
        topic.partitions = vec![partition];
        let mut request = ListOffsetsRequest::default();
        request.replica_id = (-1).into();
        request.topics = vec![topic];
        let response = client.call(version, &request).await;
        assert_eq!(
            response.topics[0].partitions[0].offset, 3,
            "ListOffsets v{version}"
        );
    }
    for version in range(ApiKey::CreateTopics) {
        let response = create_topic_at(&mut client, version, &format!("created-{version}")).await;
        assert_eq!(response, 0, "CreateTopics v{version}");
    }
    for version in range(ApiKey::CreatePartitions) {
        let mut topic = CreatePartitionsTopic::default();
        topic.name = topic_name(&format!("created-{}", 2 + version));
        topic.count = 3;
        let mut request = CreatePartitionsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = 5_000;
        let response = client.call(version, &request).await;
        assert_eq!(
            response.results[0].error_code, 0,
            "CreatePartitions v{version}"
        );
    }
    for version in range(ApiKey::DescribeConfigs) {
        let mut resource = DescribeConfigsResource::default();
        resource.resource_type = 2;
        resource.resource_name = StrBytes::from_static_str("v");
        let mut request = DescribeConfigsRequest::default();
        request.resources = vec![resource];
        request.include_synonyms = true;
        request.include_documentation = version >= 3;
        let response = client.call(version, &request).await;
        let result = &response.results[0];
        assert_eq!(result.error_code, 0, "DescribeConfigs v{version}");
        let doc = |name: &str| {
            let config = result.configs.iter().find(|c| c.name.as_str() == name);
            config
                .expect("listed")
                .documentation
                .as_ref()
                .map(|d| d.to_string())
        };
        if version >= 3 {
            // segment.ms is stored but has no effect: the documentation says so, and only there.
            let segment_ms = doc("segment.ms").expect("documented");
            assert!(
                segment_ms.starts_with(skiff_broker::NOT_ENFORCED_DOC_PREFIX),
                "{segment_ms}"
            );
            let retention = doc("retention.ms").expect("documented");
            assert!(
                !retention.starts_with(skiff_broker::NOT_ENFORCED_DOC_PREFIX),
                "{retention}"
            );
            let max_bytes = doc("max.message.bytes").expect("documented");
            assert!(
                !max_bytes.starts_with(skiff_broker::NOT_ENFORCED_DOC_PREFIX),
                "{max_bytes}"
            );
        }
    }
    for version in range(ApiKey::IncrementalAlterConfigs) {
        let mut op = AlterableConfig::default();
        op.name = StrBytes::from_static_str("retention.ms");
        op.config_operation = 0;
        op.value = Some(StrBytes::from_string(format!(
            "{}",
            60_000 + i64::from(version)
        )));
        let mut resource = AlterConfigsResource::default();
        resource.resource_type = 2;
        resource.resource_name = StrBytes::from_static_str("v");
        resource.configs = vec![op];
        let mut request = IncrementalAlterConfigsRequest::default();
        request.resources = vec![resource];
        let response = client.call(version, &request).await;
        assert_eq!(
            response.responses[0].error_code, 0,
            "IncrementalAlterConfigs v{version}"
        );
    }
    for version in range(ApiKey::AlterConfigs) {
        use kafka_protocol::messages::alter_configs_request as legacy;
        let mut config = legacy::AlterableConfig::default();
        config.name = StrBytes::from_static_str("retention.ms");
        config.value = Some(StrBytes::from_string(format!(
            "{}",
            70_000 + i64::from(version)
        )));
        let mut resource = legacy::AlterConfigsResource::default();
        resource.resource_type = 2;
        resource.resource_name = StrBytes::from_static_str("v");
        resource.configs = vec![config];
        let mut request = AlterConfigsRequest::default();
        request.resources = vec![resource];
        let response = client.call(version, &request).await;
        assert_eq!(
            response.responses[0].error_code, 0,
            "AlterConfigs v{version}"
        );
    }
    for version in range(ApiKey::ElectLeaders) {
        let mut wanted =
            kafka_protocol::messages::elect_leaders_request::TopicPartitions::default();
        wanted.topic = topic_name("v");
        wanted.partitions = vec![1];
        let mut request = ElectLeadersRequest::default();
        request.topic_partitions = Some(vec![wanted]);
        let response = client.call(version, &request).await;
        assert_eq!(
            response.replica_election_results[0].partition_result[0].error_code,
            kafka_protocol::error::ResponseError::ElectionNotNeeded.code(),
            "ElectLeaders v{version}"
        );
    }
    for version in range(ApiKey::ListPartitionReassignments) {
        let response = client
            .call(version, &ListPartitionReassignmentsRequest::default())
            .await;
        assert_eq!(
            (response.error_code, response.topics.len()),
            (0, 0),
            "ListPartitionReassignments v{version}: never any in progress"
        );
    }
    for version in range(ApiKey::AlterPartitionReassignments) {
        use kafka_protocol::messages::BrokerId;
        use kafka_protocol::messages::alter_partition_reassignments_request as reassign;
        let mut moving = reassign::ReassignablePartition::default();
        moving.partition_index = 0;
        moving.replicas = Some(vec![BrokerId(1)]);
        let mut cancelling = reassign::ReassignablePartition::default();
        cancelling.partition_index = 1;
        cancelling.replicas = None;
        let mut topic = reassign::ReassignableTopic::default();
        topic.name = topic_name("v");
        topic.partitions = vec![moving, cancelling];
        let mut request = AlterPartitionReassignmentsRequest::default();
        request.topics = vec![topic];
        let response = client.call(version, &request).await;
        let codes: Vec<i16> = response.responses[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        use kafka_protocol::error::ResponseError;
        assert_eq!(
            codes,
            vec![
                ResponseError::InvalidReplicaAssignment.code(),
                ResponseError::NoReassignmentInProgress.code()
            ],
            "AlterPartitionReassignments v{version}"
        );
    }
    let mut producer = None;
    for version in range(ApiKey::InitProducerId) {
        let mut request = InitProducerIdRequest::default();
        request.transaction_timeout_ms = 60_000;
        if version >= 3 {
            request.producer_id = (-1).into();
            request.producer_epoch = -1;
        }
        let response = client.call(version, &request).await;
        assert_eq!(response.error_code, 0, "InitProducerId v{version}");
        assert!(response.producer_id.0 >= 0);
        producer = Some((response.producer_id.0, response.producer_epoch));
    }
    // An idempotent producer writes 4 records to partition 1; DescribeProducers shows it.
    let (producer_id, producer_epoch) = producer.expect("InitProducerId answered");
    let fields = ProducerFields {
        id: producer_id,
        epoch: producer_epoch,
        sequence: 0,
    };
    let produced = client
        .call(
            9,
            &produce_request(-1, &[("v", 1, batch("p", 4, 2_000, fields))]),
        )
        .await;
    assert_eq!(
        produce_results(&produced)[0].0,
        0,
        "the idempotent batch is accepted"
    );
    for version in range(ApiKey::DescribeProducers) {
        use kafka_protocol::messages::describe_producers_request::TopicRequest;
        let mut wanted = TopicRequest::default();
        wanted.name = topic_name("v");
        wanted.partition_indexes = vec![0, 1, 9];
        let mut request = DescribeProducersRequest::default();
        request.topics = vec![wanted];
        let response = client.call(version, &request).await;
        let partitions = &response.topics[0].partitions;
        assert_eq!(
            partitions.iter().map(|p| p.error_code).collect::<Vec<_>>(),
            vec![0, 0, 3],
            "DescribeProducers v{version}: partition 9 does not exist"
        );
        assert!(
            partitions[0].active_producers.is_empty(),
            "no idempotent producer wrote partition 0"
        );
        let active: Vec<(i64, i32, i32, i64)> = partitions[1]
            .active_producers
            .iter()
            .map(|p| {
                (
                    p.producer_id.0,
                    p.producer_epoch,
                    p.last_sequence,
                    p.current_txn_start_offset,
                )
            })
            .collect();
        assert_eq!(
            active,
            vec![(producer_id, i32::from(producer_epoch), 3, -1)],
            "DescribeProducers v{version}"
        );
    }
    for version in range(ApiKey::DescribeCluster) {
        let response = client
            .call(version, &DescribeClusterRequest::default())
            .await;
        assert_eq!(
            (response.error_code, response.brokers.len()),
            (0, 1),
            "DescribeCluster v{version}"
        );
    }
    for version in range(ApiKey::DescribeLogDirs) {
        let mut wanted = DescribableLogDirTopic::default();
        wanted.topic = topic_name("v");
        wanted.partitions = vec![0, 1];
        let mut request = DescribeLogDirsRequest::default();
        request.topics = Some(vec![wanted]);
        let response = client.call(version, &request).await;
        let partitions = &response.results[0].topics[0].partitions;
        assert_eq!(partitions.len(), 2, "DescribeLogDirs v{version}");
        assert!(
            partitions[0].partition_size > 0,
            "DescribeLogDirs v{version}"
        );
        assert_eq!(
            partitions[0]
                .unknown_tagged_fields
                .get(&skiff_broker::OBJECT_COUNT_TAG)
                .map(|b| b.to_vec()),
            (version >= 2).then(|| vec![1]),
            "DescribeLogDirs v{version}: one object, in a tagged field from v2"
        );
    }
    // Last: each version deletes one more record of partition 0 (it holds offsets 0..=2).
    for version in range(ApiKey::DeleteRecords) {
        let mut partition = DeleteRecordsPartition::default();
        partition.partition_index = 0;
        partition.offset = i64::from(version) + 1;
        let mut topic = DeleteRecordsTopic::default();
        topic.name = topic_name("v");
        topic.partitions = vec![partition];
        let mut request = DeleteRecordsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = 5_000;
        let response = client.call(version, &request).await;
        let result = &response.topics[0].partitions[0];
        assert_eq!(
            (result.error_code, result.low_watermark),
            (0, i64::from(version) + 1),
            "DeleteRecords v{version}"
        );
    }
    for version in range(ApiKey::DeleteTopics) {
        let name = format!("created-{}", 1 + version);
        let mut request = DeleteTopicsRequest::default();
        request.timeout_ms = 5_000;
        if version >= 6 {
            let mut topic = DeleteTopicState::default();
            topic.name = Some(topic_name(&name));
            topic.topic_id = Uuid::nil();
            request.topics = vec![topic];
        } else {
            request.topic_names = vec![topic_name(&name)];
        }
        let response = client.call(version, &request).await;
        assert_eq!(
            response.responses[0].error_code, 0,
            "DeleteTopics v{version}"
        );
    }
    broker.stop().await;
}

async fn create_topic_at(client: &mut RawClient, version: i16, name: &str) -> i16 {
    use kafka_protocol::messages::CreateTopicsRequest;
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    let mut topic = CreatableTopic::default();
    topic.name = topic_name(name);
    topic.num_partitions = 1;
    topic.replication_factor = 1;
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![topic];
    request.timeout_ms = 5_000;
    client.call(version, &request).await.topics[0].error_code
}

use crate::group_support;

/// Every group API at every advertised version, in the order a consumer uses them.
#[tokio::test]
async fn every_group_api_answers_at_every_advertised_version() {
    use group_support::*;
    use kafka_protocol::messages::leave_group_request::MemberIdentity;
    use kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::{
        DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest,
        LeaveGroupRequest, ListGroupsRequest, OffsetDeleteRequest, OffsetFetchRequest,
    };

    let broker = TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await;
    let mut client = broker.client().await;
    create_topic(&mut client, "gv", 2, &[]).await;

    for version in range(ApiKey::FindCoordinator) {
        let mut request = FindCoordinatorRequest::default();
        if version >= 4 {
            request.coordinator_keys = vec![s("g")];
        } else {
            request.key = s("g");
        }
        let response = client.call(version, &request).await;
        let (code, node) = if version >= 4 {
            (
                response.coordinators[0].error_code,
                response.coordinators[0].node_id.0,
            )
        } else {
            (response.error_code, response.node_id.0)
        };
        assert_eq!((code, node), (0, 1), "FindCoordinator v{version}");
    }

    // One single-member group per JoinGroup version: "jg-<version>", generation 1.
    let mut members = Vec::new();
    for version in range(ApiKey::JoinGroup) {
        let group_id = format!("jg-{version}");
        let joined = join_new(&mut client, &group_id, version, &["gv"]).await;
        assert_eq!(
            (joined.error_code, joined.generation_id),
            (0, 1),
            "JoinGroup v{version}"
        );
        assert_eq!(joined.leader, joined.member_id, "JoinGroup v{version}");
        assert_eq!(joined.members.len(), 1, "JoinGroup v{version}");
        members.push((group_id, joined.member_id.to_string()));
    }
    for version in range(ApiKey::SyncGroup) {
        let (group_id, member) = &members[version as usize];
        let mut request = sync_request(group_id, member, 1, &[(member, assignment("gv", &[0, 1]))]);
        if version >= 5 {
            request.protocol_type = Some(s("consumer"));
            request.protocol_name = Some(s("range"));
        }
        let response = client.call(version, &request).await;
        assert_eq!(response.error_code, 0, "SyncGroup v{version}");
        assert_eq!(
            assigned_partitions(response.assignment),
            vec![0, 1],
            "SyncGroup v{version}"
        );
    }
    for version in range(ApiKey::Heartbeat) {
        let (group_id, member) = &members[0];
        let mut request = HeartbeatRequest::default();
        request.group_id = group(group_id);
        request.member_id = s(member);
        request.generation_id = 1;
        assert_eq!(
            client.call(version, &request).await.error_code,
            0,
            "Heartbeat v{version}"
        );
    }
    for version in range(ApiKey::OffsetCommit) {
        let (group_id, member) = &members[0];
        let response = client
            .call(
                version,
                &commit_request(group_id, 1, member, &[("gv", 0, i64::from(version), "m")]),
            )
            .await;
        assert_eq!(commit_codes(&response), vec![0], "OffsetCommit v{version}");
    }
    for version in range(ApiKey::OffsetFetch) {
        let (group_id, _) = &members[0];
        let mut request = OffsetFetchRequest::default();
        let offset = if version >= 8 {
            let mut topic = OffsetFetchRequestTopics::default();
            topic.name = topic_name("gv");
            topic.partition_indexes = vec![0];
            let mut g = OffsetFetchRequestGroup::default();
            g.group_id = group(group_id);
            g.topics = Some(vec![topic]);
            request.groups = vec![g];
            let response = client.call(version, &request).await;
            response.groups[0].topics[0].partitions[0].committed_offset
        } else {
            let mut topic = OffsetFetchRequestTopic::default();
            topic.name = topic_name("gv");
            topic.partition_indexes = vec![0];
            request.group_id = group(group_id);
            request.topics = Some(vec![topic]);
            let response = client.call(version, &request).await;
            response.topics[0].partitions[0].committed_offset
        };
        assert_eq!(offset, 9, "OffsetFetch v{version} reads the last commit");
    }
    for version in range(ApiKey::DescribeGroups) {
        let mut request = DescribeGroupsRequest::default();
        request.groups = vec![group(&members[0].0)];
        request.include_authorized_operations = version >= 3;
        let response = client.call(version, &request).await;
        let described = &response.groups[0];
        assert_eq!(
            (
                described.error_code,
                described.group_state.as_str(),
                described.members.len()
            ),
            (0, "Stable", 1),
            "DescribeGroups v{version}"
        );
    }
    for version in range(ApiKey::ListGroups) {
        let mut request = ListGroupsRequest::default();
        if version >= 4 {
            request.states_filter = vec![s("Stable")];
        }
        if version >= 5 {
            request.types_filter = vec![s("classic")];
        }
        let response = client.call(version, &request).await;
        // Only the groups that went through SyncGroup are Stable.
        let expected = if version >= 4 {
            range(ApiKey::SyncGroup).count()
        } else {
            members.len()
        };
        assert_eq!(response.groups.len(), expected, "ListGroups v{version}");
    }
    {
        let mut request = OffsetDeleteRequest::default();
        request.group_id = group(&members[0].0);
        let mut topic = OffsetDeleteRequestTopic::default();
        topic.name = topic_name("gv");
        let mut partition = OffsetDeleteRequestPartition::default();
        partition.partition_index = 0;
        topic.partitions = vec![partition];
        request.topics = vec![topic];
        for version in range(ApiKey::OffsetDelete) {
            let response = client.call(version, &request).await;
            assert_eq!(
                response.topics[0].partitions[0].error_code, GROUP_SUBSCRIBED_TO_TOPIC,
                "OffsetDelete v{version}"
            );
        }
    }
    // Each LeaveGroup version empties one group, so DeleteGroups can delete them.
    for version in range(ApiKey::LeaveGroup) {
        let (group_id, member) = &members[version as usize];
        let mut request = LeaveGroupRequest::default();
        request.group_id = group(group_id);
        if version >= 3 {
            let mut identity = MemberIdentity::default();
            identity.member_id = s(member);
            request.members = vec![identity];
        } else {
            request.member_id = s(member);
        }
        let response = client.call(version, &request).await;
        assert_eq!(response.error_code, 0, "LeaveGroup v{version}");
        if version >= 3 {
            assert_eq!(response.members[0].error_code, 0, "LeaveGroup v{version}");
        }
    }
    for version in range(ApiKey::DeleteGroups) {
        let mut request = DeleteGroupsRequest::default();
        request.groups_names = vec![group(&members[version as usize].0)];
        let response = client.call(version, &request).await;
        assert_eq!(response.results[0].error_code, 0, "DeleteGroups v{version}");
    }
    broker.stop().await;
}
