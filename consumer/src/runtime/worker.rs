//! One worker thread: takes partitions from the dispatcher, encodes their records into
//! its ILP buffer, flushes (retrying outages, isolating rejected rows, holding on a
//! schema problem or a stalled flush), dead-letters what cannot be written, then stores
//! the offsets in order and releases the partitions.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use super::batch::{Batch, Refused};
use super::batching::BatchSizer;
use super::bisect::{Attempt, isolate_rejected};
use super::chunk::PartitionId;
use super::dispatch::{Dispatcher, Done, Lease, Limit};
use super::dlq::{DeadLetter, DeadLetters};
use super::health::Health;
use super::hold::{RefusalRun, Stall};
use super::retry::{Backoff, sleep_unless};
use super::sink::{FlushClass, FlushError, Sink};
use crate::codec::RecordCodec;
use crate::codec::reject::REASON_QUESTDB_REJECTED;
use crate::codec::validate::now_ns;
use crate::config::{BatchConfig, IlpWriter, QuestdbConfig, Transport};
use crate::ilp::RowBuffer;
use crate::metrics::{ErrorKind, HoldKind, Metrics, WorkerRecorder};

/// Stores the offset of the last processed record of a partition (librdkafka).
pub type OffsetStore =
    Arc<dyn Fn(&PartitionId, i64) -> Result<(), rdkafka::error::KafkaError> + Send + Sync>;

/// What every worker shares.
#[derive(Clone)]
pub struct WorkerDeps {
    pub dispatcher: Arc<Dispatcher>,
    pub codec: RecordCodec,
    /// Where and how rows are written, and when a worker holds its partitions.
    pub questdb: QuestdbConfig,
    pub dead_letters: Arc<DeadLetters>,
    pub store: OffsetStore,
    pub metrics: Metrics,
    /// The batch size bounds and linger.
    pub batch: BatchConfig,
    /// Most payload bytes in one batch (derived, see [`super::memory::ByteBudget`]).
    pub batch_max_bytes: usize,
    pub health: Arc<Health>,
}

/// Asked of the pool between batches and while waiting.
pub trait WorkerControl {
    /// Stop now (shutdown): abandon retries, leave unwritten records unstored.
    fn stopping(&self) -> bool;
    /// Active workers (for the fair share of partitions).
    fn workers(&self) -> usize;
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
    run: RefusalRun,
    stall: Stall,
    holding_schema: bool,
}

impl Worker {
    pub fn new(id: usize, deps: WorkerDeps) -> Self {
        let q = &deps.questdb;
        Self {
            id,
            sink: Sink::new(
                &q.client_conf,
                &q.auth,
                q.transport == Transport::Http,
                q.ilp_writer == IlpWriter::QuestdbRs,
            ),
            buffer: None,
            sizer: BatchSizer::from(&deps.batch),
            recorder: deps.metrics.worker_recorder(),
            leases: Vec::new(),
            last_flush: Instant::now(),
            run: RefusalRun::default(),
            stall: Stall::default(),
            holding_schema: false,
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
        let max_bytes = self.deps.batch_max_bytes;
        let dispatcher = self.deps.dispatcher.clone();
        let limit = Limit {
            records: target,
            bytes: max_bytes,
        };
        let first = dispatcher.take(self.id, &mut self.leases, control.workers(), limit, None);
        if first.is_empty() {
            return Outcome::Idle;
        }
        let started = Instant::now();
        let mut batch = Batch::new(now_ns());
        if !self.ensure_buffer(control) {
            return Outcome::Abandoned;
        }
        self.encode(&mut batch, first);
        let deadline = started + self.sizer.linger();
        while batch.rows < target
            && batch.bytes < max_bytes
            && Instant::now() < deadline
            && !control.stopping()
        {
            let want = Limit {
                records: target.saturating_sub(batch.records).max(1),
                bytes: max_bytes - batch.bytes,
            };
            let more = dispatcher.take(
                self.id,
                &mut self.leases,
                control.workers(),
                want,
                Some(deadline),
            );
            if more.is_empty() {
                break;
            }
            self.encode(&mut batch, more);
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
        // Rows QuestDB refused were encoded but not written.
        let written = batch
            .rows
            .saturating_sub(batch.rows_refused_by_questdb(&self.deps.codec))
            as u64;
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
                    self.deps
                        .health
                        .set_questdb_problem(e.problem(), e.to_string());
                    warn!(worker = self.id, error = %e, "cannot connect to QuestDB, retrying");
                    if !sleep_unless(backoff.next_delay(), || control.stopping()) {
                        return false;
                    }
                }
            }
        }
    }

    fn encode(&mut self, batch: &mut Batch, chunks: Vec<super::chunk::Chunk>) {
        let buf = self.buffer.as_mut().expect("buffer ensured");
        batch.encode_chunks(&self.deps.codec, buf, chunks);
    }

    /// Flushes, retrying retryable errors; on rejection isolates the refused records,
    /// unless QuestDB refuses every record for one reason (a schema problem): then the
    /// batch is held and retried slowly, nothing dead-lettered, nothing stored. `None`
    /// when stopped before QuestDB acknowledged everything.
    fn write(&mut self, batch: &mut Batch, control: &dyn WorkerControl) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = self.buffer.take().expect("buffer ensured");
        let outcome = loop {
            let mut late = Vec::new();
            let result = self.flush_retrying(&mut buf, batch, 0..batch.records, control, &mut late);
            batch.add_refused(late);
            let message = match result {
                Attempt::Written => {
                    if buf.row_count() > 0 {
                        self.run.reset();
                    }
                    break Some(started.elapsed());
                }
                Attempt::Abort(()) => break None,
                Attempt::Rejected(message) => message,
            };
            self.deps.metrics.error(ErrorKind::FlushRejected).inc();
            let hold = if self.run.holds(&message) {
                Some(message)
            } else {
                warn!(worker = self.id, error = %message, records = batch.records, "QuestDB rejected the batch, isolating the refused records");
                match self.isolate(&mut buf, batch, control) {
                    None => break None,
                    Some(refused) => {
                        let sent = batch.records - batch.refused.len();
                        let messages: Vec<&str> =
                            refused.iter().map(|r| r.detail.as_str()).collect();
                        let hold = self.run.observe(sent, &messages);
                        if hold.is_none() {
                            batch.add_refused(refused);
                        }
                        hold
                    }
                }
            };
            match hold {
                None => break Some(started.elapsed()),
                Some(reason) => {
                    if !self.hold_schema(reason, control) {
                        break None;
                    }
                    buf.clear();
                    let late = batch.reencode(&self.deps.codec, 0..batch.records, &mut buf);
                    batch.add_refused(late);
                }
            }
        };
        if outcome.is_some() {
            self.end_schema_hold();
        }
        buf.clear();
        self.buffer = Some(buf);
        outcome
    }

    /// Bisects the batch to find the records QuestDB refuses; rows of the other
    /// records are written on the way. `None` when stopped.
    fn isolate(
        &mut self,
        buf: &mut RowBuffer,
        batch: &mut Batch,
        control: &dyn WorkerControl,
    ) -> Option<Vec<Refused>> {
        let codec = self.deps.codec.clone();
        let mut late = Vec::new();
        let isolated = isolate_rejected(batch.records, |range| {
            buf.clear();
            late.extend(batch.reencode(&codec, range.clone(), buf));
            self.flush_retrying(buf, batch, range, control, &mut late)
        });
        batch.add_refused(late);
        let refused = isolated.ok()?;
        Some(
            refused
                .into_iter()
                .map(|(index, detail)| Refused {
                    index,
                    reason: REASON_QUESTDB_REJECTED,
                    detail,
                })
                .collect(),
        )
    }

    /// Holds the batch on a schema problem: unready with `reason`, counted, then waits
    /// the hold retry interval. False when stopped meanwhile.
    fn hold_schema(&mut self, reason: String, control: &dyn WorkerControl) -> bool {
        if !self.holding_schema {
            self.holding_schema = true;
            self.deps.metrics.hold(HoldKind::Schema).inc();
            self.deps.metrics.holding_workers.inc();
            error!(worker = self.id, %reason, "QuestDB refuses every row for one reason: holding the partitions until the table is fixed");
            self.deps
                .health
                .set_problem(self.id, HoldKind::Schema, reason);
        }
        // The retry goes over a new connection, which sees the table as it is now.
        self.sink.reset();
        sleep_unless(self.deps.questdb.hold_retry, || control.stopping())
    }

    fn end_schema_hold(&mut self) {
        if std::mem::take(&mut self.holding_schema) {
            self.deps.metrics.holding_workers.dec();
            self.deps.health.clear_problem(self.id, HoldKind::Schema);
            info!(
                worker = self.id,
                "QuestDB accepts the rows again, no longer holding"
            );
        }
    }

    fn end_stall(&mut self) {
        if self.stall.end() {
            self.deps.metrics.holding_workers.dec();
            self.deps
                .health
                .clear_problem(self.id, HoldKind::QuestdbStall);
            info!(
                worker = self.id,
                "QuestDB flushes succeed again, no longer holding"
            );
        }
    }

    /// One flush of `buf` (holding the records `range` of the batch), retried with
    /// backoff while the error is retryable; after `hold.stall_after` of failures the
    /// worker goes unready and retries at the hold interval. A re-encode (new protocol
    /// version) adds what it refuses to `late`.
    fn flush_retrying(
        &mut self,
        buf: &mut RowBuffer,
        batch: &Batch,
        range: Range<usize>,
        control: &dyn WorkerControl,
        late: &mut Vec<Refused>,
    ) -> Attempt<()> {
        if buf.row_count() == 0 {
            return Attempt::Written;
        }
        let mut backoff = Backoff::default();
        loop {
            match self.sink.flush(buf) {
                Ok(_) => {
                    self.deps.health.set_questdb_ok();
                    self.end_stall();
                    return Attempt::Written;
                }
                Err(e) if e.class() == FlushClass::Reject => {
                    self.end_stall();
                    return Attempt::Rejected(e.message());
                }
                Err(e) => {
                    let kind = match e {
                        FlushError::ConnectQuestdb { .. } => ErrorKind::SenderCreate,
                        FlushError::FlushQuestdb { .. } => ErrorKind::FlushRetryable,
                    };
                    self.deps.metrics.error(kind).inc();
                    self.deps
                        .health
                        .set_questdb_problem(e.problem(), e.to_string());
                    warn!(worker = self.id, error = %e, rows = buf.row_count(), "QuestDB flush failed, retrying");
                    let (stall_after, hold_retry) =
                        (self.deps.questdb.stall_after, self.deps.questdb.hold_retry);
                    if self.stall.failed(Instant::now(), stall_after) {
                        self.deps.metrics.hold(HoldKind::QuestdbStall).inc();
                        self.deps.metrics.holding_workers.inc();
                        let reason =
                            format!("flushes failing for {} s: {e}", stall_after.as_secs());
                        error!(worker = self.id, %reason, "QuestDB flush stalled: holding the partitions");
                        self.deps
                            .health
                            .set_problem(self.id, HoldKind::QuestdbStall, reason);
                    }
                    let delay = if self.stall.flagged() {
                        hold_retry
                    } else {
                        backoff.next_delay()
                    };
                    if !sleep_unless(delay, || control.stopping()) {
                        return Attempt::Abort(());
                    }
                    // A new connection may speak another protocol version: re-encode.
                    if self.sink.connect().is_ok()
                        && !self.sink.fits(buf)
                        && let Ok(mut fresh) = self.sink.new_buffer()
                    {
                        late.extend(batch.reencode(&self.deps.codec, range.clone(), &mut fresh));
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
                bytes: 0,
                last_offset: None,
            })
            .collect();
        for chunk in &batch.chunks {
            if let Some(d) = done
                .iter_mut()
                .find(|d| d.lease.slot == chunk.slot && d.lease.epoch == chunk.epoch)
            {
                d.records += chunk.len();
                d.bytes += chunk.bytes();
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

impl Drop for Worker {
    /// A worker that stops or dies no longer holds anything: its problems leave the
    /// readiness report and the holding gauge.
    fn drop(&mut self) {
        self.end_schema_hold();
        self.end_stall();
    }
}
