use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::BrokerConfig;
use crate::fetch::ChunkSource;
use crate::groups::GroupCoordinator;
use crate::log_levels::LogLevels;
use crate::log_limit::Warnings;
use crate::metrics::BrokerMetrics;
use crate::produce::ProduceBuffer;
use crate::security::SaslMechanism;
use crate::security::authorizer::Authorizer;
use crate::security::sasl::SaslSession;
use skiff_meta::ControllerClient;

/// What every request handler may use. Shared by all connections behind one `Arc`.
pub struct BrokerContext {
    pub config: BrokerConfig,
    pub controller: Arc<dyn ControllerClient>,
    pub produce: Arc<ProduceBuffer>,
    pub chunks: ChunkSource,
    pub fetch_waiters: Arc<Semaphore>,
    /// `queued_max_request_bytes`, one permit per byte of request frames held.
    pub request_budget: Arc<Semaphore>,
    /// `queued_max_response_bytes`, one permit per byte of responses encoded but not written.
    pub response_budget: Arc<Semaphore>,
    pub groups: Arc<GroupCoordinator>,
    /// Cancelled when the broker starts shutting down; long-polls return early on it.
    pub shutdown: CancellationToken,
    pub metrics: BrokerMetrics,
    /// Rate-limited warnings about what clients send and what the store holds.
    pub warnings: Warnings,
    /// The enabled SASL mechanisms on a SASL listener, `None` otherwise.
    pub sasl_mechanisms: Option<Arc<[SaslMechanism]>>,
    /// Decides every request against the ACLs (allows all when no authorizer is configured).
    pub authorizer: Arc<Authorizer>,
    /// BROKER_LOGGER configs read and change this; `None` refuses them.
    pub log_levels: Option<Arc<dyn LogLevels>>,
}

impl BrokerContext {
    /// A new connection's SASL state, on SASL listeners.
    pub fn new_sasl_session(&self) -> Option<SaslSession> {
        self.sasl_mechanisms.as_ref().map(|mechanisms| {
            SaslSession::new(mechanisms.clone(), self.config.connections_max_reauth())
        })
    }
}
