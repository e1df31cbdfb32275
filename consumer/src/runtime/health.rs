//! Liveness and readiness state shared by the workers, the poll thread and `/readyz`.

use std::sync::atomic::{AtomicBool, Ordering};

/// What `/readyz` reports on.
#[derive(Debug, Default)]
pub struct Health {
    started: AtomicBool,
    stopping: AtomicBool,
    questdb: AtomicBool,
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

    /// Ready: started, not stopping, QuestDB reachable.
    pub fn ready(&self) -> Result<(), &'static str> {
        if !self.started.load(Ordering::Acquire) {
            return Err("starting");
        }
        if self.stopping.load(Ordering::Acquire) {
            return Err("stopping");
        }
        if !self.questdb_ok() {
            return Err("questdb unreachable");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_started_reachable_and_not_stopping() {
        let h = Health::new();
        assert_eq!(h.ready(), Err("starting"));
        h.set_started();
        assert_eq!(h.ready(), Err("questdb unreachable"));
        h.set_questdb(true);
        assert_eq!(h.ready(), Ok(()));
        h.set_stopping();
        assert_eq!(h.ready(), Err("stopping"));
    }
}
