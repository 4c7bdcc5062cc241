//! Why a group operation failed, in the coordinator's terms. Handlers turn these into Kafka
//! error codes (`handlers/group_errors.rs`).

/// One failure a client can act on. Each variant is one Kafka error a consumer knows how to
/// handle (rejoin, rediscover the coordinator, retry, or give up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatorError {
    #[error("the group coordinator is not available; find the coordinator again and retry")]
    CoordinatorNotAvailable,
    #[error("this broker is not the coordinator of the group")]
    NotCoordinator,
    #[error("the group id is empty")]
    InvalidGroupId,
    #[error("the member id is not known to the group")]
    UnknownMemberId,
    #[error("the generation is not the group's current generation")]
    IllegalGeneration,
    #[error("the group is rebalancing; rejoin")]
    RebalanceInProgress,
    #[error("rejoin with the member id this response carries")]
    MemberIdRequired,
    #[error("another member with the same group.instance.id replaced this one")]
    FencedInstanceId,
    #[error("the protocol type or protocols do not match the group's")]
    InconsistentGroupProtocol,
    #[error("the session timeout is outside the broker's allowed range")]
    InvalidSessionTimeout,
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    #[error("the group does not exist")]
    GroupIdNotFound,
    #[error("the group still has members")]
    NonEmptyGroup,
    #[error("a live member of the group is subscribed to the topic")]
    GroupSubscribedToTopic,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("the offset metadata is larger than the broker allows")]
    OffsetMetadataTooLarge,
    #[error("not authorized to access the group")]
    GroupAuthorizationFailed,
    #[error("not authorized to access the topic")]
    TopicAuthorizationFailed,
}

impl From<skiff_meta::GroupError> for CoordinatorError {
    fn from(error: skiff_meta::GroupError) -> Self {
        use skiff_meta::GroupError;
        match error {
            GroupError::UnknownTopicOrPartition => CoordinatorError::UnknownTopicOrPartition,
            GroupError::UnknownGroup => CoordinatorError::GroupIdNotFound,
            // The controller saw another broker as the coordinator when the write applied:
            // the client finds the coordinator again and retries there.
            GroupError::NotCoordinator => CoordinatorError::NotCoordinator,
        }
    }
}
