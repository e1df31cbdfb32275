//! The Kafka timestamps of one partition's in-flight records (pure), oldest first, kept
//! per chunk as a count and the chunk's first timestamp: the age of the oldest record not
//! yet acknowledged, which the latency histogram cannot show while nothing is
//! acknowledged (a QuestDB outage).

use std::collections::VecDeque;

/// Runs of in-flight records in offset order: (records, first record's timestamp in ms).
#[derive(Debug, Default)]
pub struct InflightAges {
    runs: VecDeque<(usize, Option<i64>)>,
}

impl InflightAges {
    /// `records` more records are in flight, the first stamped `first_ms`.
    pub fn push(&mut self, records: usize, first_ms: Option<i64>) {
        if records > 0 {
            self.runs.push_back((records, first_ms));
        }
    }

    /// The oldest `n` records left flight (stored, written or dead-lettered).
    pub fn done_oldest(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let Some(front) = self.runs.front_mut() else {
                return;
            };
            if front.0 > left {
                front.0 -= left;
                return;
            }
            left -= front.0;
            self.runs.pop_front();
        }
    }

    /// The newest `n` records left flight (queued records dropped on a revoke).
    pub fn dropped_newest(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let Some(back) = self.runs.back_mut() else {
                return;
            };
            if back.0 > left {
                back.0 -= left;
                return;
            }
            left -= back.0;
            self.runs.pop_back();
        }
    }

    /// Nothing is in flight any more.
    pub fn clear(&mut self) {
        self.runs.clear();
    }

    /// The timestamp of the oldest stamped run still in flight, in ms.
    pub fn oldest_ms(&self) -> Option<i64> {
        self.runs.iter().find_map(|r| r.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_run_is_the_first_not_fully_done() {
        let mut a = InflightAges::default();
        a.push(3, Some(100));
        a.push(2, Some(200));
        assert_eq!(a.oldest_ms(), Some(100));
        a.done_oldest(2);
        assert_eq!(a.oldest_ms(), Some(100), "one record of the first run left");
        a.done_oldest(1);
        assert_eq!(a.oldest_ms(), Some(200));
        a.done_oldest(5);
        assert_eq!(a.oldest_ms(), None);
    }

    #[test]
    fn dropping_the_queued_records_keeps_the_taken_ones() {
        let mut a = InflightAges::default();
        a.push(4, Some(100));
        a.push(4, Some(200));
        a.dropped_newest(5);
        assert_eq!(a.oldest_ms(), Some(100));
        a.done_oldest(3);
        assert_eq!(a.oldest_ms(), None);
    }

    #[test]
    fn unstamped_runs_are_skipped_and_clear_empties() {
        let mut a = InflightAges::default();
        a.push(1, None);
        a.push(1, Some(300));
        assert_eq!(a.oldest_ms(), Some(300));
        a.clear();
        assert_eq!(a.oldest_ms(), None);
    }
}
