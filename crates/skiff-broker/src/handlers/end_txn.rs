use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};
use skiff_meta::{EndTxn, Propose};
use tracing::debug;

use super::txn_common::{PRODUCER_FENCED_VERSION, may_write, producer};
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{propose_error_code, txn_error_code};
use crate::security::authorizer::Caller;

/// Commits or aborts the open transaction: one proposal writes every marker and, on commit,
/// the pending group offsets, so the answer comes once the transaction is complete (Kafka
/// answers at PrepareCommit and writes markers afterwards).
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let mut response = EndTxnResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    let transactional_id = request.transactional_id.0.as_str();
    if !may_write(ctx, caller, transactional_id) {
        response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return response;
    }
    let end = EndTxn {
        producer: producer(
            transactional_id,
            request.producer_id.0,
            request.producer_epoch,
        ),
        commit: request.committed,
        now_ms: now_ms(),
    };
    response.error_code = match ctx.controller.propose(end).await {
        Ok(Ok(ended)) => {
            debug!(
                transactional_id,
                commit = request.committed,
                markers = ended.markers.len(),
                "transaction ended"
            );
            0
        }
        Ok(Err(e)) => txn_error_code(&e, version < PRODUCER_FENCED_VERSION),
        Err(e) => propose_error_code(&e),
    };
    response
}
