//! spate-loadgen: produces realistic trades to Kafka in every supported format at a
//! target rate profile, prints progress to stderr and a JSON summary to stdout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use spate_consumer::codec::format::time::format_rfc3339;
use spate_consumer::codec::validate::now_ns;
use spate_consumer::loadgen::{
    Market, OutputFormat, Pacer, PoisonKind, Profile, Renderer, Summary,
};
use spate_consumer::security::{
    ClientErrorKind, ClientProblems, KafkaSecurityArgs, ProblemSink, SecureContext,
};

#[derive(Debug, Parser)]
#[command(
    name = "spate-loadgen",
    version,
    about = "Produces realistic trades to Kafka"
)]
struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS")]
    brokers: String,
    /// Topic to produce to.
    #[arg(long, env = "SPATE_LOADGEN_TOPIC", default_value = "trades")]
    topic: String,
    /// normalized, coinbase-match, coinbase-market-trades or mixed.
    #[arg(long, default_value = "normalized")]
    format: OutputFormat,
    /// Trades per second over time: max, steady:RATE, step:FROM:TO:AT_SECS,
    /// ramp:FROM:TO:SECS or burst:BASE:PEAK:EVERY_SECS:LEN_SECS.
    #[arg(long, default_value = "steady:1000")]
    profile: Profile,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many (good) trades.
    #[arg(long)]
    count: Option<u64>,
    /// Number of symbols (BTC-USD, ETH-USD, ... then synthetic ones).
    #[arg(long, default_value_t = 16)]
    symbols: usize,
    /// Random seed of prices, sizes, sides and formats.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First trade id of every (exchange, symbol) [default: start time in ms × 1000].
    #[arg(long)]
    id_base: Option<u64>,
    /// Send one poison record after every N good messages, cycling through the kinds
    /// (0: none).
    #[arg(long, default_value_t = 0)]
    poison: u64,
    /// Size of the oversized poison record (must exceed the consumer's limit; the
    /// broker's and topic's max message size must allow it).
    #[arg(long, default_value_t = (1 << 20) + 1)]
    poison_oversized_bytes: usize,
    /// Partition count [default: from the topic's metadata].
    #[arg(long)]
    partitions: Option<i32>,
    /// Extra librdkafka producer property (repeatable); no secrets (they have flags of
    /// their own).
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    kafka_options: Vec<String>,
    #[command(flatten)]
    security: KafkaSecurityArgs,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
}

struct Context {
    counters: Arc<Counters>,
    secure: SecureContext,
}

impl ClientContext for Context {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.secure.on_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if !self.secure.on_error(&error, reason) {
            eprintln!("spate-loadgen: {error}: {reason}");
        }
    }

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.secure.oauth_token()
    }
}

/// Connection problems, printed once per change.
#[derive(Default)]
struct StderrProblems(Mutex<ClientProblems>);

impl ProblemSink for StderrProblems {
    fn report(&self, kind: ClientErrorKind, reason: &str) {
        let mut problems = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if problems.report(kind, reason) {
            for line in problems.lines() {
                eprintln!("spate-loadgen: {line}");
            }
        }
    }

    fn connected(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() {
            &self.counters.delivered
        } else {
            &self.counters.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn producer(args: &Args, counters: Arc<Counters>) -> anyhow::Result<ThreadedProducer<Context>> {
    let security = args.security.resolve().map_err(|errors| {
        anyhow::anyhow!(
            "invalid Kafka security settings:\n  {}",
            errors.join("\n  ")
        )
    })?;
    let mut config = security.client_config(&args.brokers);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set(
            "message.max.bytes",
            (args.poison_oversized_bytes + (1 << 16))
                .max(1_000_000)
                .to_string(),
        );
    for kv in &args.kafka_options {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("a --kafka-option is not KEY=VALUE");
        };
        if spate_consumer::security::kafka::is_secret_option(k) {
            bail!("--kafka-option {k} is a secret: use its own flag (see --help)");
        }
        config.set(k, v);
    }
    let sink: Arc<dyn ProblemSink> = Arc::new(StderrProblems::default());
    let context = Context {
        counters,
        secure: SecureContext::new(&security, Some(sink)),
    };
    ThreadedProducer::from_config_and_context(&config, context).context("create Kafka producer")
}

fn partition_count(args: &Args, producer: &ThreadedProducer<Context>) -> anyhow::Result<i32> {
    if let Some(p) = args.partitions {
        return Ok(p.max(1));
    }
    // A topic the broker auto-creates appears after a metadata request or two.
    for _ in 0..20 {
        let metadata = producer
            .client()
            .fetch_metadata(Some(&args.topic), Duration::from_secs(10))
            .context("fetch topic metadata")?;
        let n = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len());
        if n > 0 {
            return Ok(n as i32);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("topic {} has no partitions (does it exist?)", args.topic)
}

/// Enqueues one record, waiting while librdkafka's queue is full.
fn send(
    producer: &ThreadedProducer<Context>,
    topic: &str,
    key: &str,
    partition: i32,
    payload: &[u8],
) -> bool {
    let mut record = BaseRecord::to(topic)
        .key(key)
        .payload(payload)
        .partition(partition);
    loop {
        match producer.send(record) {
            Ok(()) => return true,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => {
                eprintln!("spate-loadgen: send failed: {e}");
                return false;
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.duration.is_none() && args.count.is_none() {
        bail!("give --duration SECS or --count N (or both)");
    }
    let counters = Arc::new(Counters::default());
    let producer = producer(&args, counters.clone())?;
    let partitions = partition_count(&args, &producer)?;
    let id_base = args
        .id_base
        .unwrap_or_else(|| (now_ns() / 1_000_000) as u64 * 1000);
    let mut market = Market::new(args.symbols, id_base, args.seed);
    let mut renderer = Renderer::new(args.format);
    let mut pacer = Pacer::new(args.profile);
    let mut summary = Summary::default();
    let mut out = Vec::with_capacity(1024);
    let mut enqueue_errors = 0u64;
    let mut since_poison = 0u64;
    eprintln!(
        "spate-loadgen: topic={} partitions={partitions} format={} profile={} symbols={}",
        args.topic,
        args.format,
        args.profile,
        market.symbol_count()
    );

    let start = Instant::now();
    let mut next_report = 1.0;
    let mut last_report = (0.0, 0u64);
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= next_report {
            let rate = (pacer.sent() - last_report.1) as f64 / (elapsed - last_report.0);
            eprintln!(
                "spate-loadgen: t={elapsed:.0}s produced={} trades messages={} poison={} rate={rate:.0}/s target={:.0}/s delivered={} errors={} in_flight={}",
                pacer.sent(),
                summary.produced_messages,
                summary.poison_messages,
                args.profile.rate_at(elapsed),
                counters.delivered.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed) + enqueue_errors,
                producer.in_flight_count(),
            );
            last_report = (elapsed, pacer.sent());
            next_report += 1.0;
        }
        if args.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
        let remaining = args
            .count
            .map_or(u64::MAX, |c| c.saturating_sub(pacer.sent()));
        if remaining == 0 {
            break;
        }
        let allowance = pacer.allowance(elapsed).min(remaining);
        if allowance == 0 {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        // Send what is due in slices, so progress and the deadline are checked often.
        let mut budget = allowance.min(5_000);
        while budget > 0 {
            if args.poison > 0 && since_poison >= args.poison {
                let kind = PoisonKind::nth(summary.poison_messages);
                kind.render(
                    &format_rfc3339(now_ns(), 6),
                    args.poison_oversized_bytes,
                    &mut out,
                );
                let partition = (summary.poison_messages % partitions as u64) as i32;
                if send(&producer, &args.topic, "poison", partition, &out) {
                    summary.record_poison(kind);
                } else {
                    enqueue_errors += 1;
                }
                since_poison = 0;
            }
            let r = renderer.render(&mut market, now_ns(), budget as usize, &mut out);
            let partition = (r.symbol % partitions as usize) as i32;
            if send(
                &producer,
                &args.topic,
                market.symbol(r.symbol),
                partition,
                &out,
            ) {
                summary.record(&r);
                pacer.record_sent(r.trades as u64);
            } else {
                enqueue_errors += 1;
            }
            since_poison += 1;
            budget = budget.saturating_sub(r.trades as u64);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!(
        "spate-loadgen: flushing {} in-flight messages",
        producer.in_flight_count()
    );
    producer
        .flush(Duration::from_secs(120))
        .context("flush producer")?;
    let failed = counters.failed.load(Ordering::Relaxed);
    summary.finish(elapsed, failed + enqueue_errors);
    println!("{}", summary.to_json());
    if summary.errors > 0 {
        bail!("{} messages were not delivered", summary.errors);
    }
    Ok(())
}
