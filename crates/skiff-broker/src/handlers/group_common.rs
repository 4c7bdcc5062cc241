//! What every group API handler shares: coordinator errors as Kafka codes, the checks that
//! come before touching a group, and waiting for a parked JoinGroup or SyncGroup.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::context::BrokerContext;
use crate::groups::CoordinatorError;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// A parked request is answered by the coordinator within the rebalance (or session)
/// timeout; this margin on top only guards against a bug leaving a client waiting forever.
const PARKED_WAIT_MARGIN: Duration = Duration::from_secs(30);

pub fn error_code(error: CoordinatorError) -> i16 {
    match error {
        CoordinatorError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        CoordinatorError::NotCoordinator => ResponseError::NotCoordinator,
        CoordinatorError::InvalidGroupId => ResponseError::InvalidGroupId,
        CoordinatorError::UnknownMemberId => ResponseError::UnknownMemberId,
        CoordinatorError::IllegalGeneration => ResponseError::IllegalGeneration,
        CoordinatorError::RebalanceInProgress => ResponseError::RebalanceInProgress,
        CoordinatorError::MemberIdRequired => ResponseError::MemberIdRequired,
        CoordinatorError::FencedInstanceId => ResponseError::FencedInstanceId,
        CoordinatorError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
        CoordinatorError::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
        CoordinatorError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
        CoordinatorError::GroupIdNotFound => ResponseError::GroupIdNotFound,
        CoordinatorError::NonEmptyGroup => ResponseError::NonEmptyGroup,
        CoordinatorError::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic,
        CoordinatorError::UnknownTopicOrPartition => ResponseError::UnknownTopicOrPartition,
        CoordinatorError::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge,
        CoordinatorError::GroupAuthorizationFailed => ResponseError::GroupAuthorizationFailed,
        CoordinatorError::TopicAuthorizationFailed => ResponseError::TopicAuthorizationFailed,
    }
    .code()
}

pub fn result_code(result: &Result<(), CoordinatorError>) -> i16 {
    match result {
        Ok(()) => 0,
        Err(e) => error_code(*e),
    }
}

/// Whether the caller may perform `operation` on the group (checked before anything else, as
/// Kafka does).
pub fn authorize_group(
    ctx: &BrokerContext,
    caller: &Caller,
    operation: AclOperation,
    group_id: &str,
) -> Result<(), CoordinatorError> {
    if ctx.authorizer.allows_group(caller, operation, group_id) {
        Ok(())
    } else {
        Err(CoordinatorError::GroupAuthorizationFailed)
    }
}

/// Join, Sync, Heartbeat and Leave need a non-empty group id (offset and admin APIs accept
/// an empty one, as Kafka does); all of them need this broker to be the coordinator.
pub fn check_group(
    ctx: &BrokerContext,
    group_id: &str,
    membership: bool,
) -> Result<(), CoordinatorError> {
    if membership && group_id.is_empty() {
        return Err(CoordinatorError::InvalidGroupId);
    }
    ctx.groups.check_coordinator(group_id)
}

/// Waits for a parked request's answer, bounded, and gives up promptly when the broker shuts
/// down (clients then find the coordinator again).
pub async fn await_parked<T>(
    answer: oneshot::Receiver<T>,
    timeout_ms: u64,
    shutdown: &CancellationToken,
) -> Result<T, CoordinatorError> {
    let bound = Duration::from_millis(timeout_ms).saturating_add(PARKED_WAIT_MARGIN);
    tokio::select! {
        // The coordinator dropped the request (replaced by a newer one from the same member,
        // or the member was removed): the client rejoins.
        answer = answer => answer.map_err(|_| CoordinatorError::RebalanceInProgress),
        _ = tokio::time::sleep(bound) => {
            tracing::warn!(waited_ms = bound.as_millis() as u64, "a parked group request was not answered in time");
            Err(CoordinatorError::RebalanceInProgress)
        }
        _ = shutdown.cancelled() => Err(CoordinatorError::CoordinatorNotAvailable),
    }
}
