//! DescribeCluster (Metadata where a broker lacks it).

use kafka_protocol::messages::{ApiKey, DescribeClusterRequest};

use super::topics::missing;
use crate::client::KafkaClient;
use crate::error::ClientError;
use crate::metadata::BrokerInfo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub cluster_id: Option<String>,
    /// The controller the cluster reports. KRaft clusters name a random broker here (clients
    /// cannot reach controllers); Skiff names the broker that answered.
    pub controller_id: Option<i32>,
    pub brokers: Vec<BrokerInfo>,
}

impl KafkaClient {
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, ClientError> {
        let connection = self.any_broker().await?;
        if !connection.supports(ApiKey::DescribeCluster) {
            let metadata = self.fetch_metadata(Some(&[])).await?;
            return Ok(ClusterDescription {
                cluster_id: metadata.cluster_id,
                controller_id: metadata.controller_id,
                brokers: metadata.brokers.into_values().collect(),
            });
        }
        let response = connection.send(&DescribeClusterRequest::default()).await?;
        if response.error_code != 0 {
            return Err(ClientError::kafka(
                response.error_code,
                "cannot describe the cluster",
                response.error_message.as_deref(),
            ));
        }
        let mut brokers: Vec<BrokerInfo> = response
            .brokers
            .into_iter()
            .map(|b| BrokerInfo {
                id: b.broker_id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.map(|r| r.to_string()),
            })
            .collect();
        if brokers.is_empty() {
            return Err(missing("cannot describe the cluster"));
        }
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterDescription {
            cluster_id: Some(response.cluster_id.to_string()).filter(|c| !c.is_empty()),
            controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
        })
    }
}
