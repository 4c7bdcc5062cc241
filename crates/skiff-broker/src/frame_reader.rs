//! Reads size-prefixed request frames off a socket within two bounds: a broker-wide budget of
//! request bytes held in memory (Kafka's `queued.max.request.bytes`), taken as the bytes
//! arrive, so a client that claims a large frame and sends part of it holds only what it sent;
//! and a deadline for completing a frame once it started, so slow senders cannot hold
//! connections (and budget) for long. When the budget is spent, reading waits: back-pressure
//! instead of allocation.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

/// Budget is taken in pieces of at most this many bytes, each just before they are read.
const BUDGET_CHUNK: usize = 64 * 1024;
const LENGTH_PREFIX: usize = 4;

/// What reading the next frame came to.
pub enum FrameEvent {
    /// A whole frame, and the budget its bytes hold until the permit is dropped.
    Frame(Bytes, Option<OwnedSemaphorePermit>),
    /// The client closed the connection between frames.
    Closed,
    /// The connection ended inside a frame, or the read failed.
    Failed(std::io::Error),
    /// The length prefix is negative or over the limit.
    TooLarge { length: i64, limit: usize },
    /// The frame did not arrive whole within the deadline.
    TimedOut {
        received: usize,
        length: Option<usize>,
    },
}

pub struct FrameReader<R> {
    read: R,
    max_frame: usize,
    budget: Arc<Semaphore>,
    deadline_after: Duration,
    prefix: [u8; LENGTH_PREFIX],
    prefix_len: usize,
    length: Option<usize>,
    body: BytesMut,
    /// Budget held for `body`: at least its length, and the piece being read.
    held: Option<OwnedSemaphorePermit>,
    /// When the current frame must be complete; set by its first byte.
    deadline: Option<Instant>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(
        read: R,
        max_frame: usize,
        budget: Arc<Semaphore>,
        deadline_after: Duration,
    ) -> Self {
        FrameReader {
            read,
            max_frame,
            budget,
            deadline_after,
            prefix: [0; LENGTH_PREFIX],
            prefix_len: 0,
            length: None,
            body: BytesMut::new(),
            held: None,
            deadline: None,
        }
    }

    /// Whether part of a frame has arrived.
    pub fn in_frame(&self) -> bool {
        self.deadline.is_some()
    }

    /// The next frame. Cancel-safe: everything read or reserved so far is kept in `self`, so
    /// this can race other branches of a `select!`.
    pub async fn next(&mut self) -> FrameEvent {
        loop {
            let Some(length) = self.length else {
                match self.read_prefix().await {
                    Ok(true) => continue,
                    Ok(false) => return FrameEvent::Closed,
                    Err(event) => return event,
                }
            };
            let received = self.body.len();
            if received == length {
                self.deadline = None;
                self.length = None;
                self.prefix_len = 0;
                let frame = std::mem::take(&mut self.body).freeze();
                return FrameEvent::Frame(frame, self.held.take());
            }
            let piece = (length - received).min(BUDGET_CHUNK);
            let held = self.held.as_ref().map_or(0, |p| p.num_permits());
            if held < received + piece {
                // Waiting for budget is the broker's doing, not the client's: it does not count
                // against the client's deadline.
                let waited_from = Instant::now();
                let wanted = u32::try_from(received + piece - held).unwrap_or(u32::MAX);
                let Ok(permit) = self.budget.clone().acquire_many_owned(wanted).await else {
                    return FrameEvent::Failed(std::io::Error::other("request budget closed"));
                };
                match &mut self.held {
                    Some(held) => held.merge(permit),
                    None => self.held = Some(permit),
                }
                if let Some(deadline) = &mut self.deadline {
                    *deadline += waited_from.elapsed();
                }
            }
            let deadline = self
                .deadline
                .unwrap_or_else(|| Instant::now() + self.deadline_after);
            let mut limited = (&mut self.read).take(piece as u64);
            match timeout_at(deadline, limited.read_buf(&mut self.body)).await {
                Err(_) => {
                    return FrameEvent::TimedOut {
                        received,
                        length: Some(length),
                    };
                }
                Ok(Err(error)) => return FrameEvent::Failed(error),
                Ok(Ok(0)) => {
                    return FrameEvent::Failed(std::io::ErrorKind::UnexpectedEof.into());
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Reads the length prefix; `Ok(false)` for a clean close before any byte of it.
    async fn read_prefix(&mut self) -> Result<bool, FrameEvent> {
        while self.prefix_len < LENGTH_PREFIX {
            let rest = self.prefix.get_mut(self.prefix_len..).unwrap_or_default();
            let read = match self.deadline {
                // Between frames the connection may stay quiet (the idle timer owns that).
                None => self.read.read(rest).await,
                Some(deadline) => match timeout_at(deadline, self.read.read(rest)).await {
                    Ok(read) => read,
                    Err(_) => {
                        return Err(FrameEvent::TimedOut {
                            received: self.prefix_len,
                            length: None,
                        });
                    }
                },
            };
            match read {
                Ok(0) if self.prefix_len == 0 => return Ok(false),
                Ok(0) => return Err(FrameEvent::Failed(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    if self.prefix_len == 0 {
                        self.deadline = Some(Instant::now() + self.deadline_after);
                    }
                    self.prefix_len += n;
                }
                Err(error) => return Err(FrameEvent::Failed(error)),
            }
        }
        let length = i32::from_be_bytes(self.prefix);
        match usize::try_from(length) {
            Ok(length) if length <= self.max_frame => {
                self.length = Some(length);
                // Capacity is address space only until bytes arrive; the budget counts those.
                self.body = BytesMut::with_capacity(length);
                Ok(true)
            }
            _ => Err(FrameEvent::TooLarge {
                length: i64::from(length),
                limit: self.max_frame,
            }),
        }
    }
}
