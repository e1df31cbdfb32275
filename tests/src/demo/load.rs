//! The scenario's load: a schedule of constant-rate phases (quiet, spike, quiet) produced to
//! Kafka from a thread, counting the trades Kafka acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use spate_consumer::loadgen::{Market, OutputFormat, Renderer};

use super::DemoError;
use crate::kafka_config;

/// A stretch of constant arrival rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// How long, seconds.
    pub seconds: f64,
    /// Trades per second.
    pub rate: f64,
}

/// A schedule of phases, one after the other.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule(pub Vec<Phase>);

impl Schedule {
    /// Quiet at `base`, a spike at `peak`, quiet again.
    pub fn spike(base: f64, quiet: f64, peak: f64, spike: f64, tail: f64) -> Self {
        Schedule(vec![
            Phase {
                seconds: quiet,
                rate: base,
            },
            Phase {
                seconds: spike,
                rate: peak,
            },
            Phase {
                seconds: tail,
                rate: base,
            },
        ])
    }

    /// The whole schedule's length, seconds.
    pub fn duration(&self) -> f64 {
        self.0.iter().map(|p| p.seconds).sum()
    }

    /// Trades that should have been sent by `t` seconds.
    pub fn total_by(&self, t: f64) -> f64 {
        let mut left = t.max(0.0);
        let mut total = 0.0;
        for p in &self.0 {
            let d = left.min(p.seconds);
            total += d * p.rate;
            left -= d;
            if left <= 0.0 {
                break;
            }
        }
        total
    }

    /// The rate at `t` seconds (0 after the end).
    pub fn rate_at(&self, t: f64) -> f64 {
        let mut start = 0.0;
        for p in &self.0 {
            if t >= start && t < start + p.seconds {
                return p.rate;
            }
            start += p.seconds;
        }
        0.0
    }

    /// When the highest-rate phase starts and ends, seconds.
    pub fn peak_window(&self) -> (f64, f64) {
        let mut start = 0.0;
        let mut best = (0.0, 0.0, f64::MIN);
        for p in &self.0 {
            if p.rate > best.2 {
                best = (start, start + p.seconds, p.rate);
            }
            start += p.seconds;
        }
        (best.0, best.1)
    }
}

/// Counts acknowledged and failed trades.
struct Counting {
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, trades: usize) {
        match result {
            Ok(_) => self.acked.fetch_add(trades as u64, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(trades as u64, Ordering::Relaxed),
        };
    }
}

/// A running load: counters readable while it runs.
pub struct Load {
    /// Trades handed to the producer.
    pub sent: Arc<AtomicU64>,
    /// Trades Kafka acknowledged.
    pub acked: Arc<AtomicU64>,
    /// Trades Kafka refused.
    pub failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), DemoError>>>,
}

impl Load {
    /// Starts producing `schedule` to `topic` (normalized trades of `symbols` symbols, keyed by symbol).
    pub fn start(topic: &str, schedule: Schedule, symbols: usize) -> Result<Load, DemoError> {
        Self::start_in(topic, schedule, symbols, OutputFormat::Normalized)
    }

    /// Like [`Load::start`], with the trades rendered in `format`.
    pub fn start_in(
        topic: &str,
        schedule: Schedule,
        symbols: usize,
        format: OutputFormat,
    ) -> Result<Load, DemoError> {
        let acked = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let context = Counting {
            acked: acked.clone(),
            failed: failed.clone(),
        };
        let producer: ThreadedProducer<Counting> = kafka_config()
            .set("linger.ms", "5")
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "500000")
            .create_with_context(context)
            .map_err(|e| DemoError::Produce(e.to_string()))?;
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (topic, sent2, stop2) = (topic.to_string(), sent.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("demo-load".into())
            .spawn(move || {
                let out = Output {
                    topic: &topic,
                    format,
                    sent: &sent2,
                    stop: &stop2,
                };
                produce(producer, &schedule, symbols, &out)
            })
            .map_err(|e| DemoError::Produce(e.to_string()))?;
        Ok(Load {
            sent,
            acked,
            failed,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether the schedule has been sent and flushed (or production stopped).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops producing (if still running) and waits for the flush.
    pub fn finish(&mut self) -> Result<(), DemoError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| DemoError::Produce("the load thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the load thread's trades go and what it reports.
struct Output<'a> {
    topic: &'a str,
    format: OutputFormat,
    sent: &'a AtomicU64,
    stop: &'a AtomicBool,
}

fn produce(
    producer: ThreadedProducer<Counting>,
    schedule: &Schedule,
    symbols: usize,
    out: &Output<'_>,
) -> Result<(), DemoError> {
    let (topic, sent, stop) = (out.topic, out.sent, out.stop);
    let now_ns = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    };
    let id_base = (now_ns() / 1_000_000) as u64 * 1000;
    let mut market = Market::new(symbols, id_base, id_base);
    let mut renderer = Renderer::new(out.format);
    let mut buf = Vec::with_capacity(512);
    let started = Instant::now();
    let end = schedule.duration();
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let t = started.elapsed().as_secs_f64();
        let due = schedule.total_by(t) as u64;
        while count < due && !stop.load(Ordering::Relaxed) {
            let r = renderer.render(&mut market, now_ns(), 1, &mut buf);
            let key = market.symbol(r.symbol).to_string();
            let mut record = BaseRecord::with_opaque_to(topic, r.trades)
                .key(&key)
                .payload(&buf);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err((e, _)) => return Err(DemoError::Produce(e.to_string())),
                }
            }
            count += r.trades as u64;
            sent.store(count, Ordering::Relaxed);
        }
        if t >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| DemoError::Produce(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_schedule_integrates_its_phases() {
        let s = Schedule::spike(1000.0, 10.0, 20_000.0, 5.0, 10.0);
        assert_eq!(s.duration(), 25.0);
        assert_eq!(s.total_by(10.0), 10_000.0);
        assert_eq!(s.total_by(12.0), 50_000.0);
        assert_eq!(s.total_by(100.0), 10_000.0 + 100_000.0 + 10_000.0);
        assert_eq!(
            (
                s.rate_at(9.9),
                s.rate_at(10.0),
                s.rate_at(15.0),
                s.rate_at(30.0)
            ),
            (1000.0, 20_000.0, 1000.0, 0.0)
        );
        assert_eq!(s.peak_window(), (10.0, 15.0));
    }
}
