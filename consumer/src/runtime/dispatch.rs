//! Per-partition queues and the run-queue workers pull from: a partition is owned by at
//! most one worker at a time, so its records are written in order and its offsets are
//! stored contiguously.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::chunk::{Chunk, PartitionId};

/// One assigned partition.
#[derive(Debug)]
struct Slot {
    id: PartitionId,
    epoch: u64,
    queue: VecDeque<Chunk>,
    queued: usize,
    inflight: usize,
    owned: bool,
    in_run_queue: bool,
    paused: bool,
    /// Next offset to consume as stored in librdkafka (last written + 1).
    stored_next: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Option<Slot>>,
    index: HashMap<PartitionId, usize>,
    run_queue: VecDeque<usize>,
    queued: usize,
    inflight: usize,
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
            && !s.owned
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
    /// Offset of the last record written or dead-lettered.
    pub last_offset: Option<i64>,
}

/// Per-partition view for backpressure decisions.
#[derive(Debug, Clone)]
pub struct PartitionLoad {
    pub slot: usize,
    pub id: PartitionId,
    pub inflight: usize,
    pub paused: bool,
}

/// Totals for gauges and backpressure.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub queued: usize,
    pub inflight: usize,
    pub partitions: Vec<PartitionLoad>,
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
            inner.next_epoch += 1;
            let epoch = inner.next_epoch;
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
                owned: false,
                in_run_queue: false,
                paused: false,
                stored_next: None,
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
            let dropped = inner.slots[slot].as_mut().map(|s| {
                let queued = s.queued;
                s.queue.clear();
                s.queued = 0;
                s.inflight -= queued;
                queued
            });
            if let Some(queued) = dropped {
                inner.queued -= queued;
                inner.inflight -= queued;
            }
        }
        inner.run_queue.retain(|s| !slots.contains(s));
        loop {
            let busy = slots
                .iter()
                .any(|&s| inner.slots[s].as_ref().is_some_and(|s| s.owned));
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
            let n = chunk.len();
            let slot = chunk.slot;
            let Some(s) = inner.slot(slot, chunk.epoch) else {
                continue;
            };
            s.queue.push_back(chunk);
            s.queued += n;
            s.inflight += n;
            inner.queued += n;
            inner.inflight += n;
            inner.schedule(slot);
            any = true;
        }
        drop(inner);
        if any {
            self.work.notify_all();
        }
    }

    /// Takes work for a worker: first new records of partitions it already leases, else
    /// a ready partition from the run-queue while it leases fewer than its fair share
    /// (assigned partitions ÷ `workers`). Takes whole chunks up to about `max_records`.
    /// Waits until `deadline` (or a short tick when `None`, so the caller can re-check
    /// its stop conditions); returns no chunk when there is nothing or when closed.
    pub fn take(
        &self,
        leases: &mut Vec<Lease>,
        workers: usize,
        max_records: usize,
        deadline: Option<Instant>,
    ) -> Vec<Chunk> {
        let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return Vec::new();
            }
            let mut out = Vec::new();
            let mut taken = 0;
            for lease in leases.iter() {
                take_from(&mut inner, *lease, max_records, &mut taken, &mut out);
            }
            let share = inner.assigned().div_ceil(workers.max(1)).max(1);
            while taken < max_records && leases.len() < share {
                let Some(slot) = inner.run_queue.pop_front() else {
                    break;
                };
                let Some(s) = inner.slots[slot].as_mut() else {
                    continue;
                };
                s.in_run_queue = false;
                if s.owned || s.queue.is_empty() {
                    continue;
                }
                s.owned = true;
                let lease = Lease {
                    slot,
                    epoch: s.epoch,
                };
                leases.push(lease);
                take_from(&mut inner, lease, max_records, &mut taken, &mut out);
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
            inner.inflight -= d.records;
        }
        for lease in leases.drain(..) {
            if let Some(s) = inner.slot(lease.slot, lease.epoch) {
                s.owned = false;
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
            partitions: inner
                .slots
                .iter()
                .enumerate()
                .filter_map(|(slot, s)| {
                    s.as_ref().map(|s| PartitionLoad {
                        slot,
                        id: s.id.clone(),
                        inflight: s.inflight,
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

fn take_from(inner: &mut Inner, lease: Lease, max: usize, taken: &mut usize, out: &mut Vec<Chunk>) {
    let mut moved = 0;
    if let Some(s) = inner.slot(lease.slot, lease.epoch) {
        while *taken < max {
            let Some(chunk) = s.queue.pop_front() else {
                break;
            };
            *taken += chunk.len();
            moved += chunk.len();
            s.queued -= chunk.len();
            out.push(chunk);
        }
    }
    inner.queued -= moved;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(lease: Lease, offsets: std::ops::Range<i64>) -> Chunk {
        let mut c = Chunk::new(lease.slot, lease.epoch);
        for o in offsets {
            c.push(o, None, None, b"x");
        }
        c
    }

    fn assign(d: &Dispatcher, n: i32) -> Vec<Lease> {
        let parts: Vec<_> = (0..n).map(|p| PartitionId::new("t", p)).collect();
        d.assign(&parts).into_iter().map(|(_, l)| l).collect()
    }

    fn done(lease: Lease, records: usize, last: i64) -> Done {
        Done {
            lease,
            records,
            last_offset: Some(last),
        }
    }

    #[test]
    fn a_leased_partition_is_not_handed_to_another_worker() {
        let d = Dispatcher::new();
        let l = assign(&d, 1);
        d.push([chunk(l[0], 0..3)]);
        let mut a = Vec::new();
        let got = d.take(&mut a, 2, 100, Some(Instant::now()));
        assert_eq!(got.len(), 1);
        d.push([chunk(l[0], 3..5)]);
        let mut b = Vec::new();
        assert!(d.take(&mut b, 2, 100, Some(Instant::now())).is_empty());
        // The owner gets the partition's new records itself.
        let more = d.take(&mut a, 2, 100, Some(Instant::now()));
        assert_eq!(more[0].records()[0].offset, 3);
        let failures = d.complete(&mut a, &[done(l[0], 5, 4)], |_, _| Ok::<(), ()>(()));
        assert!(failures.is_empty());
        assert_eq!(d.stored_offsets(), vec![(PartitionId::new("t", 0), 5)]);
        assert_eq!(d.load().inflight, 0);
    }

    #[test]
    fn released_partition_with_queued_records_is_rescheduled() {
        let d = Dispatcher::new();
        let l = assign(&d, 1);
        d.push([chunk(l[0], 0..2)]);
        let mut a = Vec::new();
        d.take(&mut a, 1, 100, Some(Instant::now()));
        d.push([chunk(l[0], 2..4)]);
        d.complete(&mut a, &[done(l[0], 2, 1)], |_, _| Ok::<(), ()>(()));
        let mut b = Vec::new();
        let got = d.take(&mut b, 1, 100, Some(Instant::now()));
        assert_eq!(got[0].records()[0].offset, 2);
        assert_eq!(b, vec![l[0]]);
    }

    #[test]
    fn a_worker_leases_at_most_its_fair_share_of_partitions() {
        let d = Dispatcher::new();
        let l = assign(&d, 4);
        d.push(l.iter().map(|&l| chunk(l, 0..1)));
        let mut a = Vec::new();
        d.take(&mut a, 2, 1000, Some(Instant::now()));
        assert_eq!(a.len(), 2);
        let mut b = Vec::new();
        d.take(&mut b, 2, 1000, Some(Instant::now()));
        assert_eq!(b.len(), 2);
        assert!(a.iter().all(|x| !b.contains(x)));
    }

    #[test]
    fn revoke_drops_queued_records_and_ignores_stale_completion() {
        let d = Dispatcher::new();
        let l = assign(&d, 1);
        d.push([chunk(l[0], 0..2)]);
        let mut a = Vec::new();
        d.take(&mut a, 1, 1, Some(Instant::now()));
        d.push([chunk(l[0], 2..4)]);
        // The owner does not finish in time: the partition is forgotten anyway.
        let stored = d.revoke(&[PartitionId::new("t", 0)], Duration::from_millis(10));
        assert!(stored.is_empty());
        assert_eq!(d.load().inflight, 0);
        let mut calls = 0;
        d.complete(&mut a, &[done(l[0], 2, 1)], |_, _| {
            calls += 1;
            Ok::<(), ()>(())
        });
        assert_eq!(calls, 0, "no offset stored for a revoked assignment");
        assert_eq!(d.load().inflight, 0);
        // Re-assigned: a new epoch, old chunks are dropped.
        let l2 = assign(&d, 1);
        assert_ne!(l2[0].epoch, l[0].epoch);
        d.push([chunk(l[0], 4..5)]);
        assert_eq!(d.load().queued, 0);
    }

    #[test]
    fn revoke_waits_for_the_owner_and_returns_its_stored_offset() {
        let d = std::sync::Arc::new(Dispatcher::new());
        let l = assign(&d, 1);
        d.push([chunk(l[0], 0..2)]);
        let mut a = Vec::new();
        d.take(&mut a, 1, 10, Some(Instant::now()));
        let d2 = d.clone();
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            d2.complete(&mut a, &[done(l[0], 2, 1)], |_, _| Ok::<(), ()>(()));
        });
        let stored = d.revoke(&[PartitionId::new("t", 0)], Duration::from_secs(30));
        worker.join().expect("worker");
        assert_eq!(stored, vec![(PartitionId::new("t", 0), 2)]);
    }

    #[test]
    fn close_wakes_waiting_workers() {
        let d = std::sync::Arc::new(Dispatcher::new());
        let d2 = d.clone();
        let worker = std::thread::spawn(move || {
            let mut leases = Vec::new();
            d2.take(
                &mut leases,
                1,
                10,
                Some(Instant::now() + Duration::from_secs(60)),
            )
        });
        std::thread::sleep(Duration::from_millis(20));
        d.close();
        assert!(worker.join().expect("worker").is_empty());
    }
}
