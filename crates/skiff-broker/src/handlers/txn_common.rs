//! What the transactional API handlers share. Any broker serves any transactional id: the
//! coordinator's state is in the controller, so these handlers never answer NOT_COORDINATOR.

use skiff_meta::TxnProducer;
use skiff_meta::acl::{AclOperation, ResourceType};

use crate::context::BrokerContext;
use crate::security::authorizer::Caller;

/// KIP-588: requests older than this version of AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
/// learn of a fence as INVALID_PRODUCER_EPOCH.
pub const PRODUCER_FENCED_VERSION: i16 = 2;

/// Whether the caller may use the transactional id (WRITE, as Kafka checks every
/// transactional call).
pub fn may_write(ctx: &BrokerContext, caller: &Caller, transactional_id: &str) -> bool {
    ctx.authorizer.allows(
        caller,
        AclOperation::Write,
        ResourceType::TransactionalId,
        transactional_id,
    )
}

pub fn producer(transactional_id: &str, producer_id: i64, epoch: i16) -> TxnProducer {
    TxnProducer {
        transactional_id: transactional_id.to_string(),
        producer_id,
        epoch,
    }
}
