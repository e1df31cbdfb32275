//! Backpressure decisions (pure): pause partitions above the in-flight high watermarks,
//! in records or in payload bytes, resume them once below both low ones, with
//! hysteresis in between.

use super::dispatch::Load;
use super::memory::ByteBudget;

/// In-flight bounds, for the whole process and for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    pub high: usize,
    pub low: usize,
    pub partition_high: usize,
    pub partition_low: usize,
    pub high_bytes: usize,
    pub low_bytes: usize,
    pub partition_high_bytes: usize,
    pub partition_low_bytes: usize,
}

impl Watermarks {
    /// Process-wide `high`/`low` records and the byte budget's `high`/`low`; a
    /// partition pauses at `queue_capacity` in-flight records or the budget's
    /// `partition` bytes and resumes at a quarter of both.
    pub fn new(high: usize, low: usize, queue_capacity: usize, bytes: &ByteBudget) -> Self {
        let partition_high = queue_capacity.max(1);
        let partition_high_bytes = bytes.partition.max(1);
        Self {
            high,
            low,
            partition_high,
            partition_low: partition_high / 4,
            high_bytes: bytes.high,
            low_bytes: bytes.low,
            partition_high_bytes,
            partition_low_bytes: partition_high_bytes / 4,
        }
    }
}

/// What to change: the new process-wide state and the slots to pause or resume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub active: bool,
    pub pause: Vec<usize>,
    pub resume: Vec<usize>,
}

/// Decides pauses and resumptions from the current load. `active` is the previous
/// process-wide state; `hold_all` pauses everything (shutting down).
pub fn decide(w: &Watermarks, active: bool, hold_all: bool, load: &Load) -> Decision {
    let active = if load.inflight >= w.high || load.bytes >= w.high_bytes {
        true
    } else if load.inflight <= w.low && load.bytes <= w.low_bytes {
        false
    } else {
        active
    };
    let mut decision = Decision {
        active,
        ..Decision::default()
    };
    for p in &load.partitions {
        let must_pause = hold_all
            || active
            || p.inflight >= w.partition_high
            || p.bytes >= w.partition_high_bytes;
        let may_resume = !hold_all
            && !active
            && p.inflight <= w.partition_low
            && p.bytes <= w.partition_low_bytes;
        if !p.paused && must_pause {
            decision.pause.push(p.slot);
        } else if p.paused && may_resume {
            decision.resume.push(p.slot);
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::chunk::PartitionId;
    use crate::runtime::dispatch::PartitionLoad;

    fn load(parts: &[(usize, bool)]) -> Load {
        Load {
            queued: 0,
            oldest_ms: None,
            inflight: parts.iter().map(|p| p.0).sum(),
            bytes: parts.iter().map(|p| p.0).sum(),
            partitions: parts
                .iter()
                .enumerate()
                .map(|(slot, &(inflight, paused))| PartitionLoad {
                    slot,
                    id: PartitionId::new("t", slot as i32),
                    inflight,
                    bytes: inflight,
                    paused,
                })
                .collect(),
        }
    }

    const W: Watermarks = Watermarks {
        high: 800,
        low: 200,
        partition_high: 1000,
        partition_low: 250,
        high_bytes: usize::MAX,
        low_bytes: usize::MAX - 1,
        partition_high_bytes: usize::MAX,
        partition_low_bytes: usize::MAX - 1,
    };

    /// Records count one each, bytes 1000 each: only the byte bounds bite.
    fn heavy(parts: &[(usize, bool)]) -> Load {
        let mut l = load(parts);
        l.bytes *= 1000;
        for p in &mut l.partitions {
            p.bytes *= 1000;
        }
        l
    }

    const B: Watermarks = Watermarks {
        high: usize::MAX,
        low: usize::MAX - 1,
        partition_high: usize::MAX,
        partition_low: usize::MAX - 1,
        high_bytes: 800_000,
        low_bytes: 200_000,
        partition_high_bytes: 1_000_000,
        partition_low_bytes: 250_000,
    };

    #[test]
    fn above_the_byte_high_watermark_every_partition_pauses_whatever_the_records() {
        let d = decide(&B, false, false, &heavy(&[(500, false), (400, false)]));
        assert!(d.active);
        assert_eq!(d.pause, vec![0, 1]);
        let d = decide(&B, true, false, &heavy(&[(300, true), (200, true)]));
        assert!(d.active, "hysteresis in bytes");
        let d = decide(&B, true, false, &heavy(&[(100, true), (50, true)]));
        assert_eq!((d.active, d.resume), (false, vec![0, 1]));
    }

    #[test]
    fn a_partition_full_in_bytes_pauses_alone() {
        let d = decide(&B, false, false, &heavy(&[(1000, false), (10, false)]));
        assert_eq!((d.active, d.pause), (true, vec![0, 1]));
        let w = Watermarks {
            high_bytes: usize::MAX,
            low_bytes: usize::MAX - 1,
            ..B
        };
        let d = decide(&w, false, false, &heavy(&[(1000, false), (10, false)]));
        assert_eq!((d.active, d.pause), (false, vec![0]));
    }

    #[test]
    fn resuming_needs_both_records_and_bytes_below_the_low_watermarks() {
        let w = Watermarks {
            high_bytes: 800,
            low_bytes: 200,
            ..W
        };
        // 100 records (below 200) but 100 000 bytes (above 200).
        let d = decide(&w, true, false, &heavy(&[(100, true)]));
        assert!(d.active && d.resume.is_empty());
    }

    #[test]
    fn above_the_high_watermark_every_partition_pauses() {
        let d = decide(&W, false, false, &load(&[(500, false), (400, false)]));
        assert!(d.active);
        assert_eq!(d.pause, vec![0, 1]);
    }

    #[test]
    fn between_the_watermarks_nothing_changes() {
        let d = decide(&W, true, false, &load(&[(300, true), (200, true)]));
        assert!(d.active);
        assert!(d.pause.is_empty() && d.resume.is_empty());
        let d = decide(&W, false, false, &load(&[(300, false), (200, false)]));
        assert!(!d.active);
        assert!(d.pause.is_empty() && d.resume.is_empty());
    }

    #[test]
    fn below_the_low_watermark_partitions_resume() {
        let d = decide(&W, true, false, &load(&[(100, true), (50, true)]));
        assert!(!d.active);
        assert_eq!(d.resume, vec![0, 1]);
    }

    #[test]
    fn a_single_full_partition_pauses_alone() {
        let w = Watermarks { high: 10_000, ..W };
        let d = decide(&w, false, false, &load(&[(1000, false), (10, false)]));
        assert!(!d.active);
        assert_eq!(d.pause, vec![0]);
        let d = decide(&w, false, false, &load(&[(600, true), (10, false)]));
        assert!(d.resume.is_empty(), "hysteresis per partition");
    }

    #[test]
    fn holding_pauses_everything_and_resumes_nothing() {
        let d = decide(&W, false, true, &load(&[(0, false), (0, true)]));
        assert_eq!(d.pause, vec![0]);
        assert!(d.resume.is_empty());
    }
}
