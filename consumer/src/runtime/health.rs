//! Liveness and readiness state shared by the workers, the poll thread and `/readyz` /
//! `/healthz`: start-up, shutdown, QuestDB reachability, the problems workers hold
//! their partitions for, and recent worker panics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::metrics::HoldKind;

/// Panics within [`PANIC_WINDOW`] from which the process is unhealthy (the kubelet
/// then restarts it).
pub const PANIC_LIMIT: usize = 3;
/// The window [`PANIC_LIMIT`] counts panics in.
pub const PANIC_WINDOW: Duration = Duration::from_secs(300);

/// What `/readyz` and `/healthz` report on.
#[derive(Debug, Default)]
pub struct Health {
    started: AtomicBool,
    stopping: AtomicBool,
    questdb: AtomicBool,
    /// (worker, kind) → why that worker holds its partitions.
    problems: Mutex<BTreeMap<(usize, &'static str), String>>,
    panics: Mutex<VecDeque<Instant>>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// The consumer subscribed and its workers run.
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Shutdown began: not ready any more.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Whether QuestDB answered the last flush or ping.
    pub fn set_questdb(&self, ok: bool) {
        if self.questdb.load(Ordering::Relaxed) != ok {
            self.questdb.store(ok, Ordering::Release);
        }
    }

    pub fn questdb_ok(&self) -> bool {
        self.questdb.load(Ordering::Acquire)
    }

    /// `worker` holds its partitions because of `kind`, explained by `reason`.
    pub fn set_problem(&self, worker: usize, kind: HoldKind, reason: String) {
        lock(&self.problems).insert((worker, kind.as_str()), reason);
    }

    /// `worker` no longer holds its partitions because of `kind`.
    pub fn clear_problem(&self, worker: usize, kind: HoldKind) {
        lock(&self.problems).remove(&(worker, kind.as_str()));
    }

    /// Records a worker panic at `at`.
    pub fn record_panic(&self, at: Instant) {
        let mut panics = lock(&self.panics);
        panics.push_back(at);
        while panics.len() > PANIC_LIMIT {
            panics.pop_front();
        }
    }

    /// Alive unless [`PANIC_LIMIT`] worker panics happened within [`PANIC_WINDOW`] of
    /// `now`.
    pub fn live_at(&self, now: Instant) -> Result<(), String> {
        let panics = lock(&self.panics);
        let recent = panics
            .iter()
            .filter(|&&p| now.saturating_duration_since(p) <= PANIC_WINDOW)
            .count();
        if recent >= PANIC_LIMIT {
            return Err(format!(
                "{recent} worker panics within {} s",
                PANIC_WINDOW.as_secs()
            ));
        }
        Ok(())
    }

    pub fn live(&self) -> Result<(), String> {
        self.live_at(Instant::now())
    }

    /// Ready: started, not stopping, QuestDB reachable, no held problem, alive.
    pub fn ready(&self) -> Result<(), String> {
        if !self.started.load(Ordering::Acquire) {
            return Err("starting".into());
        }
        if self.stopping.load(Ordering::Acquire) {
            return Err("stopping".into());
        }
        if let Some(((_, kind), reason)) = lock(&self.problems).iter().next() {
            return Err(format!("{kind}: {reason}"));
        }
        if !self.questdb_ok() {
            return Err("questdb unreachable".into());
        }
        self.live()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_started_reachable_and_not_stopping() {
        let h = Health::new();
        assert_eq!(h.ready(), Err("starting".into()));
        h.set_started();
        assert_eq!(h.ready(), Err("questdb unreachable".into()));
        h.set_questdb(true);
        assert_eq!(h.ready(), Ok(()));
        h.set_stopping();
        assert_eq!(h.ready(), Err("stopping".into()));
    }

    #[test]
    fn a_held_problem_makes_it_unready_with_its_reason_until_every_worker_clears_it() {
        let h = Health::new();
        h.set_started();
        h.set_questdb(true);
        h.set_problem(0, HoldKind::Schema, "cast error: price".into());
        h.set_problem(1, HoldKind::Schema, "cast error: price".into());
        assert_eq!(h.ready(), Err("schema: cast error: price".into()));
        h.clear_problem(0, HoldKind::Schema);
        assert!(h.ready().is_err(), "worker 1 still holds");
        h.clear_problem(1, HoldKind::Schema);
        assert_eq!(h.ready(), Ok(()));
    }

    #[test]
    fn repeated_panics_make_it_unhealthy_until_they_age_out() {
        let h = Health::new();
        h.set_started();
        h.set_questdb(true);
        let t0 = Instant::now();
        for i in 0..PANIC_LIMIT - 1 {
            h.record_panic(t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(h.live_at(t0 + Duration::from_secs(10)), Ok(()));
        h.record_panic(t0 + Duration::from_secs(10));
        assert!(h.live_at(t0 + Duration::from_secs(11)).is_err());
        assert!(h.ready().is_err());
        assert_eq!(
            h.live_at(t0 + PANIC_WINDOW + Duration::from_secs(1)),
            Ok(())
        );
    }
}
