//! The bodies exchanged over the controller's HTTP API. Every body is postcard; every reply of
//! the broker and admin API is a `Result<T, ProposeError>` so callers learn why a request failed
//! without parsing text. Watch streams carry length-prefixed frames (see [`encode_frame`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use skiff_meta::{Command, CommandResponse};

pub const PATH_RAFT_APPEND: &str = "/raft/append";
pub const PATH_RAFT_VOTE: &str = "/raft/vote";
pub const PATH_RAFT_SNAPSHOT: &str = "/raft/snapshot";
pub const PATH_PROPOSE: &str = "/v1/propose";
pub const PATH_SNAPSHOT: &str = "/v1/snapshot";
pub const PATH_WATCH: &str = "/v1/watch";
pub const PATH_STATUS: &str = "/v1/status";
pub const PATH_ADD_NODE: &str = "/v1/admin/add-node";
pub const PATH_REMOVE_NODE: &str = "/v1/admin/remove-node";

/// The content type of every postcard body.
pub const POSTCARD: &str = "application/x-postcard";

/// The largest watch frame a reader accepts; a commit of a very large flush stays far below.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// `POST /v1/propose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposeRequest {
    pub command: Command,
    /// Set by a follower that forwards to the leader, so a request is forwarded at most once
    /// (two nodes that disagree about the leader cannot bounce it between them).
    pub forwarded: bool,
}

/// A proposal that was committed and applied at `index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposed {
    pub index: u64,
    pub response: CommandResponse,
}

/// `GET /v1/snapshot`: the whole state as of `index`, postcard-encoded `ControllerState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSnapshot {
    pub index: u64,
    pub state: Vec<u8>,
}

/// One frame of `GET /v1/watch?from=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchFrame {
    /// The log entry at `index`; `None` for Raft's own entries (blank, membership), which
    /// change nothing a broker sees but keep the indexes contiguous.
    Entry {
        index: u64,
        command: Option<Command>,
    },
    /// Nothing new; `applied` is the serving node's applied index.
    Heartbeat { applied: u64 },
    /// The entries the watcher needs are gone from the serving node's memory: fetch
    /// `/v1/snapshot` and watch again from after its index.
    Resync { reason: String },
}

/// `POST /v1/admin/add-node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddNodeRequest {
    pub id: u64,
    pub addr: String,
    pub forwarded: bool,
}

/// `POST /v1/admin/remove-node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveNodeRequest {
    pub id: u64,
    pub forwarded: bool,
}

/// The membership after a change: voters and learners with their addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipReply {
    pub index: u64,
    pub voters: BTreeMap<u64, String>,
    pub learners: BTreeMap<u64, String>,
}

/// `GET /v1/status` (postcard; `?format=json` for people and scripts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node_id: u64,
    /// `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub role: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub leader_addr: Option<String>,
    pub last_log_index: Option<u64>,
    pub applied_index: u64,
    pub snapshot_index: Option<u64>,
    pub voters: BTreeMap<u64, String>,
    pub learners: BTreeMap<u64, String>,
    pub cluster_id: Option<String>,
    /// Registered brokers as this node's applied state has them.
    pub brokers: Vec<BrokerStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    pub id: i32,
    /// `host:port` clients are told.
    pub addr: String,
    pub live: bool,
}

/// Appends one frame: a 4-byte big-endian length, then the postcard body.
pub fn encode_frame(frame: &WatchFrame, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut buf = std::mem::take(out);
    buf = postcard::to_extend(frame, buf)?;
    *out = buf;
    let len =
        u32::try_from(out.len() - start - 4).map_err(|_| postcard::Error::SerializeBufferFull)?;
    if let Some(prefix) = out.get_mut(start..start + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Why a watch stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("watch frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("undecodable watch frame: {0}")]
    Decode(#[from] postcard::Error),
}

/// Takes one complete frame off the front of `buf`, if it holds one.
pub fn decode_frame(buf: &mut bytes::BytesMut) -> Result<Option<WatchFrame>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(prefix);
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let frame = buf.split_to(4 + len);
    let body = frame.get(4..).unwrap_or_default();
    Ok(Some(postcard::from_bytes(body)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_meta::{CreateTopics, NewTopic};

    #[test]
    fn frames_round_trip_whole_and_split_anywhere() {
        let frames = vec![
            WatchFrame::Entry {
                index: 7,
                command: Some(Command::CreateTopics(CreateTopics(vec![NewTopic {
                    name: "t".into(),
                    id: uuid::Uuid::from_u128(3),
                    partitions: 2,
                    configs: Default::default(),
                    created_ms: 5,
                }]))),
            },
            WatchFrame::Entry {
                index: 8,
                command: None,
            },
            WatchFrame::Heartbeat { applied: 8 },
            WatchFrame::Resync {
                reason: "gone".into(),
            },
        ];
        let mut wire = Vec::new();
        for f in &frames {
            encode_frame(f, &mut wire).expect("encodes");
        }
        for split in 0..wire.len() {
            let mut buf = bytes::BytesMut::new();
            let mut decoded = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                buf.extend_from_slice(part);
                while let Some(f) = decode_frame(&mut buf).expect("decodes") {
                    decoded.push(f);
                }
            }
            assert_eq!(decoded, frames, "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn oversized_and_garbage_frames_are_errors_not_panics() {
        let mut buf = bytes::BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1][..]);
        assert!(matches!(
            decode_frame(&mut buf),
            Err(FrameError::TooLarge(_))
        ));
        let mut buf = bytes::BytesMut::from(&[0, 0, 0, 2, 0xff, 0xff][..]);
        assert!(matches!(decode_frame(&mut buf), Err(FrameError::Decode(_))));
    }

    #[test]
    fn replies_round_trip() {
        let reply: Result<Proposed, skiff_meta::ProposeError> =
            Err(skiff_meta::ProposeError::NotLeader {
                leader: Some(2),
                leader_addr: Some("h:1".into()),
            });
        let bytes = postcard::to_allocvec(&reply).expect("encodes");
        let back: Result<Proposed, skiff_meta::ProposeError> =
            postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, reply);
    }
}
