use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use skiff_meta::{InitProducerId, InitTxnProducer, ProducerIdAndEpoch, Propose};

use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{producer_error_code, propose_error_code, txn_error_code};
use crate::security::authorizer::Caller;
use skiff_meta::acl::{AclOperation, ResourceType};

/// KIP-588: versions before 4 learn of a fence as INVALID_PRODUCER_EPOCH.
const PRODUCER_FENCED_VERSION: i16 = 4;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    // v3+ (KIP-360): a producer that already has an id asks for an epoch bump after an error.
    let current =
        (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
    let authorizer = &ctx.authorizer;
    let answer = match request
        .transactional_id
        .as_ref()
        .filter(|id| !id.is_empty())
    {
        Some(transactional_id) => {
            if !authorizer.allows(
                caller,
                AclOperation::Write,
                ResourceType::TransactionalId,
                transactional_id.as_str(),
            ) {
                response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
                return response;
            }
            let timeout_ms = request.transaction_timeout_ms;
            if timeout_ms <= 0 || timeout_ms > ctx.config.transaction_max_timeout_ms {
                response.error_code = ResponseError::InvalidTransactionTimeout.code();
                return response;
            }
            let init = InitTxnProducer {
                transactional_id: transactional_id.to_string(),
                timeout_ms,
                current,
                now_ms: now_ms(),
            };
            let fenced_is_epoch = version < PRODUCER_FENCED_VERSION;
            ctx.controller
                .propose(init)
                .await
                .map(|answer| answer.map_err(|e| txn_error_code(&e, fenced_is_epoch)))
        }
        None => {
            // Kafka 3.x: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE
            // on some topic.
            if !authorizer.allows_cluster(caller, AclOperation::IdempotentWrite)
                && !authorizer.allows_some(caller, AclOperation::Write, ResourceType::Topic)
            {
                response.error_code = ResponseError::ClusterAuthorizationFailed.code();
                return response;
            }
            ctx.controller
                .propose(InitProducerId { current })
                .await
                .map(|answer| answer.map_err(|e| producer_error_code(&e)))
        }
    };
    match answer {
        Ok(Ok(ProducerIdAndEpoch { id, epoch })) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = epoch;
        }
        Ok(Err(code)) => response.error_code = code,
        Err(e) => response.error_code = propose_error_code(&e),
    }
    response
}
