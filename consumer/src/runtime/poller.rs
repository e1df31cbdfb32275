//! The poll thread: reads Kafka, copies runs of records into chunks, queues them for the
//! workers, applies backpressure by pausing and resuming partitions while it keeps
//! polling (so the member is never evicted), and seeks the partitions of a dead worker
//! back to their first unstored offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::backpressure::{Watermarks, decide};
use super::chunk::{Chunk, PartitionId};
use super::dispatch::{Dispatcher, Lease, Load};
use super::kafka::KafkaConsumer;
use crate::metrics::{ErrorKind, Metrics};

/// Records per chunk at most.
const CHUNK_RECORDS: usize = 1024;
/// Records gathered per round before they are handed to the workers.
const ROUND_RECORDS: usize = 8192;
/// Payload bytes gathered per round at most (a round may overshoot the byte
/// watermark by this much).
const ROUND_BYTES: usize = 4 << 20;
/// Longest round.
const ROUND_TIME: Duration = Duration::from_millis(5);

/// Flags the poll thread obeys.
#[derive(Debug, Default)]
pub struct PollControl {
    /// Pause every partition and keep polling (shutting down: drain what is in flight).
    pub hold: AtomicBool,
    /// Leave the poll loop.
    pub stop: AtomicBool,
}

/// (topic, partition) → lease, refreshed when the assignment changes.
#[derive(Default)]
struct LeaseCache {
    generation: u64,
    map: HashMap<String, Vec<Option<Lease>>>,
}

impl LeaseCache {
    fn refresh(&mut self, dispatcher: &Dispatcher) {
        let generation = dispatcher.generation();
        if generation == self.generation && !self.map.is_empty() {
            return;
        }
        self.generation = generation;
        self.map.clear();
        for (id, lease) in dispatcher.leases() {
            let v = self.map.entry(id.topic.to_string()).or_default();
            let i = id.partition as usize;
            if v.len() <= i {
                v.resize(i + 1, None);
            }
            v[i] = Some(lease);
        }
    }

    fn get(&self, topic: &str, partition: i32) -> Option<Lease> {
        self.map
            .get(topic)
            .and_then(|v| v.get(usize::try_from(partition).ok()?).copied().flatten())
    }
}

/// Runs the poll loop until `control.stop`.
pub fn run(
    consumer: &KafkaConsumer,
    dispatcher: &Dispatcher,
    metrics: &Metrics,
    watermarks: Watermarks,
    control: &PollControl,
) {
    let mut cache = LeaseCache::default();
    let mut active = false;
    let mut chunks: Vec<Chunk> = Vec::new();
    while !control.stop.load(Ordering::Acquire) {
        seek_abandoned(consumer, dispatcher, metrics);
        seek_stalled(consumer, metrics);
        let started = Instant::now();
        let (mut records, mut bytes) = (0, 0);
        let mut current: Option<Chunk> = None;
        let mut timeout = Duration::from_millis(100);
        while records < ROUND_RECORDS && bytes < ROUND_BYTES && started.elapsed() < ROUND_TIME {
            let Some(result) = consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let msg = match result {
                Ok(msg) => msg,
                Err(error) => {
                    metrics.error(ErrorKind::KafkaPoll).inc();
                    // Connection failures were reported (once per change) by the context.
                    if !consumer.context().reported(&error) {
                        warn!(%error, "kafka poll error");
                    }
                    continue;
                }
            };
            if dispatcher.generation() != cache.generation {
                cache.refresh(dispatcher);
            }
            let Some(lease) = cache.get(msg.topic(), msg.partition()).or_else(|| {
                cache.refresh(dispatcher);
                cache.get(msg.topic(), msg.partition())
            }) else {
                // Not (or no longer) ours: whoever owns it re-reads it from its offset.
                continue;
            };
            let same = current.as_ref().is_some_and(|c| {
                c.slot == lease.slot && c.epoch == lease.epoch && c.len() < CHUNK_RECORDS
            });
            if !same {
                chunks.extend(current.take());
                current = Some(Chunk::new(lease.slot, lease.epoch));
            }
            let chunk = current.as_mut().expect("chunk just set");
            let payload = msg.payload().unwrap_or_default();
            chunk.push(
                msg.offset(),
                msg.timestamp().to_millis(),
                msg.key(),
                payload,
            );
            records += 1;
            bytes += payload.len();
        }
        chunks.extend(current.take());
        if !chunks.is_empty() {
            dispatcher.push(chunks.drain(..));
        }
        let load = dispatcher.load();
        active = apply_backpressure(
            consumer,
            dispatcher,
            metrics,
            &watermarks,
            active,
            control.hold.load(Ordering::Acquire),
            &load,
        );
        metrics.queue_depth.set(load.queued as i64);
        metrics.inflight_records.set(load.inflight as i64);
        metrics.inflight_bytes.set(load.bytes as i64);
        metrics.oldest_inflight_age.set(age_seconds(load.oldest_ms));
    }
    info!("poll loop stopped");
}

/// Seconds from the Kafka timestamp `oldest_ms` to now; 0 when nothing is in flight.
fn age_seconds(oldest_ms: Option<i64>) -> f64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    oldest_ms.map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0)
}

/// Seeks each partition a dead worker left back to its first unstored offset; a
/// failed seek is tried again next round (the partition stays held meanwhile).
fn seek_abandoned(consumer: &KafkaConsumer, dispatcher: &Dispatcher, metrics: &Metrics) {
    for seek in dispatcher.seeks() {
        match consumer.seek(
            &seek.id.topic,
            seek.id.partition,
            Offset::Offset(seek.offset),
            Duration::from_secs(5),
        ) {
            Ok(()) => {
                info!(topic = %seek.id.topic, partition = seek.id.partition, offset = seek.offset, "re-reading the partition of a dead worker");
                dispatcher.sought(&seek);
            }
            Err(error) => {
                metrics.error(ErrorKind::KafkaPoll).inc();
                warn!(topic = %seek.id.topic, partition = seek.id.partition, %error, "seek failed, retrying");
            }
        }
    }
}

/// Seeks each stalled partition (see `fetch_watch`) to its own fetch position: the
/// fetch restarts there, nothing skipped or repeated.
fn seek_stalled(consumer: &KafkaConsumer, metrics: &Metrics) {
    let stalled = consumer.context().take_stalled();
    if stalled.is_empty() {
        return;
    }
    // Records may have arrived since the statistics were taken: a partition that moved
    // is not stalled, and seeking it back would deliver records twice.
    let positions = consumer.position().ok();
    for stalled in stalled {
        let now_at = positions.as_ref().and_then(|tpl| {
            tpl.find_partition(&stalled.id.topic, stalled.id.partition)
                .and_then(|e| e.offset().to_raw())
        });
        if now_at.is_some_and(|at| at >= 0 && at != stalled.offset) {
            debug!(topic = %stalled.id.topic, partition = stalled.id.partition, ?now_at, "stalled partition moved meanwhile; not sought");
            continue;
        }
        metrics.error(ErrorKind::FetchStall).inc();
        match consumer.seek(
            &stalled.id.topic,
            stalled.id.partition,
            Offset::Offset(stalled.offset),
            Duration::from_secs(5),
        ) {
            Ok(()) => {
                info!(topic = %stalled.id.topic, partition = stalled.id.partition, offset = stalled.offset, "stalled partition sought to its position")
            }
            Err(error) => {
                warn!(topic = %stalled.id.topic, partition = stalled.id.partition, %error, "seek of a stalled partition failed; the watch reports it again if it stays stalled")
            }
        }
    }
}

fn apply_backpressure(
    consumer: &KafkaConsumer,
    dispatcher: &Dispatcher,
    metrics: &Metrics,
    watermarks: &Watermarks,
    active: bool,
    hold: bool,
    load: &Load,
) -> bool {
    let decision = decide(watermarks, active, hold, load);
    if decision.active != active {
        debug!(
            inflight = load.inflight,
            active = decision.active,
            "backpressure changed"
        );
    }
    let ids = |slots: &[usize]| -> Vec<(usize, PartitionId)> {
        load.partitions
            .iter()
            .filter(|p| slots.contains(&p.slot))
            .map(|p| (p.slot, p.id.clone()))
            .collect()
    };
    for (slots, pause) in [(&decision.pause, true), (&decision.resume, false)] {
        if slots.is_empty() {
            continue;
        }
        let parts = ids(slots);
        let mut tpl = TopicPartitionList::with_capacity(parts.len());
        for (_, id) in &parts {
            tpl.add_partition(&id.topic, id.partition);
        }
        let result = if pause {
            consumer.pause(&tpl)
        } else {
            consumer.resume(&tpl)
        };
        match result {
            Ok(()) => {
                for (slot, _) in &parts {
                    dispatcher.set_paused(*slot, pause);
                }
            }
            Err(error) => {
                metrics.error(ErrorKind::PauseResume).inc();
                warn!(%error, pause, "pause/resume failed");
            }
        }
    }
    let paused = load.partitions.iter().filter(|p| p.paused).count() as i64
        + decision.pause.len() as i64
        - decision.resume.len() as i64;
    metrics.paused_partitions.set(paused);
    metrics.backpressure_active.set(i64::from(decision.active));
    decision.active
}

/// Commits `offsets` synchronously.
pub fn commit_sync(
    consumer: &KafkaConsumer,
    offsets: &[(PartitionId, i64)],
) -> rdkafka::error::KafkaResult<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    consumer.commit(
        &super::kafka::offsets_list(offsets),
        rdkafka::consumer::CommitMode::Sync,
    )
}

/// Shares the consumer with the workers for storing offsets.
pub type SharedConsumer = Arc<KafkaConsumer>;
