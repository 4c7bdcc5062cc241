//! librdkafka's async wrappers (`StreamConsumer`, `FutureProducer`) on our tokio runtime.
//!
//! The `rdkafka` crate's own tokio adapter sits behind its `tokio` feature; the binary links
//! one `rdkafka` built with the features `skiff bench` chose, so the two-function adapter
//! lives here instead.

use std::future::Future;
use std::time::Duration;

use rdkafka::util::AsyncRuntime;

pub struct TokioRuntime;

impl AsyncRuntime for TokioRuntime {
    type Delay = tokio::time::Sleep;

    fn spawn<T>(task: T)
    where
        T: Future<Output = ()> + Send + 'static,
    {
        // rdkafka's wake-up loops end when their consumer or producer is dropped.
        drop(tokio::spawn(task));
    }

    fn delay_for(duration: Duration) -> Self::Delay {
        tokio::time::sleep(duration)
    }
}
