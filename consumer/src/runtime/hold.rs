//! When to hold partitions instead of dead-lettering or retrying quietly (pure): a run
//! of records QuestDB refuses for one and the same reason, with no row accepted in
//! between, is a schema problem (the table, not the records, is wrong); a flush failing
//! with a retryable error for longer than a set time is a stall. Either way the worker
//! keeps its batch, stores nothing, and retries slowly while the pod is unready.

use std::time::{Duration, Instant};

/// Records refused in a row for one reason from which it is a schema problem: one or
/// two bad rows are dead-lettered, a third identical refusal with nothing accepted in
/// between holds.
pub const SCHEMA_RUN: usize = 3;

/// QuestDB's refusal message without what differs from row to row (line numbers,
/// error ids, values' digits), so refusals for one reason compare equal.
pub fn reason_key(message: &str) -> String {
    let message = message.split(" [errorId").next().unwrap_or(message);
    let mut out = String::with_capacity(message.len());
    let mut in_digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The run of refusals a worker has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusalRun {
    key: Option<String>,
    records: usize,
}

impl RefusalRun {
    /// Observes a written batch: `sent` records went to QuestDB and `refused` of them
    /// were refused, with QuestDB's messages. Returns the reason when the batch is to be
    /// held as a schema problem: every record sent was refused for one reason and the
    /// run of such records reached [`SCHEMA_RUN`].
    pub fn observe(&mut self, sent: usize, refused: &[&str]) -> Option<String> {
        if sent == 0 {
            return None;
        }
        if refused.len() < sent {
            *self = RefusalRun::default();
            return None;
        }
        let key = reason_key(refused[0]);
        if refused[1..].iter().any(|m| reason_key(m) != key) {
            *self = RefusalRun::default();
            return None;
        }
        if self.key.as_deref() == Some(key.as_str()) {
            self.records += sent;
        } else {
            self.key = Some(key);
            self.records = sent;
        }
        (self.records >= SCHEMA_RUN).then(|| refused[0].to_owned())
    }

    /// Whether the run already reached [`SCHEMA_RUN`] for the reason of `message`: a
    /// whole batch refused for it then holds without isolating each record first.
    pub fn holds(&self, message: &str) -> bool {
        self.records >= SCHEMA_RUN && self.key.as_deref() == Some(reason_key(message).as_str())
    }

    /// A row was accepted: the run ends.
    pub fn reset(&mut self) {
        *self = RefusalRun::default();
    }
}

/// How long a flush has been failing with retryable errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stall {
    since: Option<Instant>,
    flagged: bool,
}

impl Stall {
    /// A retryable failure at `now`; true the first time failures have lasted
    /// `after` (the worker then goes unready and retries slowly).
    pub fn failed(&mut self, now: Instant, after: Duration) -> bool {
        let since = *self.since.get_or_insert(now);
        if !self.flagged && now.saturating_duration_since(since) >= after {
            self.flagged = true;
            return true;
        }
        false
    }

    /// Whether the stall was flagged.
    pub fn flagged(&self) -> bool {
        self.flagged
    }

    /// The flush succeeded (or was given up): returns whether it had been flagged.
    pub fn end(&mut self) -> bool {
        std::mem::take(self).flagged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAST: &str = "error in line 7: table: trades, column: price; cast error from protocol type: FLOAT to column type: INT [errorId: 5f-12, code: invalid, line: 7]";

    #[test]
    fn refusals_for_one_reason_share_a_key_whatever_the_line() {
        let other_line = CAST
            .replace("line 7", "line 1234")
            .replace("line: 7", "line: 1234");
        assert_eq!(reason_key(CAST), reason_key(&other_line));
        assert_ne!(reason_key(CAST), reason_key(&CAST.replace("price", "size")));
    }

    #[test]
    fn a_whole_batch_refused_for_one_reason_is_a_schema_problem() {
        let mut run = RefusalRun::default();
        assert_eq!(run.observe(4, &[CAST; 4]), Some(CAST.to_owned()));
        assert!(run.holds(CAST));
    }

    #[test]
    fn one_or_two_bad_rows_are_not_a_schema_problem() {
        let mut run = RefusalRun::default();
        assert_eq!(run.observe(1, &[CAST]), None);
        assert_eq!(run.observe(1, &[CAST]), None);
        assert!(!run.holds(CAST));
        // A third in a row is.
        assert!(run.observe(1, &[CAST]).is_some());
    }

    #[test]
    fn an_accepted_row_or_another_reason_ends_the_run() {
        let mut run = RefusalRun::default();
        assert_eq!(run.observe(2, &[CAST, CAST]), None);
        assert_eq!(run.observe(3, &[CAST, CAST]), None, "one row accepted");
        assert_eq!(run.observe(2, &[CAST, CAST]), None);
        let size = CAST.replace("price", "size");
        assert_eq!(run.observe(2, &[CAST, &size]), None, "mixed reasons");
        assert_eq!(run.observe(2, &[CAST, CAST]), None);
        run.reset();
        assert_eq!(run.observe(2, &[CAST, CAST]), None);
    }

    #[test]
    fn a_stall_is_flagged_once_after_the_set_time_and_ends_with_a_success() {
        let t0 = Instant::now();
        let after = Duration::from_secs(60);
        let mut stall = Stall::default();
        assert!(!stall.failed(t0, after));
        assert!(!stall.failed(t0 + Duration::from_secs(59), after));
        assert!(stall.failed(t0 + Duration::from_secs(60), after));
        assert!(!stall.failed(t0 + Duration::from_secs(90), after), "once");
        assert!(stall.flagged());
        assert!(stall.end());
        assert!(!stall.end());
    }
}
