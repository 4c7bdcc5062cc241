//! The cluster as a client sees it: bootstrap, a metadata cache, one connection per broker,
//! and routing to partition leaders, the controller and group coordinators.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use parking_lot::{Mutex, RwLock};
use tracing::debug;

use crate::config::ClientConfig;
use crate::connection::BrokerConnection;
use crate::error::ClientError;
use crate::metadata::{BrokerInfo, ClusterMetadata, MetadataUpdate, TopicInfo};

/// A handle on one Kafka cluster. Cheap to clone; clones share connections and metadata.
#[derive(Clone)]
pub struct KafkaClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    metadata: RwLock<ClusterMetadata>,
    /// Connections by broker id. Connecting happens under this lock, so two callers never
    /// open two connections to one broker.
    brokers: tokio::sync::Mutex<HashMap<i32, Arc<BrokerConnection>>>,
    /// The connection made to a bootstrap address (broker id not known yet).
    bootstrap: tokio::sync::Mutex<Option<Arc<BrokerConnection>>>,
    /// Group coordinators found by FindCoordinator: group → (broker id, address).
    coordinators: Mutex<HashMap<String, BrokerInfo>>,
}

impl KafkaClient {
    /// Connects to the first bootstrap address that answers and loads the broker list.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        if config.bootstrap.is_empty() {
            return Err(ClientError::NoBootstrap);
        }
        let client = KafkaClient {
            inner: Arc::new(Inner {
                config,
                metadata: RwLock::new(ClusterMetadata::default()),
                brokers: tokio::sync::Mutex::new(HashMap::new()),
                bootstrap: tokio::sync::Mutex::new(None),
                coordinators: Mutex::new(HashMap::new()),
            }),
        };
        client.fetch_metadata(Some(&[])).await?;
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A copy of the cached metadata.
    pub fn cached_metadata(&self) -> ClusterMetadata {
        self.inner.metadata.read().clone()
    }

    /// A connection to any live broker: the bootstrap one while it lasts.
    pub async fn any_broker(&self) -> Result<Arc<BrokerConnection>, ClientError> {
        let mut bootstrap = self.inner.bootstrap.lock().await;
        if let Some(connection) = bootstrap.as_ref().filter(|c| c.is_open()) {
            return Ok(connection.clone());
        }
        let live = {
            let brokers = self.inner.brokers.lock().await;
            brokers.values().find(|c| c.is_open()).cloned()
        };
        if let Some(connection) = live {
            return Ok(connection);
        }
        let connection = Arc::new(self.connect_bootstrap().await?);
        *bootstrap = Some(connection.clone());
        Ok(connection)
    }

    async fn connect_bootstrap(&self) -> Result<BrokerConnection, ClientError> {
        let mut first_error = None;
        // Brokers known from metadata are tried after the bootstrap list, so a client keeps
        // working when its bootstrap broker goes away.
        let known: Vec<String> = self
            .inner
            .metadata
            .read()
            .brokers
            .values()
            .map(BrokerInfo::addr)
            .collect();
        for addr in self.inner.config.bootstrap.iter().chain(known.iter()) {
            match BrokerConnection::connect(addr, &self.inner.config).await {
                Ok(connection) => return Ok(connection),
                Err(e) => {
                    debug!(%addr, error = %e, "bootstrap address failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(ClientError::NoBootstrap))
    }

    /// The connection to broker `id`, opened on first use from the cached address.
    pub async fn broker(&self, id: i32) -> Result<Arc<BrokerConnection>, ClientError> {
        let info = self.inner.metadata.read().brokers.get(&id).cloned();
        let info = match info {
            Some(info) => info,
            None => {
                self.fetch_metadata(Some(&[])).await?;
                self.inner
                    .metadata
                    .read()
                    .brokers
                    .get(&id)
                    .cloned()
                    .ok_or(ClientError::UnknownBroker { broker_id: id })?
            }
        };
        self.connection_to(&info).await
    }

    async fn connection_to(&self, info: &BrokerInfo) -> Result<Arc<BrokerConnection>, ClientError> {
        let mut brokers = self.inner.brokers.lock().await;
        if let Some(connection) = brokers.get(&info.id).filter(|c| c.is_open()) {
            return Ok(connection.clone());
        }
        let connection =
            Arc::new(BrokerConnection::connect(&info.addr(), &self.inner.config).await?);
        brokers.insert(info.id, connection.clone());
        Ok(connection)
    }

    /// The broker admin requests go to: the controller Metadata names, or any broker.
    pub async fn controller(&self) -> Result<Arc<BrokerConnection>, ClientError> {
        let controller = self.inner.metadata.read().controller_id;
        match controller {
            Some(id) => match self.broker(id).await {
                Ok(connection) => Ok(connection),
                Err(_) => self.any_broker().await,
            },
            None => self.any_broker().await,
        }
    }

    /// Asks for fresh metadata. `None` asks for every topic; `Some(&[])` for brokers only.
    /// Never creates topics (from Metadata v4 on, where a client can say so).
    pub async fn fetch_metadata(
        &self,
        topics: Option<&[&str]>,
    ) -> Result<ClusterMetadata, ClientError> {
        let connection = self.any_broker().await?;
        let version = connection.require_version(ApiKey::Metadata)?;
        let request = metadata_request(topics, version);
        let response = connection.send(&request).await?;
        let update = MetadataUpdate::from_response(response);
        let mut cache = self.inner.metadata.write();
        cache.apply(&update, topics.is_none());
        Ok(cache.clone())
    }

    /// A topic's metadata from the cache, or freshly fetched when the cache lacks it.
    pub async fn topic(&self, name: &str) -> Result<TopicInfo, ClientError> {
        if let Some(topic) = self.inner.metadata.read().topics.get(name) {
            return Ok(topic.clone());
        }
        self.refresh_topic(name).await
    }

    /// A topic's metadata, always fetched fresh.
    pub async fn refresh_topic(&self, name: &str) -> Result<TopicInfo, ClientError> {
        let metadata = self.fetch_metadata(Some(&[name])).await?;
        metadata
            .topics
            .get(name)
            .cloned()
            .ok_or_else(|| ClientError::UnknownTopic {
                topic: name.to_owned(),
            })
    }

    /// The leader of a partition, from the cache (refreshed once when it has none).
    pub async fn leader_of(&self, topic: &str, partition: i32) -> Result<i32, ClientError> {
        let mut info = self.topic(topic).await?;
        for attempt in 0..2 {
            let Some(p) = info.partition(partition) else {
                if attempt == 0 {
                    info = self.refresh_topic(topic).await?;
                    continue;
                }
                return Err(ClientError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                    partitions: info.partitions.len(),
                });
            };
            if let Some(leader) = p.leader {
                return Ok(leader);
            }
            if attempt == 0 {
                info = self.refresh_topic(topic).await?;
            }
        }
        Err(ClientError::NoLeader {
            topic: topic.to_owned(),
            partition,
        })
    }

    /// Drops what routing relies on after an error said it was stale.
    pub fn invalidate_topic(&self, topic: &str) {
        self.inner.metadata.write().topics.remove(topic);
    }

    pub(crate) fn cached_coordinator(&self, group: &str) -> Option<BrokerInfo> {
        self.inner.coordinators.lock().get(group).cloned()
    }

    pub(crate) fn remember_coordinator(&self, group: &str, broker: BrokerInfo) {
        self.inner
            .coordinators
            .lock()
            .insert(group.to_owned(), broker);
    }

    pub(crate) fn forget_coordinator(&self, group: &str) {
        self.inner.coordinators.lock().remove(group);
    }

    pub(crate) async fn connection_to_broker(
        &self,
        info: &BrokerInfo,
    ) -> Result<Arc<BrokerConnection>, ClientError> {
        self.connection_to(info).await
    }

    /// Runs `attempt`, and once more after dropping stale routing when its error says fresh
    /// metadata may help (NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR, a topic created a moment
    /// ago and not yet known everywhere, a dropped connection).
    pub(crate) async fn retry_once<T>(
        &self,
        topic: Option<&str>,
        mut attempt: impl AsyncFnMut() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        match attempt().await {
            Err(error) if error.wants_metadata_refresh() => {
                debug!(%error, "retrying once with fresh metadata");
                if let Some(topic) = topic {
                    self.invalidate_topic(topic);
                }
                attempt().await
            }
            result => result,
        }
    }
}

pub(crate) fn metadata_request(topics: Option<&[&str]>, version: i16) -> MetadataRequest {
    let mut request = MetadataRequest::default();
    request.topics = topics.map(|names| {
        names
            .iter()
            .map(|name| {
                let mut topic = MetadataRequestTopic::default();
                topic.name = Some(TopicName(StrBytes::from_string((*name).to_owned())));
                topic
            })
            .collect()
    });
    // Before v4 every Metadata request may create topics; from v4 on we say it must not.
    request.allow_auto_topic_creation = version < 4;
    request
}
