//! The worker pool: W supervised worker threads, changed at run time between batches,
//! never by touching the Kafka consumer (no rebalance). A worker that panics releases
//! its partitions (they are re-read from the first unstored offset) and starts again
//! after a back-off; the panic is counted and repeated ones make the process unhealthy.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{error, info};

use super::supervise::{restart_backoff, supervise};
use super::worker::{Worker, WorkerControl, WorkerDeps};

/// The pool's state, as `GET /control/workers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkersState {
    /// Workers configured (desired).
    pub workers: usize,
    /// Most workers allowed.
    pub max: usize,
    /// Worker threads running now.
    pub active: usize,
}

/// A requested worker count outside `1..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("workers must be between 1 and {max}, got {requested}")]
pub struct OutOfRange {
    pub requested: usize,
    pub max: usize,
}

struct Shared {
    desired: AtomicUsize,
    max: usize,
    stop: AtomicBool,
    threads: Mutex<Vec<Option<JoinHandle<()>>>>,
    deps: WorkerDeps,
}

impl Shared {
    fn threads(&self) -> MutexGuard<'_, Vec<Option<JoinHandle<()>>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, threads: &[Option<JoinHandle<()>>]) {
        let m = &self.deps.metrics;
        m.workers.set(self.desired.load(Ordering::Acquire) as i64);
        m.workers_active
            .set(threads.iter().flatten().count() as i64);
    }
}

struct Control<'a>(&'a Shared);

impl WorkerControl for Control<'_> {
    fn stopping(&self) -> bool {
        self.0.stop.load(Ordering::Acquire)
    }
    fn workers(&self) -> usize {
        self.0.desired.load(Ordering::Acquire).max(1)
    }
}

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct WorkerPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("state", &self.state())
            .finish()
    }
}

impl WorkerPool {
    /// Starts `initial` workers (clamped to `1..=max`).
    pub fn start(deps: WorkerDeps, initial: usize, max: usize) -> Self {
        let max = max.max(1);
        let pool = Self {
            shared: Arc::new(Shared {
                desired: AtomicUsize::new(0),
                max,
                stop: AtomicBool::new(false),
                threads: Mutex::new((0..max).map(|_| None).collect()),
                deps,
            }),
        };
        let _ = pool.set_workers(initial.clamp(1, max));
        pool
    }

    /// Sets W: new workers start at once; surplus ones finish their batch and exit.
    pub fn set_workers(&self, n: usize) -> Result<WorkersState, OutOfRange> {
        let shared = &self.shared;
        if n == 0 || n > shared.max {
            return Err(OutOfRange {
                requested: n,
                max: shared.max,
            });
        }
        let mut threads = shared.threads();
        let before = shared.desired.swap(n, Ordering::AcqRel);
        if !shared.stop.load(Ordering::Acquire) {
            for id in 0..n {
                if threads[id].is_none() {
                    threads[id] = Some(self.spawn(id));
                }
            }
        }
        shared.publish(&threads);
        if before != n {
            info!(workers = n, previous = before, "worker count changed");
        }
        drop(threads);
        Ok(self.state())
    }

    fn spawn(&self, id: usize) -> JoinHandle<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(format!("spate-worker-{id}"))
            .spawn(move || {
                let control = Control(&shared);
                let retire = || id >= shared.desired.load(Ordering::Acquire);
                let deps = &shared.deps;
                supervise(
                    || {
                        Worker::new(id, deps.clone()).run(&control, || {
                            if !retire() {
                                return false;
                            }
                            // Re-check under the lock so a concurrent increase cannot be
                            // missed.
                            let mut threads = shared.threads();
                            if retire() || shared.stop.load(Ordering::Acquire) {
                                threads[id] = None;
                                shared.publish(&threads);
                                true
                            } else {
                                false
                            }
                        })
                    },
                    |why| {
                        deps.metrics.worker_panics.inc();
                        deps.health.record_panic(Instant::now());
                        let released = deps.dispatcher.abandon(id);
                        error!(worker = id, panic = why, partitions = ?released, "worker panicked; its partitions are re-read and it restarts");
                    },
                    || shared.stop.load(Ordering::Acquire),
                    restart_backoff(),
                );
                let mut threads = shared.threads();
                if threads[id]
                    .as_ref()
                    .is_some_and(|h| h.thread().id() == std::thread::current().id())
                {
                    threads[id] = None;
                }
                shared.publish(&threads);
            })
            .expect("spawn worker thread")
    }

    /// The current state.
    pub fn state(&self) -> WorkersState {
        let threads = self.shared.threads();
        WorkersState {
            workers: self.shared.desired.load(Ordering::Acquire),
            max: self.shared.max,
            active: threads.iter().flatten().count(),
        }
    }

    /// Asks every worker to stop: batches not yet acknowledged are abandoned (their
    /// offsets are not stored, so they are re-read after a restart).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.deps.dispatcher.close();
    }

    /// Waits until every worker thread exited, or `deadline`; true when all did.
    pub fn join(&self, deadline: Instant) -> bool {
        loop {
            if self.shared.threads().iter().all(Option::is_none) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
