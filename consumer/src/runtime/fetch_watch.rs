//! Pure: notices an assigned partition whose fetching stopped while the broker holds
//! records for it. librdkafka recovers from a broker restart on its own almost always
//! (the partition passes through `validate-epoch-wait` for a few seconds), but a
//! partition can be left in a state that never fetches again, and then the consumer
//! would sit idle with lag forever. A stalled partition is re-sought to its own
//! position, which restarts its fetch state machine without skipping or repeating a
//! record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::chunk::PartitionId;

/// How long a partition may fetch nothing while records wait on the broker.
pub const FETCH_STALL_AFTER: Duration = Duration::from_secs(30);

/// What one statistics report says about one assigned partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    pub id: PartitionId,
    /// librdkafka's fetch state (`active`, `validate-epoch-wait`, `offset-query`, …).
    pub fetch_state: String,
    /// Offset of the next fetch (negative while unknown).
    pub next_offset: i64,
    /// Offset of the next record the application receives (negative while unknown).
    pub app_offset: i64,
    /// The partition's high watermark on the broker (negative while unknown).
    pub hi_offset: i64,
    /// Records fetched and queued in librdkafka, not yet polled.
    pub fetchq_cnt: i64,
    /// Paused by the application (backpressure): not fetching is intended.
    pub paused: bool,
}

/// A partition to seek back to its own position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    pub id: PartitionId,
    /// Where to seek: librdkafka's own fetch position (with nothing queued it is the
    /// next record the application would receive), so the seek changes nothing but
    /// the fetch state.
    pub offset: i64,
    pub fetch_state: String,
    /// Records known to wait on the broker (as of the last fetch response).
    pub behind: i64,
    pub for_secs: u64,
}

#[derive(Debug)]
struct Track {
    position: i64,
    since: Instant,
}

/// Remembers since when each assigned partition has not moved.
#[derive(Debug)]
pub struct FetchWatch {
    stall_after: Duration,
    tracks: HashMap<PartitionId, Track>,
}

impl FetchWatch {
    pub fn new(stall_after: Duration) -> Self {
        Self {
            stall_after,
            tracks: HashMap::new(),
        }
    }

    /// Takes one statistics report of the assigned partitions (partitions not listed
    /// are forgotten) and returns those stalled for at least `stall_after`. A stalled
    /// partition's clock restarts, so it is reported again only after another full
    /// stall.
    pub fn observe(&mut self, now: Instant, views: &[PartitionView]) -> Vec<Stalled> {
        self.tracks
            .retain(|id, _| views.iter().any(|v| &v.id == id));
        let mut stalled = Vec::new();
        for v in views {
            let position = v.next_offset.max(v.app_offset);
            // The high watermark comes from fetch responses: a partition that stopped
            // fetching also stops learning of new records, so a fetch state other than
            // `active` held for the whole window counts as stalled by itself.
            let waiting = v.hi_offset >= 0 && position >= 0 && v.hi_offset > position;
            let not_fetching = v.fetch_state != "active" && position >= 0;
            // No fetch response since the last (re)connection: the watermark is unknown.
            let unanswered = v.hi_offset < 0 && position >= 0;
            let idle = (waiting || not_fetching || unanswered) && !v.paused && v.fetchq_cnt <= 0;
            let track = self.tracks.entry(v.id.clone()).or_insert(Track {
                position,
                since: now,
            });
            if !idle || track.position != position {
                *track = Track {
                    position,
                    since: now,
                };
                continue;
            }
            let idle_for = now.saturating_duration_since(track.since);
            if idle_for >= self.stall_after && position >= 0 {
                stalled.push(Stalled {
                    id: v.id.clone(),
                    offset: position,
                    fetch_state: v.fetch_state.clone(),
                    behind: (v.hi_offset - position).max(0),
                    for_secs: idle_for.as_secs(),
                });
                track.since = now;
            }
        }
        stalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(next: i64, hi: i64) -> PartitionView {
        PartitionView {
            id: PartitionId::new("trades", 0),
            fetch_state: "validate-epoch-wait".into(),
            next_offset: next,
            app_offset: next,
            hi_offset: hi,
            fetchq_cnt: 0,
            paused: false,
        }
    }

    fn after(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn a_partition_that_fetches_nothing_while_records_wait_is_stalled_after_the_window() {
        let t0 = Instant::now();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        assert!(w.observe(t0, &[view(100, 500)]).is_empty());
        assert!(w.observe(after(t0, 29), &[view(100, 500)]).is_empty());
        let stalled = w.observe(after(t0, 30), &[view(100, 500)]);
        assert_eq!(stalled.len(), 1);
        assert_eq!(stalled[0].offset, 100);
        assert_eq!(stalled[0].behind, 400);
        assert_eq!(stalled[0].fetch_state, "validate-epoch-wait");
        // Reported once per full stall.
        assert!(w.observe(after(t0, 45), &[view(100, 500)]).is_empty());
        assert_eq!(w.observe(after(t0, 60), &[view(100, 500)]).len(), 1);
    }

    #[test]
    fn progress_restarts_the_clock() {
        let t0 = Instant::now();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        w.observe(t0, &[view(100, 500)]);
        w.observe(after(t0, 20), &[view(150, 500)]);
        assert!(w.observe(after(t0, 40), &[view(150, 500)]).is_empty());
        assert_eq!(w.observe(after(t0, 50), &[view(150, 500)]).len(), 1);
    }

    #[test]
    fn a_caught_up_paused_or_queued_partition_is_never_stalled() {
        let t0 = Instant::now();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        let mut caught_up = view(500, 500);
        caught_up.fetch_state = "active".into();
        let mut paused = view(100, 500);
        paused.id = PartitionId::new("trades", 1);
        paused.paused = true;
        let mut queued = view(100, 500);
        queued.id = PartitionId::new("trades", 2);
        queued.fetchq_cnt = 10;
        let mut unknown = view(-1001, 500);
        unknown.id = PartitionId::new("trades", 3);
        let all = [caught_up, paused, queued, unknown];
        for s in [0, 30, 60, 120] {
            assert!(w.observe(after(t0, s), &all).is_empty(), "at {s} s");
        }
    }

    #[test]
    fn a_partition_out_of_the_active_fetch_state_or_never_answered_is_stalled_with_no_known_lag() {
        let t0 = Instant::now();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        // Caught up as far as the last fetch response knew, then never fetched again.
        let stuck = view(500, 500);
        assert!(w.observe(t0, std::slice::from_ref(&stuck)).is_empty());
        let stalled = w.observe(after(t0, 30), std::slice::from_ref(&stuck));
        assert_eq!(stalled.len(), 1);
        assert_eq!(stalled[0].behind, 0);
        // Active, but no fetch response at all since the connection came back.
        let mut unanswered = view(500, -1);
        unanswered.fetch_state = "active".into();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        w.observe(t0, std::slice::from_ref(&unanswered));
        assert_eq!(w.observe(after(t0, 30), &[unanswered]).len(), 1);
        // The same partition fetching normally is idle, not stalled.
        let mut active = stuck;
        active.fetch_state = "active".into();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        for s in [0, 30, 60] {
            assert!(w.observe(after(t0, s), &[active.clone()]).is_empty());
        }
    }

    #[test]
    fn a_partition_no_longer_assigned_is_forgotten() {
        let t0 = Instant::now();
        let mut w = FetchWatch::new(Duration::from_secs(30));
        w.observe(t0, &[view(100, 500)]);
        w.observe(after(t0, 20), &[]);
        // Assigned again: a fresh clock.
        assert!(w.observe(after(t0, 40), &[view(100, 500)]).is_empty());
        assert_eq!(w.observe(after(t0, 70), &[view(100, 500)]).len(), 1);
    }
}
