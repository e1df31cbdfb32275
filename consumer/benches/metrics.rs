//! Cost of recording one processed record on the hot path, with 2 threads recording at
//! once: spate's per-worker local counts published once per batch, against a naive
//! `Arc<Mutex<HashMap<String, u64>>>` registry and prometheus counters updated per record.
//!
//! Run: `cargo bench -p spate-consumer --bench metrics`. Each iteration is one record
//! recorded by each of the 2 threads; the time shown is per record per thread.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::IntCounter;
use spate_consumer::metrics::Metrics;

const THREADS: usize = 2;
/// Records per batch: how often a worker publishes its local counts.
const BATCH: u64 = 1000;

/// Runs `work(iters)` on `THREADS` threads started together; returns the slowest time.
fn on_threads<F>(iters: u64, work: F) -> Duration
where
    F: Fn(u64) + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (work, barrier) = (work.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                work(iters);
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_processed_2_threads");

    let metrics = Metrics::new().expect("metrics");
    group.bench_function("spate_local_counts", |b| {
        let metrics = metrics.clone();
        b.iter_custom(move |iters| {
            let metrics = metrics.clone();
            on_threads(iters, move |n| {
                let mut rec = metrics.worker_recorder();
                let mut left = n;
                while left > 0 {
                    let batch = left.min(BATCH);
                    for _ in 0..batch {
                        rec.record_processed(black_box(1));
                    }
                    rec.publish();
                    left -= batch;
                }
            })
        })
    });

    group.bench_function("spate_local_counts_and_latency", |b| {
        let metrics = metrics.clone();
        b.iter_custom(move |iters| {
            let metrics = metrics.clone();
            on_threads(iters, move |n| {
                let mut rec = metrics.worker_recorder();
                let mut left = n;
                while left > 0 {
                    let batch = left.min(BATCH);
                    for i in 0..batch {
                        rec.record_processed(black_box(1));
                        rec.observe_latency_ms(black_box(8 + i % 64));
                    }
                    rec.publish();
                    left -= batch;
                }
            })
        })
    });

    group.bench_function("naive_mutex_hashmap", |b| {
        let registry: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        b.iter_custom(move |iters| {
            let registry = registry.clone();
            on_threads(iters, move |n| {
                for _ in 0..n {
                    let mut map = registry.lock().expect("lock");
                    *map.entry(black_box("trades_processed_total").to_owned())
                        .or_insert(0) += 1;
                }
            })
        })
    });

    group.bench_function("prometheus_counter_per_record", |b| {
        let counter = IntCounter::new("bench_total", "bench").expect("counter");
        b.iter_custom(move |iters| {
            let counter = counter.clone();
            on_threads(iters, move |n| {
                for _ in 0..n {
                    black_box(&counter).inc();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
