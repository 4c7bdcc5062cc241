//! The group member's own connection to its coordinator. Kept apart from the client's shared
//! per-broker connections because brokers answer a connection's requests in order: a fetch
//! long-polling on the shared connection would hold back heartbeats and commits behind it (Java
//! and librdkafka keep a separate coordinator connection for the same reason).

use std::sync::Arc;

use crate::client::KafkaClient;
use crate::connection::BrokerConnection;
use crate::error::ClientError;

/// Finds and connects to a group's coordinator on demand; clones share the connection.
#[derive(Clone)]
pub(crate) struct CoordinatorLink {
    client: KafkaClient,
    group_id: Arc<str>,
    connection: Arc<tokio::sync::Mutex<Option<Arc<BrokerConnection>>>>,
}

impl CoordinatorLink {
    pub(crate) fn new(client: KafkaClient, group_id: &str) -> Self {
        CoordinatorLink {
            client,
            group_id: Arc::from(group_id),
            connection: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    pub(crate) fn client(&self) -> &KafkaClient {
        &self.client
    }

    /// The open connection to the coordinator, found with FindCoordinator when there is none.
    pub(crate) async fn connection(&self) -> Result<Arc<BrokerConnection>, ClientError> {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_ref().filter(|c| c.is_open()) {
            return Ok(connection.clone());
        }
        let broker = self.client.find_coordinator(&self.group_id).await?;
        let connection =
            Arc::new(BrokerConnection::connect(&broker.addr(), self.client.config()).await?);
        *held = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the coordinator after an answer said it moved or the connection failed, so the
    /// next request looks it up again.
    pub(crate) async fn reset(&self) {
        self.client.forget_coordinator(&self.group_id);
        *self.connection.lock().await = None;
    }
}
