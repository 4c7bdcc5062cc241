//! The produce side: one thread sends from a single reused payload buffer, another polls
//! librdkafka for delivery reports and records send → ack latency.
//!
//! The latency histogram lives in the polling thread's thread-local storage: librdkafka calls
//! the delivery callback with `&self` on whichever thread polls, and only the polling thread
//! polls (it also flushes), so recording is a plain write with no lock or atomic RMW.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::types::RDKafkaErrorCode;

use crate::args::StopCondition;
use crate::error::BenchError;
use crate::latency::{LatencyRecorder, RunClock, write_stamp};
use crate::live::LiveCounters;
use crate::throttle::Throttle;

/// How long the sender backs off when librdkafka's local queue is full; the poller drains
/// it meanwhile.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);

/// How often the duration stop condition reads the clock (in records).
const CLOCK_CHECK_EVERY: u64 = 64;

/// How long one poll call waits for delivery reports before the poller rechecks its exit.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Everything the produce threads need.
pub struct ProduceJob {
    pub config: ClientConfig,
    pub topic: String,
    pub record_size: usize,
    /// Key each record with its sequence number (see `LoadArgs::keyed`).
    pub keyed: bool,
    pub stop: StopCondition,
    pub records_per_sec: Option<f64>,
    pub clock: RunClock,
    pub counters: Arc<LiveCounters>,
}

/// What the produce side saw, once every record was acknowledged or failed.
#[derive(Debug)]
pub struct ProduceOutcome {
    /// Records the generator tried to send; each ends up acked or counted in `errors`.
    pub sent: u64,
    pub acked: u64,
    pub acked_bytes: u64,
    pub errors: u64,
    pub latency: LatencyRecorder,
    /// From the run's start to the last acknowledgement.
    pub elapsed: Duration,
}

/// The running produce threads.
pub struct ProduceRun {
    sender: JoinHandle<u64>,
    poller: JoinHandle<Option<PollThreadState>>,
    counters: Arc<LiveCounters>,
}

/// Per-poll-thread delivery state; see the module comment for why it is thread-local.
struct PollThreadState {
    latency: LatencyRecorder,
    last_ack_nanos: u64,
}

thread_local! {
    static POLL_THREAD_STATE: RefCell<Option<PollThreadState>> = const { RefCell::new(None) };
}

/// The producer context: counts deliveries into the shared counters.
struct DeliveryTally {
    counters: Arc<LiveCounters>,
    clock: RunClock,
}

impl ClientContext for DeliveryTally {}

impl ProducerContext for DeliveryTally {
    /// The send time in nanoseconds since the run's start, carried through librdkafka.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_nanos: usize) {
        match result {
            Ok(message) => {
                let now = self.clock.now_nanos();
                self.counters.acked.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .acked_bytes
                    .fetch_add(message.payload_len() as u64, Ordering::Relaxed);
                POLL_THREAD_STATE.with_borrow_mut(|state| {
                    if let Some(state) = state {
                        state.latency.record_between(sent_nanos as u64, now);
                        state.last_ack_nanos = now;
                    }
                });
            }
            Err((error, _)) => {
                self.counters.record_error(error);
            }
        }
    }
}

type BenchProducer = BaseProducer<DeliveryTally>;

/// Creates the producer and starts the send and poll threads.
pub fn start(job: ProduceJob) -> Result<ProduceRun, BenchError> {
    let context = DeliveryTally {
        counters: job.counters.clone(),
        clock: job.clock,
    };
    let producer: BenchProducer = job
        .config
        .create_with_context(context)
        .map_err(|source| BenchError::client_creation("create the producer", source))?;
    let producer = Arc::new(producer);
    let job_counters = job.counters.clone();
    // The poller owns its histogram from before the first send.
    let latency = LatencyRecorder::new()?;

    let poller = {
        let producer = producer.clone();
        let counters = job.counters.clone();
        std::thread::Builder::new()
            .name("bench-poll".into())
            .spawn(move || poll_until_done(&producer, &counters, latency))
            .map_err(|source| BenchError::Spawn {
                name: "delivery poll",
                source,
            })?
    };
    let sender = std::thread::Builder::new()
        .name("bench-send".into())
        .spawn(move || send_all(&producer, &job))
        .map_err(|source| {
            // Release the poller, which otherwise waits for a sender that never ran.
            job_counters.abort();
            job_counters.send_done.store(true, Ordering::Release);
            BenchError::Spawn {
                name: "send",
                source,
            }
        })?;
    Ok(ProduceRun {
        sender,
        poller,
        counters: job_counters,
    })
}

impl ProduceRun {
    /// Waits (blocking) for both threads and adds up what they saw.
    pub fn join(self) -> Result<ProduceOutcome, BenchError> {
        let lost_poller = BenchError::WorkerLost {
            name: "delivery poll",
        };
        let sent = self
            .sender
            .join()
            .map_err(|_| BenchError::WorkerLost { name: "send" })?;
        let polled = self
            .poller
            .join()
            .map_err(|_| BenchError::WorkerLost {
                name: "delivery poll",
            })?
            .ok_or(lost_poller)?;
        let counters = &self.counters;
        Ok(ProduceOutcome {
            sent,
            acked: counters.acked.load(Ordering::Relaxed),
            acked_bytes: counters.acked_bytes.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
            latency: polled.latency,
            elapsed: Duration::from_nanos(polled.last_ack_nanos),
        })
    }
}

/// Sends until the stop condition; returns how many records librdkafka accepted.
fn send_all(producer: &BenchProducer, job: &ProduceJob) -> u64 {
    let counters = &job.counters;
    let throttle = Throttle::new(job.records_per_sec, job.clock.origin());
    // One payload for the whole run: only its send stamp changes between records.
    let mut payload = filler(job.record_size);
    let mut sent: u64 = 0;
    'records: loop {
        if counters.abort.load(Ordering::Relaxed) {
            break;
        }
        match job.stop {
            StopCondition::Records(total) if sent >= total => break,
            StopCondition::Duration(limit)
                if sent.is_multiple_of(CLOCK_CHECK_EVERY)
                    && job.clock.origin().elapsed() >= limit =>
            {
                break;
            }
            _ => {}
        }
        if let Some(throttle) = &throttle {
            throttle.wait_for_turn(sent);
        }
        let sent_nanos = job.clock.now_nanos();
        write_stamp(&mut payload, sent_nanos);
        let key = sent.to_be_bytes();
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(&job.topic, sent_nanos as usize)
                .payload(payload.as_slice());
        if job.keyed {
            record = record.key(key.as_slice());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if counters.abort.load(Ordering::Relaxed) {
                        break 'records;
                    }
                    record = back;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((error, _)) => {
                    // Counted as sent and failed, so acked + errors still adds up to sent.
                    counters.record_error(&error);
                    break;
                }
            }
        }
        sent += 1;
        counters.sent.store(sent, Ordering::Relaxed);
    }
    counters.send_done.store(true, Ordering::Release);
    sent
}

fn poll_until_done(
    producer: &BenchProducer,
    counters: &LiveCounters,
    latency: LatencyRecorder,
) -> Option<PollThreadState> {
    POLL_THREAD_STATE.set(Some(PollThreadState {
        latency,
        last_ack_nanos: 0,
    }));
    let mut purged = false;
    loop {
        producer.poll(POLL_INTERVAL);
        if counters.abort.load(Ordering::Relaxed) && !purged {
            // Ctrl-C or a failed consumer: fail what is queued instead of waiting out
            // message.timeout.ms; the purged records come back as errors.
            producer.purge(PurgeConfig::default().queue().inflight());
            purged = true;
        }
        if counters.send_done.load(Ordering::Acquire) && producer.in_flight_count() == 0 {
            // One more round serves reports that arrived with the last count change.
            producer.poll(Duration::ZERO);
            break;
        }
    }
    counters.produce_done.store(true, Ordering::Release);
    POLL_THREAD_STATE.take()
}

/// Printable, mildly compressible filler, like kafka-producer-perf-test's random payload.
fn filler(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            // xorshift32: deterministic and dependency-free.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'A' + (state % 26) as u8
        })
        .collect()
}
