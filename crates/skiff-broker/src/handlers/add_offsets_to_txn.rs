use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use skiff_meta::{AddOffsetsToTxn, Propose};

use super::txn_common::{PRODUCER_FENCED_VERSION, may_write, producer};
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{propose_error_code, txn_error_code};
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// The transaction will commit offsets of a consumer group (TxnOffsetCommit, sent to the
/// group's coordinator next). Kafka checks WRITE on the transactional id, then READ on the
/// group.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let mut response = AddOffsetsToTxnResponse::default();
    let transactional_id = request.transactional_id.0.as_str();
    let group_id = request.group_id.0.as_str();
    if !may_write(ctx, caller, transactional_id) {
        response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return response;
    }
    if !ctx
        .authorizer
        .allows_group(caller, AclOperation::Read, group_id)
    {
        response.error_code = ResponseError::GroupAuthorizationFailed.code();
        return response;
    }
    let add = AddOffsetsToTxn {
        producer: producer(
            transactional_id,
            request.producer_id.0,
            request.producer_epoch,
        ),
        group_id: group_id.to_string(),
        now_ms: now_ms(),
    };
    response.error_code = match ctx.controller.propose(add).await {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => txn_error_code(&e, version < PRODUCER_FENCED_VERSION),
        Err(e) => propose_error_code(&e),
    };
    response
}
