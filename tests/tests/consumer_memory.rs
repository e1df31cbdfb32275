//! Memory is bounded in bytes: a backlog of large `market_trades` messages (256 KiB
//! each) several times the size of the container's memory limit
//! drains without an OOM kill, the consumer deriving its byte watermarks from the limit.
//! The consumer runs in a memory cgroup this test makes under its own (cgroup v1, or v2
//! where v1 has no memory controller) and removes. `SPATE_MEMTEST_BACKLOG_MIB`, `SPATE_MEMTEST_LIMIT_MIB` (default 512 and
//! 192) and `SPATE_MEMTEST_TRADE_PAD` (bytes of padding per trade, default 800) size it;
//! `tests/bench/memory-bound.sh` runs the 2 GiB / 512 MiB case.

#[path = "consumer_support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use spate_tests::{TestEnv, create_topic, kafka_config, questdb_count, unique_name, unique_table};
use support::{ConsumerProcess, ConsumerSpec, counts, now_ns};

const RECORD_BYTES: usize = 256 << 10;

fn env_mib(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A memory cgroup under this process's own (v1 where the memory controller is
/// mounted on its own, else v2), removed on drop.
struct MemoryCgroup {
    dir: PathBuf,
    v2: bool,
}

impl MemoryCgroup {
    fn new(name: &str, limit: u64) -> Self {
        let own = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
        let entry = |want: &dyn Fn(&str) -> bool| {
            own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                want(controllers).then(|| path.trim_start_matches('/').to_owned())
            })
        };
        let v1 = entry(&|c| c.split(',').any(|c| c == "memory"));
        let (dir, v2) = match v1 {
            Some(path) => (PathBuf::from("/sys/fs/cgroup/memory").join(path), false),
            None => {
                let path = entry(&|c| c.is_empty()).expect("a cgroup v1 or v2 hierarchy");
                (PathBuf::from("/sys/fs/cgroup").join(path), true)
            }
        };
        let dir = dir.join(name);
        std::fs::create_dir(&dir).expect("create the memory cgroup (root needed)");
        let cgroup = Self { dir, v2 };
        // No swap to hide in: the limit holds for memory and swap together.
        let (limit_file, swap_file, swap) = if v2 {
            ("memory.max", "memory.swap.max", "0".to_owned())
        } else {
            (
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                limit.to_string(),
            )
        };
        std::fs::write(cgroup.dir.join(limit_file), limit.to_string()).expect("limit");
        let _ = std::fs::write(cgroup.dir.join(swap_file), swap);
        cgroup
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        self.read(file)
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The cgroup's peak charge in bytes (page cache included).
    fn peak(&self) -> u64 {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        self.read(file).trim().parse().unwrap_or(0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A `market_trades` message of about [`RECORD_BYTES`] with trade ids `<prefix>-<n>-<j>`,
/// each trade padded with a member the decoder skips, `pad` bytes long.
fn big_message(prefix: &str, n: usize, ts: &str, pad: &str) -> (Vec<u8>, usize) {
    let mut out = String::with_capacity(RECORD_BYTES + 256);
    out.push_str(
        r#"{"channel":"market_trades","sequence_num":1,"events":[{"type":"update","trades":["#,
    );
    let mut trades = 0;
    while out.len() < RECORD_BYTES - 200 {
        if trades > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"trade_id":"{prefix}-{n}-{trades}","product_id":"BTC-USD","price":"60000.5","size":"0.01","side":"BUY","time":"{ts}"{pad}}}"#
        ));
        trades += 1;
    }
    out.push_str("]}]}");
    (out.into_bytes(), trades)
}

fn rfc3339_now() -> String {
    spate_consumer::codec::format::time::format_rfc3339(now_ns(), 6)
}

/// `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_many_times_the_memory_limit_drains_without_an_oom_kill() {
    TestEnv::get();
    let backlog = env_mib("SPATE_MEMTEST_BACKLOG_MIB", 512) << 20;
    let limit = env_mib("SPATE_MEMTEST_LIMIT_MIB", 192) << 20;
    let topic = unique_name("membound");
    let table = unique_table("membound");
    create_topic(&topic, 4).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1).await.expect("dlq");

    // The backlog, produced in slices so the producer holds little of it.
    let producer: FutureProducer = kafka_config()
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("compression.type", "none")
        .create()
        .expect("producer");
    let messages = (backlog as usize).div_ceil(RECORD_BYTES);
    let ts = rfc3339_now();
    // Padding makes fewer, larger trades (about 270 per message by default), so the
    // test is about bytes and not about QuestDB's row rate; 0 gives about 1 300.
    let pad_bytes = env_mib("SPATE_MEMTEST_TRADE_PAD", 800) as usize;
    let pad = if pad_bytes == 0 {
        String::new()
    } else {
        format!(r#","pad":"{}""#, "x".repeat(pad_bytes))
    };
    let mut rows = 0usize;
    let produce_started = Instant::now();
    for slice in (0..messages).collect::<Vec<_>>().chunks(64) {
        let mut pending = Vec::new();
        for &n in slice {
            let (payload, trades) = big_message(&topic, n, &ts, &pad);
            rows += trades;
            let key = format!("k{}", n % 16);
            let record = FutureRecord::to(&topic).key(&key).payload(&payload);
            pending.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("enqueue"),
            );
        }
        for p in pending {
            p.await
                .expect("delivery")
                .map_err(|(e, _)| e)
                .expect("produce");
        }
    }
    eprintln!(
        "produced {messages} messages ({} MiB, {rows} trades) in {:.1} s",
        backlog >> 20,
        produce_started.elapsed().as_secs_f64()
    );

    let cgroup = MemoryCgroup::new(&format!("spate-test-{topic}"), limit);
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.cgroup = Some(cgroup.dir.clone());
    spec.extra.push((
        "RUST_LOG".into(),
        "info,librdkafka=warn,rdkafka=warn".into(),
    ));
    spec.extra
        .push(("SPATE_INPUT_FORMAT".into(), "coinbase-market-trades".into()));
    let mut consumer = ConsumerProcess::start(&spec);
    let pid = consumer.child.id();

    let started = Instant::now();
    let mut peak_rss = 0;
    let mut drained = false;
    while started.elapsed() < Duration::from_secs(600) {
        if let Ok(Some(status)) = consumer.child.try_wait() {
            panic!(
                "the consumer exited ({status}) with oom_kill {}:\n{}",
                cgroup.oom_kills(),
                consumer.log_tail()
            );
        }
        peak_rss = peak_rss.max(status_kib(pid, "VmHWM:").unwrap_or(0));
        if questdb_count(&table).await.unwrap_or(0) >= rows as i64 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let elapsed = started.elapsed();
    peak_rss = peak_rss.max(status_kib(pid, "VmHWM:").unwrap_or(0));
    let cgroup_peak = cgroup.peak();
    let oom = cgroup.oom_kills();
    consumer.kill();
    eprintln!(
        "drained {} MiB of 256 KiB records under a {} MiB limit: {drained} in {:.1} s; peak RSS {} MiB, cgroup peak {} MiB (page cache included), oom_kill {oom}",
        backlog >> 20,
        limit >> 20,
        elapsed.as_secs_f64(),
        peak_rss >> 10,
        cgroup_peak >> 20,
    );
    assert_eq!(oom, 0, "OOM kills in the consumer's cgroup");
    assert!(
        drained,
        "{rows} rows not all written:\n{}",
        consumer.log_tail()
    );
    assert_eq!(questdb_count(&table).await.ok(), Some(rows as i64));
    // count_distinct over the bench's 14 million rows outlasts QuestDB's query timeout;
    // the suite's default size is checked for duplicates as well.
    if rows <= 4_000_000 {
        assert_eq!(counts(&table).await, (rows as i64, rows as i64));
    }
    let _ = spate_tests::questdb_query(&format!("DROP TABLE {table}")).await;
}
