//! Why a proposal did not go through, as the broker sees it. The same value travels in the
//! controller's HTTP replies, so a broker learns what the serving node saw without parsing text.

use serde::{Deserialize, Serialize};

/// A proposal that failed before, or instead of, returning its answer. `detail` fields hold the
/// message of an error from another library or process (Raft, the network), rendered once where
/// it was caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProposeError {
    /// The node asked is not the leader. Proposals are retried once a leader is known.
    #[error("this controller node is not the leader ({})", leader_text(.leader, .leader_addr))]
    NotLeader {
        leader: Option<u64>,
        leader_addr: Option<String>,
    },
    #[error("the controller is shutting down")]
    ShuttingDown,
    /// The Raft log or a snapshot could not be written or read on the serving node.
    #[error("controller storage failed: {detail}")]
    Storage { detail: String },
    /// No controller could be reached, or one was reached and did not answer in time (then the
    /// command may or may not have been applied: `delivered`).
    #[error("controller {controller} {}: {detail}", if *.delivered { "did not answer" } else { "is unreachable" })]
    Unreachable {
        controller: String,
        delivered: bool,
        detail: String,
    },
    /// The cluster cannot commit now: no quorum, Raft stopped, or a membership change is
    /// refused.
    #[error("the controller cluster cannot commit: {detail}")]
    NoQuorum { detail: String },
    /// The serving node could not read the request (a broker and a controller of different
    /// builds).
    #[error("the controller refused the request: {detail}")]
    BadRequest { detail: String },
    /// The answer is of another command's kind or size: the command's outcome is unknown.
    /// Only ever made on the receiving side.
    #[error("the controller answered {command} with {answer}")]
    UnexpectedAnswer { command: String, answer: String },
}

fn leader_text(leader: &Option<u64>, addr: &Option<String>) -> String {
    match (leader, addr) {
        (Some(id), Some(addr)) => format!("the leader is node {id} at {addr}"),
        (Some(id), None) => format!("the leader is node {id}"),
        _ => "no leader is known".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened() {
        let e = ProposeError::NotLeader {
            leader: Some(2),
            leader_addr: Some("h:1".into()),
        };
        assert_eq!(
            e.to_string(),
            "this controller node is not the leader (the leader is node 2 at h:1)"
        );
        let e = ProposeError::Unreachable {
            controller: "c1:9191".into(),
            delivered: true,
            detail: "timed out after 10000 ms".into(),
        };
        assert_eq!(
            e.to_string(),
            "controller c1:9191 did not answer: timed out after 10000 ms"
        );
    }

    #[test]
    fn round_trips_through_the_wire_format() {
        let e: Result<u8, ProposeError> = Err(ProposeError::Storage {
            detail: "disk full".into(),
        });
        let bytes = postcard::to_allocvec(&e).expect("encodes");
        let back: Result<u8, ProposeError> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, e);
    }
}
