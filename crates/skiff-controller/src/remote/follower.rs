//! Keeps a [`StateReplica`] current: bootstrap from `/v1/snapshot`, then apply the entries of
//! `/v1/watch` as they arrive. On a broken or silent stream it reconnects to the next
//! controller and resumes after the last applied index; on a resync frame or a gap it
//! bootstraps again. Runs until stopped.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::replica::StateReplica;
use crate::error::{ControllerError, TransportError};
use crate::rpc::ControllerEndpoints;
use crate::rpc::http::error_chain;
use crate::rpc::wire::{WatchFrame, decode_frame};
use skiff_meta::Command;

/// No bytes for this long (controllers send a heartbeat every second): the stream is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(4);
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Why one watch session ended.
enum SessionEnd {
    /// Re-read the whole state before watching again.
    Resync(String),
    /// Reconnect (to the next controller) and resume.
    Reconnect(String),
    Stopped,
}

/// How far the first bootstrap got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Readiness {
    Waiting,
    /// The replica holds a bootstrapped state.
    Ready,
    /// A controller refused this process's credentials: waiting longer cannot help.
    Refused(String),
}

pub(super) struct Follower {
    pub(super) endpoints: Arc<ControllerEndpoints>,
    pub(super) replica: StateReplica,
    pub(super) ready: watch::Sender<Readiness>,
}

impl Follower {
    pub(super) async fn run(self, stop: CancellationToken) {
        let mut needs_bootstrap = true;
        let mut pause = RETRY_FIRST;
        while !stop.is_cancelled() {
            if needs_bootstrap {
                match self.endpoints.snapshot().await {
                    Ok((index, state)) => {
                        self.replica.reset(index, state);
                        self.ready.send_replace(Readiness::Ready);
                        needs_bootstrap = false;
                        tracing::info!(index, "controller state replica bootstrapped");
                    }
                    Err(e) => {
                        if matches!(
                            e,
                            ControllerError::Transport(
                                TransportError::Unauthorized { .. } | TransportError::Tls { .. }
                            )
                        ) && *self.ready.borrow() == Readiness::Waiting
                        {
                            self.ready.send_replace(Readiness::Refused(e.to_string()));
                        }
                        tracing::warn!(error = %e, "cannot read the controller state; retrying");
                        if !sleep(&stop, &mut pause).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            match self.session(&stop).await {
                SessionEnd::Stopped => return,
                SessionEnd::Resync(reason) => {
                    tracing::info!(%reason, "controller watch asked for a resync");
                    needs_bootstrap = true;
                    pause = RETRY_FIRST;
                }
                SessionEnd::Reconnect(reason) => {
                    tracing::warn!(controller = %self.endpoints.current(), %reason, "controller watch broke; reconnecting");
                    self.endpoints.rotate();
                    if !sleep(&stop, &mut pause).await {
                        return;
                    }
                }
            }
        }
    }

    /// One watch connection, from the entry after the replica's applied index.
    async fn session(&self, stop: &CancellationToken) -> SessionEnd {
        let from = self.replica.applied() + 1;
        let mut response = tokio::select! {
            opened = self.endpoints.open_watch(from) => match opened {
                Ok(r) => r,
                Err(e) => return SessionEnd::Reconnect(e.to_string()),
            },
            _ = stop.cancelled() => return SessionEnd::Stopped,
        };
        let mut buf = BytesMut::new();
        let mut batch: Vec<(u64, Option<Command>)> = Vec::new();
        loop {
            let chunk = tokio::select! {
                chunk = tokio::time::timeout(SILENCE_LIMIT, response.chunk()) => chunk,
                _ = stop.cancelled() => return SessionEnd::Stopped,
            };
            let bytes = match chunk {
                Err(_) => {
                    return SessionEnd::Reconnect(format!(
                        "nothing received for {} ms",
                        SILENCE_LIMIT.as_millis()
                    ));
                }
                // reqwest calls a body cut off mid-stream "error decoding response body";
                // the cause chain says what really happened (usually a dropped connection).
                Ok(Err(e)) => {
                    return SessionEnd::Reconnect(format!(
                        "the watch stream broke off: {}",
                        error_chain(&e)
                    ));
                }
                Ok(Ok(None)) => return SessionEnd::Reconnect("the stream ended".into()),
                Ok(Ok(Some(bytes))) => bytes,
            };
            buf.extend_from_slice(&bytes);
            batch.clear();
            loop {
                match decode_frame(&mut buf) {
                    Ok(None) => break,
                    Ok(Some(WatchFrame::Entry { index, command })) => batch.push((index, command)),
                    Ok(Some(WatchFrame::Heartbeat { .. })) => {}
                    Ok(Some(WatchFrame::Resync { reason })) => {
                        // Apply what came before it, then rebuild.
                        if let Err(e) = self.apply(&batch) {
                            return SessionEnd::Resync(e);
                        }
                        return SessionEnd::Resync(reason);
                    }
                    Err(e) => return SessionEnd::Reconnect(e.to_string()),
                }
            }
            if let Err(e) = self.apply(&batch) {
                return SessionEnd::Resync(e);
            }
        }
    }

    fn apply(&self, batch: &[(u64, Option<Command>)]) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        self.replica
            .apply_batch(batch.iter().map(|(i, c)| (*i, c.as_ref())))
            .map_err(|e| e.to_string())
    }
}

/// Sleeps the current backoff (doubling it for next time); false when stopped meanwhile.
async fn sleep(stop: &CancellationToken, pause: &mut Duration) -> bool {
    let current = *pause;
    *pause = (*pause * 2).min(RETRY_MAX);
    tokio::select! {
        _ = tokio::time::sleep(current) => true,
        _ = stop.cancelled() => false,
    }
}
