//! Reads size-prefixed request frames off a socket within two bounds: a broker-wide budget of
//! request bytes held in memory (Kafka's `queued.max.request.bytes`), and a deadline for
//! completing a frame once it started, so slow senders cannot hold connections (and budget)
//! for long. When the budget is spent, reading waits: back-pressure instead of allocation.
//!
//! A frame takes the budget for all of its length at once, before its body is read, as
//! Kafka's memory pool does. Taking it piece by piece as bytes arrive would let every reader
//! hold part of the budget while it waits for more: once the pieces add up to the whole
//! budget, no reader can go on and none times out (waiting for budget does not count against
//! a client's deadline), so the broker stops reading requests altogether.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

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
    /// Budget held for the frame being read: all of its length.
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

    /// Changes the largest frame accepted from the next one on (SASL lifts its
    /// pre-authentication limit once the client authenticated).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
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
            if self.held.is_none() && length > 0 {
                // Waiting for budget is the broker's doing, not the client's: it does not count
                // against the client's deadline. Nothing is held while waiting.
                let waited_from = Instant::now();
                let wanted = u32::try_from(length).unwrap_or(u32::MAX);
                let Ok(permit) = self.budget.clone().acquire_many_owned(wanted).await else {
                    return FrameEvent::Failed(std::io::Error::other("request budget closed"));
                };
                self.held = Some(permit);
                if let Some(deadline) = &mut self.deadline {
                    *deadline += waited_from.elapsed();
                }
            }
            let deadline = self
                .deadline
                .unwrap_or_else(|| Instant::now() + self.deadline_after);
            let mut limited = (&mut self.read).take((length - received) as u64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const KIB: usize = 1024;

    /// Two clients each start a frame larger than half the budget and stall halfway: with
    /// budget taken piece by piece both would hold part of it and wait for the rest forever.
    /// Taken whole, one frame holds the budget until its deadline closes it, and the other is
    /// then read in full.
    #[tokio::test]
    async fn frames_that_together_exceed_the_budget_are_read_in_turn() {
        let budget = Arc::new(Semaphore::new(128 * KIB));
        let deadline = Duration::from_millis(200);
        let length = 100 * KIB;
        let (mut stalled_client, stalled_server) = tokio::io::duplex(256 * KIB);
        let (mut honest_client, honest_server) = tokio::io::duplex(256 * KIB);
        let mut stalled = FrameReader::new(stalled_server, length, budget.clone(), deadline);
        let mut honest = FrameReader::new(honest_server, length, budget.clone(), deadline);

        let prefix = (length as i32).to_be_bytes();
        stalled_client.write_all(&prefix).await.unwrap();
        stalled_client
            .write_all(&vec![1u8; 70 * KIB])
            .await
            .unwrap();
        honest_client.write_all(&prefix).await.unwrap();
        honest_client.write_all(&vec![2u8; 70 * KIB]).await.unwrap();

        let stalled_read = tokio::spawn(async move { stalled.next().await });
        // The honest client sends the rest of its frame only once its reader waits, so both
        // readers have started their frames before either can finish.
        let honest_read = tokio::spawn(async move { honest.next().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        honest_client.write_all(&vec![2u8; 30 * KIB]).await.unwrap();

        let outcome = tokio::time::timeout(Duration::from_secs(20), async {
            (stalled_read.await.unwrap(), honest_read.await.unwrap())
        })
        .await
        .expect("neither reader may wait for budget forever");
        match outcome {
            (FrameEvent::TimedOut { .. }, FrameEvent::Frame(frame, permit)) => {
                assert_eq!(frame.len(), length);
                assert!(frame.iter().all(|&b| b == 2));
                assert_eq!(permit.map(|p| p.num_permits()), Some(length));
            }
            (FrameEvent::Frame(..), FrameEvent::TimedOut { .. }) => {
                panic!("the stalled frame completed")
            }
            _ => panic!("expected the stalled frame to time out and the honest one to be read"),
        }
        assert_eq!(budget.available_permits(), 128 * KIB);
        drop(stalled_client);
    }
}
