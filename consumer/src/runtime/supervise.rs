//! Supervision of a worker thread: a panic is caught, reported, and the worker is run
//! again after a back-off that grows with repeated panics, for as long as it should run.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use super::retry::{Backoff, sleep_unless};

/// The first restart waits this long, doubling up to [`MAX_RESTART_DELAY`].
pub const FIRST_RESTART_DELAY: Duration = Duration::from_millis(500);
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// Runs `run` until it returns. When it panics, `on_panic` is told why (and takes back
/// what the worker held), then `run` starts again after the back-off, unless `stop()`
/// turns true meanwhile. Returns how many panics were caught.
pub fn supervise(
    mut run: impl FnMut(),
    mut on_panic: impl FnMut(&str),
    stop: impl Fn() -> bool,
    mut backoff: Backoff,
) -> usize {
    let mut panics = 0;
    loop {
        match catch_unwind(AssertUnwindSafe(&mut run)) {
            Ok(()) => return panics,
            Err(payload) => {
                panics += 1;
                on_panic(&panic_message(payload.as_ref()));
                if !sleep_unless(backoff.next_delay(), &stop) {
                    return panics;
                }
            }
        }
    }
}

/// The backoff between restarts of a worker.
pub fn restart_backoff() -> Backoff {
    Backoff::new(FIRST_RESTART_DELAY, MAX_RESTART_DELAY)
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use super::*;
    use crate::runtime::chunk::{Chunk, PartitionId};
    use crate::runtime::dispatch::{Dispatcher, Limit};

    fn quick() -> Backoff {
        Backoff::new(Duration::from_millis(1), Duration::from_millis(4))
    }

    #[test]
    fn a_panicking_worker_is_restarted_and_its_partitions_are_re_read() {
        let d = Dispatcher::new();
        let (id, lease) = d.assign(&[PartitionId::new("t", 0)]).remove(0);
        let mut chunk = Chunk::new(lease.slot, lease.epoch);
        for offset in 10..13 {
            chunk.push(offset, None, None, b"{}");
        }
        d.push([chunk]);
        let mut runs = 0;
        let mut reasons = Vec::new();
        let mut released = Vec::new();
        let panics = supervise(
            || {
                runs += 1;
                if runs <= 2 {
                    let mut leases = Vec::new();
                    let limit = Limit {
                        records: 100,
                        bytes: 1 << 20,
                    };
                    d.take(7, &mut leases, 1, limit, Some(Instant::now()));
                    panic!("bug number {runs}");
                }
            },
            |why| {
                reasons.push(why.to_owned());
                released.extend(d.abandon(7));
                // The poll thread seeks and the records arrive again.
                for seek in d.seeks() {
                    assert_eq!(seek.offset, 10);
                    d.sought(&seek);
                    let lease = d.leases()[0].1;
                    let mut again = Chunk::new(lease.slot, lease.epoch);
                    for offset in 10..13 {
                        again.push(offset, None, None, b"{}");
                    }
                    d.push([again]);
                }
            },
            || false,
            quick(),
        );
        assert_eq!((panics, runs), (2, 3));
        assert_eq!(reasons, vec!["bug number 1", "bug number 2"]);
        assert_eq!(released, vec![id.clone(), id]);
        assert_eq!(d.load().inflight, 3, "the records wait for the next owner");
    }

    #[test]
    fn a_stop_during_the_back_off_ends_supervision() {
        let stop = AtomicBool::new(false);
        let mut runs = 0;
        let panics = supervise(
            || {
                runs += 1;
                panic!("always");
            },
            |_| stop.store(true, Ordering::Release),
            || stop.load(Ordering::Acquire),
            quick(),
        );
        assert_eq!((panics, runs), (1, 1));
    }
}
