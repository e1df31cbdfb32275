//! One worker thread: takes partitions from the dispatcher, encodes their records into
//! its ILP buffer, flushes (retrying outages, isolating rejected rows), dead-letters what
//! cannot be written, then stores the offsets in order and releases the partitions.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, error, warn};

use super::bisect::{Attempt, isolate_rejected};
use super::chunk::{Chunk, PartitionId};
use super::dispatch::{Dispatcher, Done, Lease};
use super::dlq::{DeadLetter, DeadLetters, REASON_QUESTDB_REJECTED};
use super::health::Health;
use super::retry::{Backoff, sleep_unless};
use super::sink::{FlushClass, FlushError, Sink};
use crate::batching::BatchSizer;
use crate::ilp::RowBuffer;
use crate::metrics::{ErrorKind, Metrics, WorkerRecorder};
use crate::record::RecordCodec;
use crate::validate::now_ns;

/// Stores the offset of the last processed record of a partition (librdkafka).
pub type OffsetStore =
    Arc<dyn Fn(&PartitionId, i64) -> Result<(), rdkafka::error::KafkaError> + Send + Sync>;

/// Batch size bounds of a worker.
#[derive(Debug, Clone, Copy)]
pub struct BatchParams {
    pub min: usize,
    pub max: usize,
    pub initial: usize,
    pub linger: Duration,
}

/// What every worker shares.
#[derive(Clone)]
pub struct WorkerDeps {
    pub dispatcher: Arc<Dispatcher>,
    pub codec: RecordCodec,
    pub questdb_conf: String,
    pub questdb_http: bool,
    pub questdb_client_only: bool,
    pub dead_letters: Arc<DeadLetters>,
    pub store: OffsetStore,
    pub metrics: Metrics,
    pub batch: BatchParams,
    pub health: Arc<Health>,
}

/// Asked of the pool between batches and while waiting.
pub trait WorkerControl {
    /// Stop now (shutdown): abandon retries, leave unwritten records unstored.
    fn stopping(&self) -> bool;
    /// Active workers (for the fair share of partitions).
    fn workers(&self) -> usize;
}

/// A record the codec or QuestDB refused, by flat index in the batch.
struct Refused {
    index: usize,
    reason: &'static str,
    detail: String,
}

/// Records taken for one flush.
#[derive(Default)]
struct Batch {
    chunks: Vec<Chunk>,
    records: usize,
    rows: usize,
    refused: Vec<Refused>,
}

impl Batch {
    /// (chunk, record) of a flat index.
    fn locate(&self, mut index: usize) -> (usize, usize) {
        for (c, chunk) in self.chunks.iter().enumerate() {
            if index < chunk.len() {
                return (c, index);
            }
            index -= chunk.len();
        }
        unreachable!("index beyond the batch")
    }
}

/// How a batch ended.
enum Outcome {
    Idle,
    Completed,
    Abandoned,
}

/// A worker's state.
pub struct Worker {
    id: usize,
    deps: WorkerDeps,
    sink: Sink,
    buffer: Option<RowBuffer>,
    sizer: BatchSizer,
    recorder: WorkerRecorder,
    leases: Vec<Lease>,
    last_flush: Instant,
}

impl Worker {
    pub fn new(id: usize, deps: WorkerDeps) -> Self {
        let b = deps.batch;
        Self {
            id,
            sink: Sink::new(
                &deps.questdb_conf,
                deps.questdb_http,
                deps.questdb_client_only,
            ),
            buffer: None,
            sizer: BatchSizer::new(b.min, b.max, b.initial, b.linger),
            recorder: deps.metrics.worker_recorder(),
            leases: Vec::new(),
            last_flush: Instant::now(),
            deps,
        }
    }

    /// Runs batches until `retire()` says so between batches, or the pool stops.
    pub fn run(mut self, control: &dyn WorkerControl, retire: impl Fn() -> bool) {
        debug!(worker = self.id, "worker started");
        while !control.stopping() && !retire() {
            match self.run_batch(control) {
                Outcome::Idle | Outcome::Completed => {}
                Outcome::Abandoned => break,
            }
        }
        self.recorder.publish();
        debug!(worker = self.id, "worker stopped");
    }

    fn run_batch(&mut self, control: &dyn WorkerControl) -> Outcome {
        let target = self.sizer.target();
        let dispatcher = self.deps.dispatcher.clone();
        let first = dispatcher.take(&mut self.leases, control.workers(), target, None);
        if first.is_empty() {
            return Outcome::Idle;
        }
        let started = Instant::now();
        let mut batch = Batch::default();
        if !self.ensure_buffer(control) {
            return Outcome::Abandoned;
        }
        let now = now_ns();
        self.encode_chunks(&mut batch, first, now);
        let deadline = started + self.sizer.linger();
        while batch.rows < target && Instant::now() < deadline && !control.stopping() {
            let want = target.saturating_sub(batch.records).max(1);
            let more = dispatcher.take(&mut self.leases, control.workers(), want, Some(deadline));
            if more.is_empty() {
                break;
            }
            self.encode_chunks(&mut batch, more, now);
        }

        let Some(flush_latency) = self.write(&mut batch, control) else {
            return Outcome::Abandoned;
        };
        if !self.dead_letter(&batch, control) {
            return Outcome::Abandoned;
        }
        self.complete(&batch);

        let acked_ms = now_ns() / 1_000_000;
        for chunk in &batch.chunks {
            for r in chunk.records() {
                if let Some(ts) = r.timestamp_ms {
                    self.recorder
                        .observe_latency_ms((acked_ms - ts).max(0) as u64);
                }
            }
        }
        let written = (batch.rows) as u64;
        self.recorder.record_processed(written);
        self.recorder.record_flush(written, flush_latency);
        self.recorder.record_busy(started.elapsed());
        self.recorder.publish();
        self.sizer
            .observe_flush(batch.rows, flush_latency, self.last_flush.elapsed());
        self.last_flush = Instant::now();
        self.deps.metrics.batch_size.set(self.sizer.target() as i64);
        Outcome::Completed
    }

    /// Makes sure a buffer of the connection's protocol version exists.
    fn ensure_buffer(&mut self, control: &dyn WorkerControl) -> bool {
        let mut backoff = Backoff::default();
        loop {
            if self.buffer.is_some() {
                return true;
            }
            match self.sink.new_buffer() {
                Ok(buf) => self.buffer = Some(buf),
                Err(e) => {
                    self.deps.metrics.error(ErrorKind::SenderCreate).inc();
                    self.deps.health.set_questdb(false);
                    warn!(worker = self.id, error = %e, "cannot connect to QuestDB, retrying");
                    if !sleep_unless(backoff.next_delay(), || control.stopping()) {
                        return false;
                    }
                }
            }
        }
    }

    fn encode_chunks(&mut self, batch: &mut Batch, chunks: Vec<Chunk>, now: i64) {
        let buf = self.buffer.as_mut().expect("buffer ensured");
        for chunk in chunks {
            for r in chunk.records() {
                match self.deps.codec.encode_record_at(chunk.payload(r), buf, now) {
                    Ok(rows) => batch.rows += rows,
                    Err(rejection) => batch.refused.push(Refused {
                        index: batch.records,
                        reason: rejection.reason.as_str(),
                        detail: rejection.detail,
                    }),
                }
                batch.records += 1;
            }
            batch.chunks.push(chunk);
        }
    }

    /// Re-encodes the records `range` of the batch into `buf` (refusals are skipped:
    /// they are already counted).
    fn encode_range(codec: &RecordCodec, batch: &Batch, range: Range<usize>, buf: &mut RowBuffer) {
        let now = now_ns();
        let (mut c, mut r) = batch.locate(range.start);
        for _ in range {
            let chunk = &batch.chunks[c];
            let rec = &chunk.records()[r];
            let _ = codec.encode_record_at(chunk.payload(rec), buf, now);
            r += 1;
            if r == chunk.len() {
                c += 1;
                r = 0;
            }
        }
    }

    /// Flushes, retrying retryable errors; on rejection isolates the refused records.
    /// `None` when stopped before QuestDB acknowledged everything.
    fn write(&mut self, batch: &mut Batch, control: &dyn WorkerControl) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = self.buffer.take().expect("buffer ensured");
        let result = self.flush_retrying(&mut buf, batch, 0..batch.records, control);
        let outcome = match result {
            Attempt::Written => Some(started.elapsed()),
            Attempt::Abort(()) => None,
            Attempt::Rejected(msg) => {
                warn!(worker = self.id, error = %msg, records = batch.records, "QuestDB rejected the batch, isolating the refused records");
                self.deps.metrics.error(ErrorKind::FlushRejected).inc();
                let codec = self.deps.codec.clone();
                let all = batch.records;
                let isolated = isolate_rejected(all, |range| {
                    buf.clear();
                    Self::encode_range(&codec, batch, range.clone(), &mut buf);
                    self.flush_retrying(&mut buf, batch, range, control)
                });
                match isolated {
                    Ok(refused) => {
                        for (index, detail) in refused {
                            batch.refused.push(Refused {
                                index,
                                reason: REASON_QUESTDB_REJECTED,
                                detail,
                            });
                        }
                        batch.refused.sort_by_key(|r| r.index);
                        Some(started.elapsed())
                    }
                    Err(()) => None,
                }
            }
        };
        buf.clear();
        self.buffer = Some(buf);
        outcome
    }

    /// One flush of `buf` (holding the records `range` of the batch), retried with
    /// backoff while the error is retryable.
    fn flush_retrying(
        &mut self,
        buf: &mut RowBuffer,
        batch: &Batch,
        range: Range<usize>,
        control: &dyn WorkerControl,
    ) -> Attempt<()> {
        if buf.row_count() == 0 {
            return Attempt::Written;
        }
        let mut backoff = Backoff::default();
        loop {
            match self.sink.flush(buf) {
                Ok(_) => {
                    self.deps.health.set_questdb(true);
                    return Attempt::Written;
                }
                Err(e) if e.class() == FlushClass::Reject => return Attempt::Rejected(e.message()),
                Err(e) => {
                    let kind = match e {
                        FlushError::ConnectQuestdb { .. } => ErrorKind::SenderCreate,
                        FlushError::FlushQuestdb { .. } => ErrorKind::FlushRetryable,
                    };
                    self.deps.metrics.error(kind).inc();
                    self.deps.health.set_questdb(false);
                    warn!(worker = self.id, error = %e, rows = buf.row_count(), "QuestDB flush failed, retrying");
                    if !sleep_unless(backoff.next_delay(), || control.stopping()) {
                        return Attempt::Abort(());
                    }
                    // A new connection may speak another protocol version: re-encode.
                    if self.sink.connect().is_ok()
                        && !self.sink.fits(buf)
                        && let Ok(mut fresh) = self.sink.new_buffer()
                    {
                        Self::encode_range(&self.deps.codec, batch, range.clone(), &mut fresh);
                        *buf = fresh;
                    }
                }
            }
        }
    }

    /// Produces the refused records to the dead-letter topic and waits for the acks.
    fn dead_letter(&mut self, batch: &Batch, control: &dyn WorkerControl) -> bool {
        if batch.refused.is_empty() {
            return true;
        }
        let ids: Vec<Option<PartitionId>> = batch
            .chunks
            .iter()
            .map(|c| self.deps.dispatcher.partition_of(c.slot, c.epoch))
            .collect();
        let mut letters = Vec::with_capacity(batch.refused.len());
        for refused in &batch.refused {
            let (c, r) = batch.locate(refused.index);
            let Some(origin) = ids[c].as_ref() else {
                // Revoked meanwhile: the next owner re-reads and dead-letters it.
                continue;
            };
            let chunk = &batch.chunks[c];
            let rec = &chunk.records()[r];
            letters.push(DeadLetter {
                reason: refused.reason,
                detail: &refused.detail,
                origin,
                offset: rec.offset,
                key: chunk.key(rec),
                payload: chunk.payload(rec),
            });
        }
        let metrics = &self.deps.metrics;
        let delivered = self.deps.dead_letters.deliver_all(
            &letters,
            || control.stopping(),
            |e| {
                metrics.error(ErrorKind::DeadLetterProduce).inc();
                warn!(error = %e, "dead-letter produce failed, retrying");
            },
        );
        if delivered.is_err() {
            return false;
        }
        for l in &letters {
            metrics.dead_letter.with_label_values(&[l.reason]).inc();
            debug!(topic = %l.origin.topic, partition = l.origin.partition, offset = l.offset, reason = l.reason, "dead-lettered");
        }
        true
    }

    /// Stores each partition's last offset in order, then releases the partitions.
    fn complete(&mut self, batch: &Batch) {
        let mut done: Vec<Done> = self
            .leases
            .iter()
            .map(|&lease| Done {
                lease,
                records: 0,
                last_offset: None,
            })
            .collect();
        for chunk in &batch.chunks {
            if let Some(d) = done
                .iter_mut()
                .find(|d| d.lease.slot == chunk.slot && d.lease.epoch == chunk.epoch)
            {
                d.records += chunk.len();
                d.last_offset = chunk.last_offset().or(d.last_offset);
            }
        }
        let store = self.deps.store.clone();
        let failures = self
            .deps
            .dispatcher
            .complete(&mut self.leases, &done, |id, offset| store(id, offset));
        for (id, e) in failures {
            self.deps.metrics.error(ErrorKind::StoreOffset).inc();
            error!(topic = %id.topic, partition = id.partition, error = %e, "store offset failed");
        }
    }
}
