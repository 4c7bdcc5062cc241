//! Openraft's errors as the model's [`ProposeError`], for every caller that drives Raft.

use openraft::BasicNode;
use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, InitializeError, RaftError};
use skiff_meta::ProposeError;

pub(crate) fn from_fatal(fatal: Fatal<u64>) -> ProposeError {
    match fatal {
        Fatal::Stopped => ProposeError::ShuttingDown,
        Fatal::StorageError(e) => ProposeError::Storage {
            detail: e.to_string(),
        },
        Fatal::Panicked => ProposeError::NoQuorum {
            detail: "the raft core task panicked".into(),
        },
    }
}

pub(crate) fn from_leader_check(
    e: RaftError<u64, CheckIsLeaderError<u64, BasicNode>>,
) -> ProposeError {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)) => {
            ProposeError::NotLeader {
                leader: forward.leader_id,
                leader_addr: forward.leader_node.map(|n| n.addr),
            }
        }
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)) => ProposeError::NoQuorum {
            detail: e.to_string(),
        },
        RaftError::Fatal(fatal) => from_fatal(fatal),
    }
}

/// Why a write (a command or a membership change) did not commit.
pub(crate) fn client_write_error(
    e: RaftError<u64, ClientWriteError<u64, BasicNode>>,
) -> ProposeError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
            ProposeError::NotLeader {
                leader: forward.leader_id,
                leader_addr: forward.leader_node.map(|n| n.addr),
            }
        }
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => ProposeError::NoQuorum {
            detail: format!("membership change refused: {e}"),
        },
        RaftError::Fatal(fatal) => from_fatal(fatal),
    }
}

pub(crate) fn initialize_error(e: RaftError<u64, InitializeError<u64, BasicNode>>) -> ProposeError {
    match e {
        RaftError::Fatal(fatal) => from_fatal(fatal),
        RaftError::APIError(e) => ProposeError::NoQuorum {
            detail: format!("cannot initialise the controller membership: {e}"),
        },
    }
}
