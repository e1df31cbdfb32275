//! Per-partition queues and the run-queue workers pull from: a partition is owned by at
//! most one worker at a time, so its records are written in order and its offsets are
//! stored contiguously. In-flight records are counted in records and in payload bytes.
//! A worker that died mid-batch has its partitions taken back and re-read from the
//! first offset it had not stored (the poll thread seeks there).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ages::InflightAges;
use super::chunk::{Chunk, PartitionId};

/// One assigned partition.
#[derive(Debug)]
struct Slot {
    id: PartitionId,
    epoch: u64,
    queue: VecDeque<Chunk>,
    queued: usize,
    inflight: usize,
    /// Payload bytes of the in-flight records.
    bytes: usize,
    /// Kafka timestamps of the in-flight records.
    ages: InflightAges,
    /// The worker holding the partition.
    owner: Option<usize>,
    in_run_queue: bool,
    paused: bool,
    /// Next offset to consume as stored in librdkafka (last written + 1).
    stored_next: Option<i64>,
    /// Offset of the first record its owner took and has not completed.
    taken_from: Option<i64>,
    /// The partition must be re-read from this offset: chunks are dropped until the
    /// poll thread sought there.
    seek_to: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Option<Slot>>,
    index: HashMap<PartitionId, usize>,
    run_queue: VecDeque<usize>,
    queued: usize,
    inflight: usize,
    bytes: usize,
    next_epoch: u64,
    closed: bool,
}

impl Inner {
    fn slot(&mut self, slot: usize, epoch: u64) -> Option<&mut Slot> {
        self.slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .filter(|s| s.epoch == epoch)
    }

    fn schedule(&mut self, slot: usize) {
        if let Some(s) = self.slots[slot].as_mut()
            && s.owner.is_none()
            && s.seek_to.is_none()
            && !s.in_run_queue
            && !s.queue.is_empty()
        {
            s.in_run_queue = true;
            self.run_queue.push_back(slot);
        }
    }

    fn assigned(&self) -> usize {
        self.index.len()
    }

    fn new_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }
}

/// A partition a worker took, with the epoch of its assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub slot: usize,
    pub epoch: u64,
}

/// What a worker finished for one leased partition.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    pub lease: Lease,
    /// Records taken from the queue for this partition (processed, acknowledged).
    pub records: usize,
    /// Their payload bytes.
    pub bytes: usize,
    /// Offset of the last record written or dead-lettered.
    pub last_offset: Option<i64>,
}

/// Per-partition view for backpressure decisions.
#[derive(Debug, Clone)]
pub struct PartitionLoad {
    pub slot: usize,
    pub id: PartitionId,
    pub inflight: usize,
    pub bytes: usize,
    pub paused: bool,
}

/// Totals for gauges and backpressure.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub queued: usize,
    pub inflight: usize,
    pub bytes: usize,
    /// Kafka timestamp (ms) of the oldest in-flight record, if any carries one.
    pub oldest_ms: Option<i64>,
    pub partitions: Vec<PartitionLoad>,
}

/// A partition to re-read from `offset` (its owner died mid-batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seek {
    pub lease: Lease,
    pub id: PartitionId,
    pub offset: i64,
}

/// The shared state between the poll thread and the workers.
#[derive(Debug, Default)]
pub struct Dispatcher {
    inner: Mutex<Inner>,
    work: Condvar,
    released: Condvar,
    generation: AtomicU64,
}

impl Dispatcher {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking worker must not wedge the others: the state stays consistent
        // because every mutation completes before any call that could panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes whenever the assignment changes (poll thread caches its look-ups).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Adds newly assigned partitions; returns their (slot, epoch).
    pub fn assign(&self, parts: &[PartitionId]) -> Vec<(PartitionId, Lease)> {
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(parts.len());
        for id in parts {
            if let Some(&slot) = inner.index.get(id) {
                let epoch = inner.slots[slot].as_ref().map_or(0, |s| s.epoch);
                out.push((id.clone(), Lease { slot, epoch }));
                continue;
            }
            let epoch = inner.new_epoch();
            let slot = match inner.slots.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    inner.slots.push(None);
                    inner.slots.len() - 1
                }
            };
            inner.slots[slot] = Some(Slot {
                id: id.clone(),
                epoch,
                queue: VecDeque::new(),
                queued: 0,
                inflight: 0,
                bytes: 0,
                ages: InflightAges::default(),
                owner: None,
                in_run_queue: false,
                paused: false,
                stored_next: None,
                taken_from: None,
                seek_to: None,
            });
            inner.index.insert(id.clone(), slot);
            out.push((id.clone(), Lease { slot, epoch }));
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        out
    }

    /// Current (slot, epoch) of every assigned partition.
    pub fn leases(&self) -> Vec<(PartitionId, Lease)> {
        let inner = self.lock();
        inner
            .index
            .iter()
            .filter_map(|(id, &slot)| {
                inner.slots[slot].as_ref().map(|s| {
                    (
                        id.clone(),
                        Lease {
                            slot,
                            epoch: s.epoch,
                        },
                    )
                })
            })
            .collect()
    }

    /// Revokes partitions: drops their queued records (not stored, so re-fetched by the
    /// next owner), waits up to `wait` for the worker owning each to finish its batch,
    /// then forgets them. Returns the offsets stored for them, to commit.
    pub fn revoke(&self, parts: &[PartitionId], wait: Duration) -> Vec<(PartitionId, i64)> {
        let deadline = Instant::now() + wait;
        let mut inner = self.lock();
        let slots: Vec<usize> = parts
            .iter()
            .filter_map(|id| inner.index.get(id).copied())
            .collect();
        for &slot in &slots {
            let dropped = inner.slots[slot].as_mut().map(drop_queue);
            if let Some((queued, bytes)) = dropped {
                inner.queued -= queued;
                inner.inflight -= queued;
                inner.bytes -= bytes;
            }
        }
        inner.run_queue.retain(|s| !slots.contains(s));
        loop {
            let busy = slots
                .iter()
                .any(|&s| inner.slots[s].as_ref().is_some_and(|s| s.owner.is_some()));
            let now = Instant::now();
            if !busy || now >= deadline {
                break;
            }
            inner = self
                .released
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut stored = Vec::new();
        for slot in slots {
            if let Some(s) = inner.slots[slot].take() {
                inner.index.remove(&s.id);
                inner.inflight -= s.inflight;
                inner.bytes -= s.bytes;
                if let Some(next) = s.stored_next {
                    stored.push((s.id, next));
                }
            }
            inner.run_queue.retain(|&q| q != slot);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.released.notify_all();
        stored
    }

    /// Queues chunks polled from Kafka; chunks of revoked assignments are dropped.
    pub fn push(&self, chunks: impl IntoIterator<Item = Chunk>) {
        let mut inner = self.lock();
        let mut any = false;
        for chunk in chunks {
            let (n, bytes) = (chunk.len(), chunk.bytes());
            let slot = chunk.slot;
            let first_ms = chunk.records().first().and_then(|r| r.timestamp_ms);
            let Some(s) = inner
                .slot(slot, chunk.epoch)
                .filter(|s| s.seek_to.is_none())
            else {
                continue;
            };
            s.ages.push(n, first_ms);
            s.queue.push_back(chunk);
            s.queued += n;
            s.inflight += n;
            s.bytes += bytes;
            inner.queued += n;
            inner.inflight += n;
            inner.bytes += bytes;
            inner.schedule(slot);
            any = true;
        }
        drop(inner);
        if any {
            self.work.notify_all();
        }
    }

    /// Takes work for worker `worker`: first new records of partitions it already
    /// leases, else a ready partition from the run-queue while it leases fewer than its
    /// fair share (assigned partitions ÷ `workers`). Takes whole chunks up to about
    /// `max.records` records and `max.bytes` payload bytes (at least one chunk). Waits
    /// until `deadline` (or a short tick when `None`, so the caller can re-check its stop
    /// conditions); returns no chunk when there is nothing or when closed.
    pub fn take(
        &self,
        worker: usize,
        leases: &mut Vec<Lease>,
        workers: usize,
        max: Limit,
        deadline: Option<Instant>,
    ) -> Vec<Chunk> {
        let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return Vec::new();
            }
            let mut out = Vec::new();
            let mut taken = Limit::default();
            for lease in leases.iter() {
                take_from(&mut inner, *lease, max, &mut taken, &mut out);
            }
            let share = inner.assigned().div_ceil(workers.max(1)).max(1);
            while taken.below(max) && leases.len() < share {
                let Some(slot) = inner.run_queue.pop_front() else {
                    break;
                };
                let Some(s) = inner.slots[slot].as_mut() else {
                    continue;
                };
                s.in_run_queue = false;
                if s.owner.is_some() || s.seek_to.is_some() || s.queue.is_empty() {
                    continue;
                }
                s.owner = Some(worker);
                let lease = Lease {
                    slot,
                    epoch: s.epoch,
                };
                leases.push(lease);
                take_from(&mut inner, lease, max, &mut taken, &mut out);
            }
            if !out.is_empty() {
                return out;
            }
            let now = Instant::now();
            if now >= deadline {
                return out;
            }
            inner = self
                .work
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Completes a batch: for each leased partition whose assignment is still current,
    /// calls `store(partition, last_offset)` (librdkafka's offset store) and, when that
    /// succeeds, records it; then releases every lease.
    pub fn complete<E>(
        &self,
        leases: &mut Vec<Lease>,
        done: &[Done],
        mut store: impl FnMut(&PartitionId, i64) -> Result<(), E>,
    ) -> Vec<(PartitionId, E)> {
        let mut failures = Vec::new();
        let mut inner = self.lock();
        for d in done {
            let Some(s) = inner.slot(d.lease.slot, d.lease.epoch) else {
                continue;
            };
            if let Some(offset) = d.last_offset {
                match store(&s.id, offset) {
                    Ok(()) => s.stored_next = Some(offset + 1),
                    Err(e) => failures.push((s.id.clone(), e)),
                }
            }
            s.inflight -= d.records;
            s.bytes -= d.bytes;
            s.ages.done_oldest(d.records);
            s.taken_from = None;
            inner.inflight -= d.records;
            inner.bytes -= d.bytes;
        }
        for lease in leases.drain(..) {
            if let Some(s) = inner.slot(lease.slot, lease.epoch) {
                s.owner = None;
                s.taken_from = None;
                inner.schedule(lease.slot);
            }
        }
        drop(inner);
        self.released.notify_all();
        self.work.notify_all();
        failures
    }

    /// Counts of queued and in-flight records, per partition too.
    pub fn load(&self) -> Load {
        let inner = self.lock();
        Load {
            queued: inner.queued,
            inflight: inner.inflight,
            bytes: inner.bytes,
            oldest_ms: inner
                .slots
                .iter()
                .flatten()
                .filter_map(|s| s.ages.oldest_ms())
                .min(),
            partitions: inner
                .slots
                .iter()
                .enumerate()
                .filter_map(|(slot, s)| {
                    s.as_ref().map(|s| PartitionLoad {
                        slot,
                        id: s.id.clone(),
                        inflight: s.inflight,
                        bytes: s.bytes,
                        paused: s.paused,
                    })
                })
                .collect(),
        }
    }

    /// The partition of a current assignment.
    pub fn partition_of(&self, slot: usize, epoch: u64) -> Option<PartitionId> {
        self.lock().slot(slot, epoch).map(|s| s.id.clone())
    }

    /// Records that a partition was paused or resumed.
    pub fn set_paused(&self, slot: usize, paused: bool) {
        if let Some(Some(s)) = self.lock().slots.get_mut(slot) {
            s.paused = paused;
        }
    }

    /// Offsets stored for every assigned partition (to commit on shutdown).
    pub fn stored_offsets(&self) -> Vec<(PartitionId, i64)> {
        let inner = self.lock();
        inner
            .slots
            .iter()
            .flatten()
            .filter_map(|s| s.stored_next.map(|o| (s.id.clone(), o)))
            .collect()
    }

    /// Takes back every partition `worker` owns (it died mid-batch): what it took and
    /// did not complete, and what is queued, is dropped and the partition is to be
    /// re-read from the first offset not stored, once the poll thread sought there
    /// ([`Self::seeks`], [`Self::sought`]). Returns those partitions.
    pub fn abandon(&self, worker: usize) -> Vec<PartitionId> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for slot in 0..inner.slots.len() {
            let Some(s) = inner.slots[slot]
                .as_mut()
                .filter(|s| s.owner == Some(worker))
            else {
                continue;
            };
            let first_queued = s
                .queue
                .front()
                .and_then(|c| c.records().first())
                .map(|r| r.offset);
            let from = s.taken_from.or(first_queued);
            let (inflight, bytes) = (s.inflight, s.bytes);
            s.queue.clear();
            let queued = std::mem::take(&mut s.queued);
            s.inflight = 0;
            s.bytes = 0;
            s.ages.clear();
            s.owner = None;
            s.taken_from = None;
            s.seek_to = from;
            out.push(s.id.clone());
            inner.queued -= queued;
            inner.inflight -= inflight;
            inner.bytes -= bytes;
            inner.run_queue.retain(|&q| q != slot);
            if let Some(s) = inner.slots[slot].as_mut() {
                s.in_run_queue = false;
            }
        }
        drop(inner);
        self.released.notify_all();
        out
    }

    /// Partitions waiting for the poll thread to seek them.
    pub fn seeks(&self) -> Vec<Seek> {
        let inner = self.lock();
        inner
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| {
                let s = s.as_ref()?;
                Some(Seek {
                    lease: Lease {
                        slot,
                        epoch: s.epoch,
                    },
                    id: s.id.clone(),
                    offset: s.seek_to?,
                })
            })
            .collect()
    }

    /// The poll thread sought `seek`'s partition: records arrive again, under a new
    /// epoch (whatever was polled before the seek is dropped).
    pub fn sought(&self, seek: &Seek) {
        let mut inner = self.lock();
        let epoch = inner.new_epoch();
        if let Some(s) = inner.slot(seek.lease.slot, seek.lease.epoch) {
            s.seek_to = None;
            s.epoch = epoch;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Waits until no record is in flight, or `deadline`; true when drained.
    pub fn wait_drained(&self, deadline: Instant) -> bool {
        let mut inner = self.lock();
        loop {
            if inner.inflight == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            inner = self
                .released
                .wait_timeout(inner, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops handing out work; waiting workers return at once.
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
        self.released.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// How much a worker takes at most, or has taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limit {
    pub records: usize,
    pub bytes: usize,
}

impl Limit {
    fn below(&self, max: Limit) -> bool {
        self.records < max.records && self.bytes < max.bytes
    }
}

fn take_from(inner: &mut Inner, lease: Lease, max: Limit, taken: &mut Limit, out: &mut Vec<Chunk>) {
    let mut moved = 0;
    if let Some(s) = inner.slot(lease.slot, lease.epoch) {
        while taken.below(max) {
            let Some(chunk) = s.queue.pop_front() else {
                break;
            };
            if s.taken_from.is_none() {
                s.taken_from = chunk.records().first().map(|r| r.offset);
            }
            taken.records += chunk.len();
            taken.bytes += chunk.bytes();
            moved += chunk.len();
            s.queued -= chunk.len();
            out.push(chunk);
        }
    }
    inner.queued -= moved;
}

/// Empties a slot's queue; returns the records and bytes dropped (no longer in flight).
fn drop_queue(s: &mut Slot) -> (usize, usize) {
    let queued = s.queued;
    let bytes: usize = s.queue.drain(..).map(|c| c.bytes()).sum();
    s.queued = 0;
    s.inflight -= queued;
    s.bytes -= bytes;
    s.ages.dropped_newest(queued);
    (queued, bytes)
}

#[cfg(test)]
mod tests;
