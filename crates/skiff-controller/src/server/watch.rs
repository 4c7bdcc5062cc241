//! `GET /v1/watch?from=N`: a long-lived stream of the entries this node applied, from N on,
//! read from the in-memory ring. Pull-based: the next chunk is built only when the connection
//! took the previous one, so a slow watcher costs no memory here; if it falls out of the ring
//! it gets a resync frame and the stream ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_util::sync::CancellationToken;

use super::route_state::Shared;
use crate::raft::types::RaftMetrics;
use crate::raft::{AppliedEntry, AppliedLog};
use crate::rpc::wire::POSTCARD;
use skiff_meta::Command;

/// Sent when nothing was applied for this long, so both ends notice a dead connection.
pub const WATCH_HEARTBEAT: Duration = Duration::from_millis(1000);
/// Entries per chunk written to the connection.
const ENTRIES_PER_CHUNK: usize = 256;

/// Borrowed twin of [`crate::rpc::wire::WatchFrame`]: same variants in the same order, so it
/// encodes to the same bytes without cloning the command.
#[derive(Serialize)]
pub(crate) enum WatchFrameRef<'a> {
    Entry {
        index: u64,
        command: Option<&'a Command>,
    },
    Heartbeat {
        applied: u64,
    },
    Resync {
        reason: &'a str,
    },
}

#[derive(Debug, Deserialize)]
pub(super) struct WatchParams {
    from: u64,
}

pub(super) async fn watch(State(s): State<Shared>, Query(params): Query<WatchParams>) -> Response {
    let Ok(permit) = s.watchers.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many watch streams on this controller; try another",
        )
            .into_response();
    };
    let cursor = Cursor {
        _permit: permit,
        metrics: s.controller.raft_metrics(),
        next: params.from,
        applied: s.controller.state().applied(),
        log: s.controller.applied_log.clone(),
        stop: s.stop.clone(),
        finished: false,
        batch: Vec::with_capacity(ENTRIES_PER_CHUNK),
    };
    let stream = futures::stream::unfold(cursor, |mut cursor| async move {
        let chunk = cursor.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), cursor))
    });
    ([(CONTENT_TYPE, POSTCARD)], Body::from_stream(stream)).into_response()
}

struct Cursor {
    _permit: OwnedSemaphorePermit,
    metrics: watch::Receiver<RaftMetrics>,
    next: u64,
    applied: watch::Receiver<u64>,
    log: AppliedLog,
    stop: CancellationToken,
    finished: bool,
    batch: Vec<AppliedEntry>,
}

impl Cursor {
    /// The next chunk of frames, or `None` when the stream ends.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        loop {
            // Mark the current index seen before reading the ring, so an entry applied right
            // after the read still wakes us.
            let applied = *self.applied.borrow_and_update();
            self.batch.clear();
            match self
                .log
                .read_from(self.next, ENTRIES_PER_CHUNK, &mut self.batch)
            {
                Err(gone) => {
                    self.finished = true;
                    let reason = format!(
                        "entry {} is no longer in memory here (oldest {})",
                        self.next, gone.oldest
                    );
                    return encode(&[WatchFrameRef::Resync { reason: &reason }]);
                }
                Ok(()) if !self.batch.is_empty() => {
                    let frames: Vec<WatchFrameRef<'_>> = self
                        .batch
                        .iter()
                        .map(|(index, command)| WatchFrameRef::Entry {
                            index: *index,
                            command: command.as_deref(),
                        })
                        .collect();
                    if let Some((last, _)) = self.batch.last() {
                        self.next = last.saturating_add(1);
                    }
                    return encode(&frames);
                }
                Ok(()) => {}
            }
            tokio::select! {
                changed = self.applied.changed() => if changed.is_err() { return None },
                _ = tokio::time::sleep(WATCH_HEARTBEAT) => {
                    // A node cut off from the others would keep a watcher on stale state
                    // forever; ending the stream sends it to another controller.
                    if self.metrics.borrow().current_leader.is_none() {
                        tracing::info!("no controller leader known: ending a watch stream");
                        self.finished = true;
                        return None;
                    }
                    return encode(&[WatchFrameRef::Heartbeat { applied }]);
                }
                _ = self.stop.cancelled() => return None,
            }
        }
    }
}

fn encode(frames: &[WatchFrameRef<'_>]) -> Option<Bytes> {
    let mut out = Vec::new();
    for frame in frames {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out = match postcard::to_extend(frame, out) {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a watch frame; ending the stream");
                return None;
            }
        };
        let len = u32::try_from(out.len() - start - 4).ok()?;
        out.get_mut(start..start + 4)?
            .copy_from_slice(&len.to_be_bytes());
    }
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::wire::{WatchFrame, decode_frame};

    #[test]
    fn borrowed_frames_encode_like_owned_ones() {
        let command = Command::InitCluster(skiff_meta::InitCluster {
            cluster_id: "c".into(),
        });
        let bytes = encode(&[
            WatchFrameRef::Entry {
                index: 3,
                command: Some(&command),
            },
            WatchFrameRef::Heartbeat { applied: 3 },
            WatchFrameRef::Resync { reason: "r" },
        ])
        .expect("encodes");
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        let mut frames = Vec::new();
        while let Some(f) = decode_frame(&mut buf).expect("decodes") {
            frames.push(f);
        }
        assert_eq!(
            frames,
            vec![
                WatchFrame::Entry {
                    index: 3,
                    command: Some(command)
                },
                WatchFrame::Heartbeat { applied: 3 },
                WatchFrame::Resync { reason: "r".into() },
            ]
        );
    }
}
