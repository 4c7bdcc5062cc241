//! A runtime for work that must not take CPU from the Kafka path. Archive passes decode record
//! batches and encode Parquet: on a busy broker that is CPU the produce path needs. Their
//! threads run at the lowest scheduling priority (nice 19), so under contention the kernel
//! gives them only what produce and fetch leave idle, while on an idle machine they run at
//! full speed. The cost is archive lag that grows while the broker is saturated and is made up
//! once it is not.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use skiff_meta::{Command, CommandResponse, ControllerClient, ProposeError, StateHandle};
use tokio::runtime::{Builder, Handle, Runtime};
use tokio_util::task::AbortOnDropHandle;

/// The nice value of background threads: the lowest priority a thread can take.
pub(crate) const BACKGROUND_NICE: i32 = 19;

/// Owns the low-priority runtime. Dropping it stops the runtime without waiting, so it may be
/// dropped from async code; the runner has already drained its jobs by then.
pub(crate) struct BackgroundRuntime {
    runtime: Option<Runtime>,
}

impl BackgroundRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("skiff-background")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(BackgroundRuntime {
            runtime: Some(runtime),
        })
    }

    /// Runs `work` on a background thread. Dropping the handle cancels it, as dropping `work`
    /// itself would.
    pub(crate) fn spawn<F>(&self, work: F) -> Option<AbortOnDropHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref()?;
        Some(AbortOnDropHandle::new(runtime.spawn(work)))
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A controller client whose requests run on the runtime of `io`, whoever calls it: work on
/// the background runtime proposes through this, so a remote controller's connections stay
/// driven by the Kafka path's threads (a connection is served by the runtime that opened it,
/// and the broker's own commits reuse it).
pub(crate) struct SubmitOn {
    pub inner: Arc<dyn ControllerClient>,
    pub io: Handle,
}

impl ControllerClient for SubmitOn {
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ProposeError>> {
        let inner = self.inner.clone();
        let task = self.io.spawn(async move { inner.submit(command).await });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                Err(ProposeError::Unreachable {
                    controller: "local".to_string(),
                    delivered: true,
                    detail: format!("the proposing task failed: {e}"),
                })
            })
        })
    }

    fn state(&self) -> StateHandle {
        self.inner.state()
    }
}

/// Lowers the calling thread's priority. On Linux `setpriority(PRIO_PROCESS, 0)` applies to
/// the calling thread alone. A failure leaves the thread at normal priority, which costs only
/// speed, so it is logged, not fatal.
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
        tracing::warn!(error = %e, "could not lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_runs_at_the_lowest_priority_and_the_caller_does_not() {
        let background = BackgroundRuntime::start().expect("runtime starts");
        let nice = background
            .spawn(async { rustix::process::getpriority_process(None) })
            .expect("running")
            .await
            .expect("task ends")
            .expect("getpriority");
        assert_eq!(nice, BACKGROUND_NICE);
        let here = rustix::process::getpriority_process(None).expect("getpriority");
        assert!(
            here < BACKGROUND_NICE,
            "the caller's thread keeps its priority ({here})"
        );
        // Dropped inside async code: must not panic.
        drop(background);
    }
}
