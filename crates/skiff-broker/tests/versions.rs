//! Every API at every advertised version: the request is answered with a response that decodes
//! at that version. (kafka-protocol refuses to encode fields a version lacks, so a handler
//! setting one would close the connection instead of answering; this catches that.)

mod support;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreatePartitionsRequest, DeleteTopicsRequest,
    DescribeClusterRequest, DescribeConfigsRequest, FetchRequest, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, ListOffsetsRequest, MetadataRequest,
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
        assert!(
            result
                .configs
                .iter()
                .any(|c| c.name.as_str() == "retention.ms")
        );
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
