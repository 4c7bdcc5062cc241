//! The trigger's consumer-group member (librdkafka) and its dispatcher.
//!
//! librdkafka does group membership, rebalancing and committing. One task per trigger polls
//! the consumer and hands each record, encoded as event JSON, to its partition's worker over
//! a bounded channel. A worker that falls behind (a slow or failing function) does not hold
//! up the others: when its channel or byte budget is full, its partition is paused in
//! librdkafka (which then drops what it prefetched for it and later resumes from the last
//! record handed out) until the worker catches up.
//!
//! Commits are the workers': after a batch succeeded they commit its next offset, unless the
//! partition was revoked in the meantime (the rebalance callback closes a partition's commit
//! gate before librdkafka gives it up, so a late worker cannot move a new owner's offset
//! back).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::metrics::TriggerMetrics;
use super::partition::{Commit, EncodedRecord, GlobalBudget, PartitionBudget};
use super::runtime::TokioRuntime;
use super::settings::{DEFAULT_SESSION_TIMEOUT_MS, StartingPosition};
use crate::event::{EventRecord, MAX_PAYLOAD_BYTES, TimestampType, encode_record};

pub type TriggerConsumer = StreamConsumer<TriggerContext, TokioRuntime>;

/// A partition pauses when its fetched-but-unfinished records exceed this (two full payloads:
/// the batch being invoked and the next one filling).
pub const PARTITION_BUFFER_BYTES: usize = 2 * MAX_PAYLOAD_BYTES + MAX_PAYLOAD_BYTES / 2;
/// Every partition of the trigger pauses while all of them together hold this much.
pub const GLOBAL_BUFFER_BYTES: usize = 256 * 1024 * 1024;
/// Each partition's records are encoded into shared buffers of this size (a record larger
/// than it gets one of its own), so handing a record to its worker allocates nothing; a
/// buffer is freed when the last of its records is finished.
const RECORD_BUFFER_BYTES: usize = 64 * 1024;
/// How long the blocking librdkafka calls of a rebalance (committed offsets, offsets for a
/// timestamp) may take before the partition falls back to the oldest record.
const REBALANCE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether this process may still commit for a partition, and how to stop its worker.
#[derive(Debug)]
pub struct Ownership {
    owned: Mutex<bool>,
    pub cancel: CancellationToken,
}

/// What the rebalance callback tells the dispatcher.
#[derive(Debug)]
pub enum RebalanceEvent {
    Assigned(String, i32, Arc<Ownership>),
    Revoked(String, i32),
}

/// How often librdkafka reports statistics, from which the lag gauges come.
pub const STATISTICS_INTERVAL_MS: &str = "5000";

/// librdkafka's callbacks for one trigger.
pub struct TriggerContext {
    group: String,
    starting_position: StartingPosition,
    ownerships: StdMutex<HashMap<(String, i32), Arc<Ownership>>>,
    events: StdMutex<VecDeque<RebalanceEvent>>,
    wake: Arc<Notify>,
    metrics: TriggerMetrics,
    lag: StdMutex<HashMap<(String, i32), metrics::Gauge>>,
}

impl TriggerContext {
    pub fn new(
        group: &str,
        starting_position: StartingPosition,
        wake: Arc<Notify>,
        metrics: TriggerMetrics,
    ) -> TriggerContext {
        TriggerContext {
            group: group.to_owned(),
            starting_position,
            ownerships: StdMutex::new(HashMap::new()),
            events: StdMutex::new(VecDeque::new()),
            wake,
            metrics,
            lag: StdMutex::new(HashMap::new()),
        }
    }

    fn take_events(&self) -> Vec<RebalanceEvent> {
        lock(&self.events).drain(..).collect()
    }

    fn on_assign(&self, tpl: &TopicPartitionList) {
        let mut ownerships = lock(&self.ownerships);
        let mut events = lock(&self.events);
        for element in tpl.elements() {
            let key = (element.topic().to_owned(), element.partition());
            let ownership = Arc::new(Ownership {
                owned: Mutex::new(true),
                cancel: CancellationToken::new(),
            });
            ownerships.insert(key.clone(), ownership.clone());
            events.push_back(RebalanceEvent::Assigned(key.0, key.1, ownership));
        }
        drop(events);
        self.wake.notify_one();
    }

    fn on_revoke(&self, tpl: &TopicPartitionList) {
        let mut ownerships = lock(&self.ownerships);
        let mut events = lock(&self.events);
        for element in tpl.elements() {
            let key = (element.topic().to_owned(), element.partition());
            if let Some(ownership) = ownerships.remove(&key) {
                // From here on this process commits nothing for the partition.
                *ownership.owned.lock() = false;
                ownership.cancel.cancel();
            }
            // Its lag is the next owner's to report.
            if let Some(gauge) = lock(&self.lag).remove(&key) {
                gauge.set(0.0);
            }
            events.push_back(RebalanceEvent::Revoked(key.0, key.1));
        }
        drop(events);
        self.wake.notify_one();
    }

    /// AT_TIMESTAMP: partitions without a committed offset start at the first record at or
    /// after the timestamp (the others at their commit, as always).
    fn position_at_timestamp(
        &self,
        consumer: &BaseConsumer<TriggerContext>,
        tpl: &mut TopicPartitionList,
        at_ms: i64,
    ) {
        let committed = match consumer.committed_offsets(tpl.clone(), REBALANCE_LOOKUP_TIMEOUT) {
            Ok(committed) => committed,
            Err(e) => {
                warn!(group = %self.group, "cannot read committed offsets to apply AT_TIMESTAMP ({e}); new partitions start at their oldest record");
                return;
            }
        };
        let mut lookup = TopicPartitionList::new();
        for element in committed.elements() {
            if !matches!(element.offset(), Offset::Offset(_)) {
                // Failures to add are impossible for a list we build ourselves.
                let _ = lookup.add_partition_offset(
                    element.topic(),
                    element.partition(),
                    Offset::Offset(at_ms),
                );
            }
        }
        if lookup.count() == 0 {
            return;
        }
        match consumer.offsets_for_times(lookup, REBALANCE_LOOKUP_TIMEOUT) {
            Ok(found) => {
                for element in found.elements() {
                    // No record at or after the time: start at the end.
                    let offset = match element.offset() {
                        Offset::Offset(o) => Offset::Offset(o),
                        _ => Offset::End,
                    };
                    let _ = tpl.set_partition_offset(element.topic(), element.partition(), offset);
                }
            }
            Err(e) => {
                warn!(group = %self.group, "cannot look up offsets for AT_TIMESTAMP ({e}); new partitions start at their oldest record")
            }
        }
    }
}

fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain collections behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClientContext for TriggerContext {
    /// Lag per owned partition: librdkafka's high watermark minus the committed offset.
    fn stats(&self, statistics: Statistics) {
        let ownerships = lock(&self.ownerships);
        let mut gauges = lock(&self.lag);
        for (topic, topic_stats) in &statistics.topics {
            for partition in topic_stats.partitions.values() {
                let key = (topic.clone(), partition.partition);
                if partition.partition < 0 || !ownerships.contains_key(&key) {
                    continue;
                }
                // -1 until the partition has both a high watermark and a commit.
                if partition.hi_offset < 0 {
                    continue;
                }
                let lag = if partition.committed_offset >= 0 {
                    partition.hi_offset - partition.committed_offset
                } else {
                    partition.hi_offset - partition.lo_offset.max(0)
                };
                gauges
                    .entry(key)
                    .or_insert_with(|| self.metrics.lag(topic, partition.partition))
                    .set(lag.max(0) as f64);
            }
        }
    }
}

impl ConsumerContext for TriggerContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let StartingPosition::AtTimestamp(at_ms) = self.starting_position {
                    self.position_at_timestamp(consumer, tpl, at_ms);
                }
                self.on_assign(tpl);
                info!(group = %self.group, partitions = %describe(tpl), "assigned");
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.on_revoke(tpl);
                info!(group = %self.group, partitions = %describe(tpl), lost = consumer.assignment_lost(), "revoked");
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                error!(group = %self.group, "rebalance failed: {:?}", other);
                self.on_revoke(tpl);
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            error!(group = %self.group, "cannot apply the new assignment: {e}");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            // The records are invoked again after a restart or by the next owner.
            warn!(group = %self.group, partitions = %describe(offsets), "offset commit failed: {e}");
        } else {
            debug!(group = %self.group, offsets = %describe(offsets), "committed");
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => format!("{}-{}@{o}", e.topic(), e.partition()),
            _ => format!("{}-{}", e.topic(), e.partition()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Commits for one partition, through its ownership gate.
pub struct PartitionCommitter {
    pub consumer: Arc<TriggerConsumer>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub ownership: Arc<Ownership>,
    pub commits: metrics::Counter,
}

impl Commit for PartitionCommitter {
    fn commit(&self, next_offset: i64) -> bool {
        let owned = self.ownership.owned.lock();
        if !*owned {
            return false;
        }
        let mut tpl = TopicPartitionList::with_capacity(1);
        if tpl
            .add_partition_offset(&self.topic, self.partition, Offset::Offset(next_offset))
            .is_err()
        {
            return false;
        }
        // Asynchronous: it only queues the commit, so the gate is held for microseconds; a
        // failure is reported to `commit_callback`.
        match self.consumer.commit(&tpl, CommitMode::Async) {
            Ok(()) => {
                self.commits.increment(1);
                true
            }
            Err(e) => {
                warn!(partition = %format!("{}-{}", self.topic, self.partition), "cannot commit offset {next_offset}: {e}");
                false
            }
        }
    }
}

/// Starts the worker of a newly assigned partition; the dispatcher does not know what a
/// worker is made of.
pub trait SpawnWorker: Send + 'static {
    fn spawn(
        &mut self,
        topic: Arc<str>,
        partition: i32,
        ownership: Arc<Ownership>,
        feed: mpsc::Receiver<EncodedRecord>,
        budget: Arc<PartitionBudget>,
        previous: Option<JoinHandle<()>>,
    ) -> JoinHandle<()>;
}

/// The dispatcher's view of one assigned partition.
struct Slot {
    topic: Arc<str>,
    partition: i32,
    feed: mpsc::Sender<EncodedRecord>,
    capacity: usize,
    budget: Arc<PartitionBudget>,
    /// Records handed out by librdkafka while the partition was paused or full, in order.
    held: VecDeque<EncodedRecord>,
    paused: bool,
    /// The next offset to hand to the worker; older ones are duplicates.
    next_offset: i64,
    /// Where the partition's next records are encoded.
    buffer: BytesMut,
    worker: JoinHandle<()>,
    ownership: Arc<Ownership>,
}

/// The assigned partitions' slots, by topic then partition, so a record's slot is found from
/// its borrowed topic name without allocating.
#[derive(Default)]
struct Slots {
    by_topic: HashMap<Arc<str>, HashMap<i32, Slot>>,
}

impl Slots {
    fn get_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Slot> {
        self.by_topic.get_mut(topic)?.get_mut(&partition)
    }

    fn insert(&mut self, slot: Slot) {
        self.by_topic
            .entry(slot.topic.clone())
            .or_default()
            .insert(slot.partition, slot);
    }

    fn remove(&mut self, topic: &str, partition: i32) -> Option<Slot> {
        let partitions = self.by_topic.get_mut(topic)?;
        let slot = partitions.remove(&partition);
        if partitions.is_empty() {
            self.by_topic.remove(topic);
        }
        slot
    }

    fn len(&self) -> usize {
        self.by_topic.values().map(HashMap::len).sum()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.by_topic.values_mut().flat_map(HashMap::values_mut)
    }

    fn drain(&mut self) -> impl Iterator<Item = Slot> + '_ {
        self.by_topic
            .drain()
            .flat_map(|(_, partitions)| partitions.into_values())
    }
}

/// Polls the consumer and feeds the workers until `stop`; then stops every worker (each
/// finishes an invocation under way, within its grace period) and closes the consumer.
pub async fn dispatch<W: SpawnWorker>(
    consumer: Arc<TriggerConsumer>,
    mut workers: W,
    global: Arc<GlobalBudget>,
    channel_capacity: usize,
    stop: CancellationToken,
    assigned_gauge: metrics::Gauge,
) {
    let wake = global.wake.clone();
    let group = consumer.context().group.clone();
    let mut slots = Slots::default();
    // Workers of revoked partitions that may still be finishing an invocation; a partition
    // assigned again waits for its old worker first, so commits stay in order.
    let mut finishing: HashMap<(Arc<str>, i32), JoinHandle<()>> = HashMap::new();
    let mut scratch = Vec::with_capacity(1024);
    {
        let mut stream = consumer.stream();
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = wake.notified() => {}
                message = futures::StreamExt::next(&mut stream) => {
                    apply_events(&consumer, &mut slots, &mut finishing, &mut workers, &global, channel_capacity);
                    match message {
                        Some(Ok(message)) => handle_message(&consumer, &mut slots, &global, &message, &mut scratch),
                        Some(Err(e)) => warn!(group = %group, "consumer error: {e}"),
                        None => break,
                    }
                }
            }
            apply_events(
                &consumer,
                &mut slots,
                &mut finishing,
                &mut workers,
                &global,
                channel_capacity,
            );
            resume_ready(&consumer, &mut slots, &global);
            assigned_gauge.set(slots.len() as f64);
            finishing.retain(|_, handle| !handle.is_finished());
        }
    }
    for slot in slots.iter_mut() {
        slot.ownership.cancel.cancel();
    }
    let workers_left: Vec<JoinHandle<()>> = slots.drain().map(|slot| slot.worker).collect();
    for worker in workers_left {
        let _ = worker.await;
    }
    for (_, handle) in finishing.drain() {
        let _ = handle.await;
    }
    assigned_gauge.set(0.0);
    // The worker factory holds the last other reference to the consumer.
    drop(workers);
    // Leaving the group (librdkafka also waits for commits still in flight) blocks.
    let closing = tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    });
    if let Err(e) = closing.await {
        warn!(group = %group, "closing the consumer failed: {e}");
    }
    info!(group = %group, "trigger stopped");
}

fn apply_events<W: SpawnWorker>(
    consumer: &Arc<TriggerConsumer>,
    slots: &mut Slots,
    finishing: &mut HashMap<(Arc<str>, i32), JoinHandle<()>>,
    workers: &mut W,
    global: &Arc<GlobalBudget>,
    channel_capacity: usize,
) {
    for event in consumer.context().take_events() {
        match event {
            RebalanceEvent::Assigned(topic, partition, ownership) => {
                let topic: Arc<str> = Arc::from(topic);
                let key = (topic.clone(), partition);
                let mut previous = finishing.remove(&key);
                if let Some(old) = slots.remove(&topic, partition) {
                    // Assigned twice without a revoke in between: retire the old worker.
                    old.ownership.cancel.cancel();
                    if old.paused {
                        global.paused.fetch_sub(1, Ordering::Relaxed);
                    }
                    old.budget
                        .release(old.held.iter().map(|r| r.json.len()).sum());
                    previous = Some(old.worker);
                }
                let (tx, rx) = mpsc::channel(channel_capacity);
                let budget = Arc::new(PartitionBudget::new(global.clone()));
                let worker = workers.spawn(
                    topic.clone(),
                    partition,
                    ownership.clone(),
                    rx,
                    budget.clone(),
                    previous,
                );
                slots.insert(Slot {
                    topic,
                    partition,
                    feed: tx,
                    capacity: channel_capacity,
                    budget,
                    held: VecDeque::new(),
                    paused: false,
                    next_offset: i64::MIN,
                    buffer: BytesMut::new(),
                    worker,
                    ownership,
                });
            }
            RebalanceEvent::Revoked(topic, partition) => {
                let key: (Arc<str>, i32) = (Arc::from(topic), partition);
                if let Some(slot) = slots.remove(&key.0, partition) {
                    if slot.paused {
                        global.paused.fetch_sub(1, Ordering::Relaxed);
                    }
                    slot.budget
                        .release(slot.held.iter().map(|r| r.json.len()).sum());
                    finishing.insert(key, slot.worker);
                }
            }
        }
    }
}

fn handle_message(
    consumer: &TriggerConsumer,
    slots: &mut Slots,
    global: &GlobalBudget,
    message: &BorrowedMessage<'_>,
    scratch: &mut Vec<u8>,
) {
    let Some(slot) = slots.get_mut(message.topic(), message.partition()) else {
        // A record of a partition revoked a moment ago; its next owner reads it again.
        return;
    };
    let offset = message.offset();
    if offset < slot.next_offset {
        return;
    }
    slot.next_offset = offset + 1;
    let (timestamp_ms, timestamp_type) = match message.timestamp() {
        Timestamp::CreateTime(ms) => (ms, TimestampType::CreateTime),
        Timestamp::LogAppendTime(ms) => (ms, TimestampType::LogAppendTime),
        Timestamp::NotAvailable => (-1, TimestampType::NoTimestampType),
    };
    scratch.clear();
    let record = EventRecord {
        topic: message.topic(),
        partition: message.partition(),
        offset,
        timestamp_ms,
        timestamp_type,
        key: message.key(),
        value: message.payload(),
    };
    match message.headers() {
        Some(headers) => encode_record(scratch, &record, headers.iter().map(|h| (h.key, h.value))),
        None => encode_record(scratch, &record, std::iter::empty()),
    }
    if slot.buffer.capacity() - slot.buffer.len() < scratch.len() {
        // A new buffer (or the old one again once all its records are finished).
        slot.buffer.reserve(RECORD_BUFFER_BYTES.max(scratch.len()));
    }
    slot.buffer.extend_from_slice(scratch);
    let encoded = EncodedRecord {
        offset,
        timestamp_ms,
        json: slot.buffer.split().freeze(),
    };
    slot.budget.take(encoded.json.len());
    if slot.paused {
        slot.held.push_back(encoded);
        return;
    }
    let over_budget = slot.budget.bytes.load(Ordering::Relaxed) > PARTITION_BUFFER_BYTES
        || global.bytes.load(Ordering::Relaxed) > GLOBAL_BUFFER_BYTES;
    if over_budget {
        slot.held.push_back(encoded);
        pause(consumer, slot, global);
        return;
    }
    match slot.feed.try_send(encoded) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(encoded)) => {
            slot.held.push_back(encoded);
            pause(consumer, slot, global);
        }
        Err(mpsc::error::TrySendError::Closed(encoded)) => {
            // The worker stopped (its partition is being revoked).
            slot.budget.release(encoded.json.len());
        }
    }
}

fn partition_list(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::with_capacity(1);
    tpl.add_partition(topic, partition);
    tpl
}

fn pause(consumer: &TriggerConsumer, slot: &mut Slot, global: &GlobalBudget) {
    if let Err(e) = consumer.pause(&partition_list(&slot.topic, slot.partition)) {
        warn!("cannot pause {}-{}: {e}", slot.topic, slot.partition);
    }
    slot.paused = true;
    global.paused.fetch_add(1, Ordering::Relaxed);
}

/// Hands held records to workers that caught up, and resumes their partitions.
fn resume_ready(consumer: &TriggerConsumer, slots: &mut Slots, global: &GlobalBudget) {
    if global.paused.load(Ordering::Relaxed) == 0 {
        return;
    }
    if global.bytes.load(Ordering::Relaxed) > GLOBAL_BUFFER_BYTES * 3 / 4 {
        return;
    }
    for slot in slots.iter_mut() {
        if !slot.paused
            || slot.budget.bytes.load(Ordering::Relaxed) > PARTITION_BUFFER_BYTES / 2
            || slot.feed.capacity() < slot.capacity / 2
        {
            continue;
        }
        while let Some(record) = slot.held.pop_front() {
            match slot.feed.try_send(record) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(record)) => {
                    slot.held.push_front(record);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(record)) => {
                    slot.budget.release(record.json.len());
                }
            }
        }
        if !slot.held.is_empty() {
            continue;
        }
        if let Err(e) = consumer.resume(&partition_list(&slot.topic, slot.partition)) {
            warn!("cannot resume {}-{}: {e}", slot.topic, slot.partition);
            continue;
        }
        slot.paused = false;
        global.paused.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The librdkafka settings every trigger consumer uses.
pub fn consumer_config(
    base: &ClientConfig,
    group: &str,
    starting_position: StartingPosition,
) -> ClientConfig {
    let mut config = base.clone();
    if config.get("session.timeout.ms").is_none() {
        config.set("session.timeout.ms", DEFAULT_SESSION_TIMEOUT_MS);
    }
    config
        .set("group.id", group)
        .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set(
            "auto.offset.reset",
            match starting_position {
                StartingPosition::Latest => "latest",
                // AT_TIMESTAMP positions partitions in the rebalance callback; this is its
                // fallback, and a partition that gets a commit later uses that.
                StartingPosition::TrimHorizon | StartingPosition::AtTimestamp(_) => "earliest",
            },
        );
    config
}
