//! Liveness and readiness state shared by the workers, the poll thread, the Kafka
//! clients and `/readyz` / `/healthz`: start-up, shutdown, QuestDB's state, Kafka client
//! problems, the problems workers hold their partitions for, and recent worker panics.
//! `/readyz` answers one `<code>: <detail>` line per problem.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::metrics::HoldKind;
use crate::security::{ClientErrorKind, ClientProblems};

/// Why QuestDB cannot take rows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestdbProblem {
    /// No answer, or an answer that is no acknowledgement (outage, 5xx, timeout).
    Unreachable,
    /// QuestDB refused the credentials (HTTP 401 or 403).
    Authentication,
}

impl QuestdbProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestdbProblem::Unreachable => "questdb-unreachable",
            QuestdbProblem::Authentication => "questdb-authentication",
        }
    }
}

/// Panics within [`PANIC_WINDOW`] from which the process is unhealthy (the kubelet
/// then restarts it).
pub const PANIC_LIMIT: usize = 3;
/// The window [`PANIC_LIMIT`] counts panics in.
pub const PANIC_WINDOW: Duration = Duration::from_secs(300);

/// What `/readyz` and `/healthz` report on.
#[derive(Debug)]
pub struct Health {
    started: AtomicBool,
    stopping: AtomicBool,
    /// `None` while QuestDB takes rows.
    questdb: Mutex<Option<(QuestdbProblem, String)>>,
    kafka: Mutex<ClientProblems>,
    /// A broker accepted the consumer since start.
    kafka_connected: AtomicBool,
    /// (worker, kind) → why that worker holds its partitions.
    problems: Mutex<BTreeMap<(usize, &'static str), String>>,
    panics: Mutex<VecDeque<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            questdb: Mutex::new(Some((
                QuestdbProblem::Unreachable,
                "not reached yet".to_owned(),
            ))),
            kafka: Mutex::new(ClientProblems::default()),
            kafka_connected: AtomicBool::new(false),
            problems: Mutex::default(),
            panics: Mutex::default(),
        }
    }
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

    /// QuestDB acknowledged a flush or ran a query with the credentials.
    pub fn set_questdb_ok(&self) {
        *lock(&self.questdb) = None;
    }

    /// QuestDB failed a flush or a query because of `problem`, explained by `detail`.
    pub fn set_questdb_problem(&self, problem: QuestdbProblem, detail: String) {
        *lock(&self.questdb) = Some((problem, detail));
    }

    /// QuestDB's `/ping` (which asks for no credentials) answered: it is reachable, which
    /// says nothing of refused credentials.
    pub fn set_questdb_reachable(&self, reachable: bool, detail: impl FnOnce() -> String) {
        let mut state = lock(&self.questdb);
        match (&*state, reachable) {
            (Some((QuestdbProblem::Unreachable, _)), true) => *state = None,
            (None | Some((QuestdbProblem::Unreachable, _)), false) => {
                *state = Some((QuestdbProblem::Unreachable, detail()))
            }
            _ => {}
        }
    }

    pub fn questdb_ok(&self) -> bool {
        lock(&self.questdb).is_none()
    }

    /// A Kafka client reported `kind`; true when that is news (to be logged).
    pub fn report_kafka(&self, kind: ClientErrorKind, detail: &str) -> bool {
        lock(&self.kafka).report(kind, detail)
    }

    /// A broker accepted a Kafka client: returns the problems that are over.
    pub fn kafka_connected(&self) -> Vec<ClientErrorKind> {
        self.kafka_connected.store(true, Ordering::Release);
        lock(&self.kafka).clear()
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

    /// Ready: started, not stopping, connected to Kafka without problems, QuestDB
    /// taking rows, no held problem, alive. Otherwise every reason, one
    /// `<code>: <detail>` line each.
    pub fn ready(&self) -> Result<(), String> {
        let mut lines = Vec::new();
        if !self.started.load(Ordering::Acquire) {
            lines.push("starting: the consumer is not subscribed yet".to_owned());
        }
        if self.stopping.load(Ordering::Acquire) {
            lines.push("stopping: shutting down".to_owned());
        }
        let kafka = lock(&self.kafka).lines();
        if kafka.is_empty() && !self.kafka_connected.load(Ordering::Acquire) {
            lines.push("starting: no Kafka broker has accepted the consumer yet".to_owned());
        }
        lines.extend(kafka);
        if let Some((problem, detail)) = &*lock(&self.questdb) {
            lines.push(format!("{}: {detail}", problem.as_str()));
        }
        lines.extend(
            lock(&self.problems)
                .iter()
                .map(|((_, kind), reason)| format!("{kind}: {reason}")),
        );
        if let Err(reason) = self.live() {
            lines.push(format!("worker-panics: {reason}"));
        }
        lines.dedup();
        if lines.is_empty() {
            Ok(())
        } else {
            Err(lines.join("\n"))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer that started and was accepted by a broker and QuestDB.
    fn ready_health() -> Health {
        let h = Health::new();
        h.set_started();
        h.kafka_connected();
        h.set_questdb_ok();
        h
    }

    #[test]
    fn ready_only_when_started_connected_reachable_and_not_stopping() {
        let h = Health::new();
        assert_eq!(
            h.ready(),
            Err("starting: the consumer is not subscribed yet\nstarting: no Kafka broker has accepted the consumer yet\nquestdb-unreachable: not reached yet".into())
        );
        h.set_started();
        h.kafka_connected();
        assert_eq!(
            h.ready(),
            Err("questdb-unreachable: not reached yet".into())
        );
        h.set_questdb_ok();
        assert_eq!(h.ready(), Ok(()));
        h.set_stopping();
        assert_eq!(h.ready(), Err("stopping: shutting down".into()));
    }

    #[test]
    fn a_held_problem_makes_it_unready_with_its_reason_until_every_worker_clears_it() {
        let h = ready_health();
        h.set_problem(0, HoldKind::Schema, "cast error: price".into());
        h.set_problem(1, HoldKind::Schema, "cast error: price".into());
        assert_eq!(h.ready(), Err("schema: cast error: price".into()));
        h.clear_problem(0, HoldKind::Schema);
        assert!(h.ready().is_err(), "worker 1 still holds");
        h.clear_problem(1, HoldKind::Schema);
        assert_eq!(h.ready(), Ok(()));
    }

    #[test]
    fn kafka_problems_are_one_line_each_until_a_broker_accepts_the_consumer() {
        let h = ready_health();
        assert!(h.report_kafka(
            ClientErrorKind::Authentication,
            "b: SASL authentication error: bad (after 3ms in state AUTH_REQ)"
        ));
        assert!(!h.report_kafka(ClientErrorKind::Authentication, "b: SASL authentication error: bad (after 9ms in state AUTH_REQ, 2 identical error(s) suppressed)"));
        assert!(h.report_kafka(
            ClientErrorKind::Unreachable,
            "b: Connect to ipv4#10.0.0.1:9 failed"
        ));
        assert_eq!(
            h.ready(),
            Err("kafka-authentication: b: SASL authentication error: bad\nkafka-unreachable: b: Connect to ipv4#10.0.0.1:9 failed".into())
        );
        assert_eq!(
            h.kafka_connected(),
            vec![
                ClientErrorKind::Authentication,
                ClientErrorKind::Unreachable
            ]
        );
        assert_eq!(h.ready(), Ok(()));
    }

    #[test]
    fn a_ping_without_credentials_clears_an_outage_but_not_refused_credentials() {
        let h = ready_health();
        h.set_questdb_problem(QuestdbProblem::Unreachable, "connection refused".into());
        h.set_questdb_reachable(true, String::new);
        assert_eq!(h.ready(), Ok(()));
        h.set_questdb_reachable(false, || "timed out".into());
        assert_eq!(h.ready(), Err("questdb-unreachable: timed out".into()));
        h.set_questdb_problem(
            QuestdbProblem::Authentication,
            "QuestDB answered HTTP 401: Unauthorized".into(),
        );
        h.set_questdb_reachable(true, String::new);
        h.set_questdb_reachable(false, || "timed out".into());
        assert_eq!(
            h.ready(),
            Err("questdb-authentication: QuestDB answered HTTP 401: Unauthorized".into())
        );
        h.set_questdb_ok();
        assert_eq!(h.ready(), Ok(()));
    }

    #[test]
    fn repeated_panics_make_it_unhealthy_until_they_age_out() {
        let h = ready_health();
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
