//! Unit tests of the dispatcher.

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
        bytes: records,
        last_offset: Some(last),
    }
}

fn max(records: usize) -> Limit {
    Limit {
        records,
        bytes: usize::MAX,
    }
}

#[test]
fn a_leased_partition_is_not_handed_to_another_worker() {
    let d = Dispatcher::new();
    let l = assign(&d, 1);
    d.push([chunk(l[0], 0..3)]);
    let mut a = Vec::new();
    let got = d.take(0, &mut a, 2, max(100), Some(Instant::now()));
    assert_eq!(got.len(), 1);
    d.push([chunk(l[0], 3..5)]);
    let mut b = Vec::new();
    assert!(
        d.take(1, &mut b, 2, max(100), Some(Instant::now()))
            .is_empty()
    );
    // The owner gets the partition's new records itself.
    let more = d.take(0, &mut a, 2, max(100), Some(Instant::now()));
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
    d.take(0, &mut a, 1, max(100), Some(Instant::now()));
    d.push([chunk(l[0], 2..4)]);
    d.complete(&mut a, &[done(l[0], 2, 1)], |_, _| Ok::<(), ()>(()));
    let mut b = Vec::new();
    let got = d.take(1, &mut b, 1, max(100), Some(Instant::now()));
    assert_eq!(got[0].records()[0].offset, 2);
    assert_eq!(b, vec![l[0]]);
}

#[test]
fn a_worker_leases_at_most_its_fair_share_of_partitions() {
    let d = Dispatcher::new();
    let l = assign(&d, 4);
    d.push(l.iter().map(|&l| chunk(l, 0..1)));
    let mut a = Vec::new();
    d.take(0, &mut a, 2, max(1000), Some(Instant::now()));
    assert_eq!(a.len(), 2);
    let mut b = Vec::new();
    d.take(1, &mut b, 2, max(1000), Some(Instant::now()));
    assert_eq!(b.len(), 2);
    assert!(a.iter().all(|x| !b.contains(x)));
}

#[test]
fn revoke_drops_queued_records_and_ignores_stale_completion() {
    let d = Dispatcher::new();
    let l = assign(&d, 1);
    d.push([chunk(l[0], 0..2)]);
    let mut a = Vec::new();
    d.take(0, &mut a, 1, max(1), Some(Instant::now()));
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
    d.take(0, &mut a, 1, max(10), Some(Instant::now()));
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
            0,
            &mut leases,
            1,
            max(10),
            Some(Instant::now() + Duration::from_secs(60)),
        )
    });
    std::thread::sleep(Duration::from_millis(20));
    d.close();
    assert!(worker.join().expect("worker").is_empty());
}

#[test]
fn bytes_in_flight_are_counted_until_completed() {
    let d = Dispatcher::new();
    let l = assign(&d, 1);
    d.push([chunk(l[0], 0..4)]);
    assert_eq!(d.load().bytes, 4);
    assert_eq!(d.load().partitions[0].bytes, 4);
    let mut a = Vec::new();
    d.take(0, &mut a, 1, max(100), Some(Instant::now()));
    d.complete(&mut a, &[done(l[0], 4, 3)], |_, _| Ok::<(), ()>(()));
    assert_eq!(d.load().bytes, 0);
}

#[test]
fn a_take_stops_at_the_byte_limit_but_takes_one_chunk_at_least() {
    let d = Dispatcher::new();
    let l = assign(&d, 1);
    d.push([chunk(l[0], 0..3), chunk(l[0], 3..6), chunk(l[0], 6..9)]);
    let mut a = Vec::new();
    let limit = Limit {
        records: 100,
        bytes: 4,
    };
    let got = d.take(0, &mut a, 1, limit, Some(Instant::now()));
    assert_eq!(got.len(), 2, "3 bytes, then 6 >= 4");
    let got = d.take(
        0,
        &mut a,
        1,
        Limit {
            records: 100,
            bytes: 1,
        },
        Some(Instant::now()),
    );
    assert_eq!(got.len(), 1);
}

#[test]
fn a_dead_workers_partitions_are_re_read_from_the_first_offset_it_did_not_store() {
    let d = Dispatcher::new();
    let l = assign(&d, 2);
    d.push([chunk(l[0], 0..3), chunk(l[1], 0..2)]);
    let mut a = Vec::new();
    d.take(0, &mut a, 1, max(100), Some(Instant::now()));
    d.complete(&mut a, &[done(l[0], 3, 2), done(l[1], 2, 1)], |_, _| {
        Ok::<(), ()>(())
    });
    // Worker 0 takes offsets 3..5 of partition 0, more arrive, and it dies.
    d.push([chunk(l[0], 3..5)]);
    d.take(0, &mut a, 1, max(100), Some(Instant::now()));
    d.push([chunk(l[0], 5..7)]);
    assert_eq!(d.abandon(0), vec![PartitionId::new("t", 0)]);
    assert_eq!(d.load().inflight, 0);
    assert_eq!(d.load().bytes, 0);
    let seeks = d.seeks();
    assert_eq!(seeks.len(), 1);
    assert_eq!((seeks[0].id.partition, seeks[0].offset), (0, 3));
    // Until the seek, nothing of the partition is queued or handed out.
    d.push([chunk(l[0], 7..8)]);
    let mut b = Vec::new();
    assert!(
        d.take(1, &mut b, 1, max(100), Some(Instant::now()))
            .is_empty()
    );
    d.sought(&seeks[0]);
    assert!(d.seeks().is_empty());
    d.push([chunk(l[0], 7..8)]);
    assert!(
        d.take(1, &mut b, 1, max(100), Some(Instant::now()))
            .is_empty(),
        "stale epoch"
    );
    let fresh = d
        .leases()
        .into_iter()
        .find(|(id, _)| id.partition == 0)
        .unwrap()
        .1;
    d.push([chunk(fresh, 3..7)]);
    let got = d.take(1, &mut b, 1, max(100), Some(Instant::now()));
    assert_eq!(got[0].records()[0].offset, 3);
    assert_eq!(d.stored_offsets().len(), 2, "stored offsets survive");
}

#[test]
fn abandoning_releases_only_the_dead_workers_partitions() {
    let d = Dispatcher::new();
    let l = assign(&d, 2);
    d.push([chunk(l[0], 0..1), chunk(l[1], 0..1)]);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    d.take(0, &mut a, 2, max(100), Some(Instant::now()));
    d.take(1, &mut b, 2, max(100), Some(Instant::now()));
    assert_eq!(d.abandon(1).len(), 1);
    assert_eq!(d.load().inflight, 1, "worker 0's record is still in flight");
    let stored = d.revoke(&[PartitionId::new("t", 1)], Duration::from_secs(30));
    assert!(stored.is_empty(), "a revoke does not wait for a dead owner");
}

#[test]
fn the_oldest_in_flight_timestamp_stays_until_its_batch_completes() {
    let d = Dispatcher::new();
    let l = assign(&d, 2);
    let stamped = |lease: Lease, first: i64, ts: i64| {
        let mut c = Chunk::new(lease.slot, lease.epoch);
        c.push(first, Some(ts), None, b"x");
        c.push(first + 1, Some(ts + 5), None, b"x");
        c
    };
    d.push([stamped(l[0], 0, 1_000), stamped(l[1], 0, 2_000)]);
    assert_eq!(d.load().oldest_ms, Some(1_000));
    let mut a = Vec::new();
    d.take(0, &mut a, 1, max(2), Some(Instant::now()));
    d.push([stamped(l[0], 2, 3_000)]);
    assert_eq!(d.load().oldest_ms, Some(1_000), "taken, not acknowledged");
    let lease = a[0];
    d.complete(&mut a, &[done(lease, 2, 1)], |_, _| Ok::<(), ()>(()));
    assert_eq!(d.load().oldest_ms, Some(2_000));
    d.revoke(&[PartitionId::new("t", 1)], Duration::ZERO);
    assert_eq!(d.load().oldest_ms, Some(3_000));
}
