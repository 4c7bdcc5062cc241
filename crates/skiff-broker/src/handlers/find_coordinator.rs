use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::{AclOperation, ResourceType};

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

/// Any broker answers FindCoordinator: every broker computes the same coordinator for a
/// group from the same broker list. A transaction's state is in the controller, so any broker
/// could coordinate it; the same hashing spreads transactional ids over the live brokers.
pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    // v0 knows only groups; v4 batches keys.
    let key_type = if version >= 1 {
        request.key_type
    } else {
        GROUP_KEY
    };
    let keys = if version >= 4 {
        request.coordinator_keys
    } else {
        vec![request.key]
    };
    let found: Vec<Coordinator> = keys
        .into_iter()
        .map(|k| find(ctx, caller, k, key_type))
        .collect();
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = found;
    } else if let Some(only) = found.into_iter().next() {
        response.error_code = only.error_code;
        response.error_message = only.error_message;
        response.node_id = only.node_id;
        response.host = only.host;
        response.port = only.port;
    }
    response
}

fn find(ctx: &BrokerContext, caller: &Caller, key: StrBytes, key_type: i8) -> Coordinator {
    let mut found = Coordinator::default();
    let failed = |mut c: Coordinator, error: ResponseError, message: &str| {
        c.error_code = error.code();
        c.error_message = Some(str_bytes(message));
        c.node_id = BrokerId(-1);
        c.port = -1;
        c
    };
    let coordinator = match key_type {
        GROUP_KEY
            if !ctx
                .authorizer
                .allows_group(caller, AclOperation::Describe, key.as_str()) =>
        {
            found.key = key;
            return failed(
                found,
                ResponseError::GroupAuthorizationFailed,
                "not authorized to describe the group",
            );
        }
        GROUP_KEY => ctx.groups.coordinator_for(key.as_str()),
        TRANSACTION_KEY
            if !ctx.authorizer.allows(
                caller,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                key.as_str(),
            ) =>
        {
            found.key = key;
            return failed(
                found,
                ResponseError::TransactionalIdAuthorizationFailed,
                "not authorized to describe the transactional id",
            );
        }
        TRANSACTION_KEY => ctx.groups.coordinator_for(key.as_str()),
        other => {
            found.key = key;
            return failed(
                found,
                ResponseError::InvalidRequest,
                &format!("unknown coordinator key type {other}"),
            );
        }
    };
    found.key = key;
    match coordinator {
        Some(broker) => {
            found.node_id = BrokerId(broker.id);
            found.host = str_bytes(&broker.host);
            found.port = i32::from(broker.port);
            found.error_message = None;
            found
        }
        None => failed(
            found,
            ResponseError::CoordinatorNotAvailable,
            "no broker is live",
        ),
    }
}
