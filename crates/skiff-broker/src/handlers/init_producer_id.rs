use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use skiff_meta::{InitProducerId, ProducerIdAndEpoch, Propose};
use tracing::info;

use crate::context::BrokerContext;
use crate::kafka_error::{producer_error_code, propose_error_code};
use crate::security::authorizer::Caller;
use skiff_meta::acl::{AclOperation, ResourceType};

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.is_empty())
    {
        info!("refusing a transactional producer: transactions are not supported yet");
        response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return response;
    }
    // Kafka 3.x: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on
    // some topic.
    let authorizer = &ctx.authorizer;
    if !authorizer.allows_cluster(caller, AclOperation::IdempotentWrite)
        && !authorizer.allows_some(caller, AclOperation::Write, ResourceType::Topic)
    {
        response.error_code = ResponseError::ClusterAuthorizationFailed.code();
        return response;
    }
    // v3+ (KIP-360): a producer that already has an id asks for an epoch bump after an error.
    let current =
        (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
    match ctx.controller.propose(InitProducerId { current }).await {
        Ok(Ok(ProducerIdAndEpoch { id, epoch })) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = epoch;
        }
        Ok(Err(e)) => response.error_code = producer_error_code(&e),
        Err(e) => response.error_code = propose_error_code(&e),
    }
    response
}
