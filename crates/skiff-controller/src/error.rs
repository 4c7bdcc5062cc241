//! Errors the controller handle returns to its callers.

/// Why a controller operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// Proposals must go to the leader; with one node this only happens while an election runs.
    #[error("this controller node is not the leader ({})", describe_leader(.leader))]
    NotLeader { leader: Option<u64> },
    #[error("controller unavailable: {0}")]
    Unavailable(String),
    #[error("controller storage failed: {0}")]
    Storage(String),
    #[error("the controller is shutting down")]
    ShuttingDown,
    #[error("invalid controller configuration: {0}")]
    InvalidConfig(String),
}

fn describe_leader(leader: &Option<u64>) -> String {
    match leader {
        Some(id) => format!("the leader is node {id}"),
        None => "no leader is known".to_string(),
    }
}
