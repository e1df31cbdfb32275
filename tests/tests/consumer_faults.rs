//! QuestDB faults during a drain, against real servers: SIGKILL and restart with rows in
//! flight, a full disk (QuestDB 9.3 keeps acknowledging into WAL pages it had mapped and
//! suspends the table when applying fails; resumed once space returns), a slow network. Each ends with every produced trade in the table
//! exactly once; the time from the fault's end to the first new rows is printed
//! (`RECOVERY <fault>: <s>`), never asserted.

#[path = "consumer_support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use spate_tests::{TestEnv, create_topic, eventually, unique_name, unique_table};
use support::{
    ConsumerProcess, ConsumerSpec, DedicatedQuestdb, SlowProxy, dedicated_counts, mixed_messages,
    produce, rss_kib, time_to_progress, wait_dedicated_rows,
};

async fn topic_pair(prefix: &str, partitions: i32) -> (String, String) {
    let topic = unique_name(prefix);
    create_topic(&topic, partitions).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");
    (topic, unique_table(prefix))
}

fn rows_of(messages: &[support::Message]) -> usize {
    messages.iter().map(|m| m.rows).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questdb_killed_with_rows_in_flight_loses_and_duplicates_nothing() {
    TestEnv::get();
    let (topic, table) = topic_pair("qdbkill", 4).await;
    let mut questdb = DedicatedQuestdb::new(&topic);
    questdb.start().await;
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = questdb.http_url();
    spec.extra.push(("BATCH_SIZE".into(), "500".into()));
    let consumer = ConsumerProcess::start(&spec);

    let messages = mixed_messages(&topic, 60_000);
    let rows = rows_of(&messages);
    let producer = support::produce_paced(&topic, &messages, 2_000, Duration::from_millis(100));
    // Kill once rows are landing: flushes are in flight.
    time_to_progress(Some(&questdb), &table, 2_000, Duration::from_secs(90))
        .await
        .unwrap_or_else(|| panic!("no rows before the kill\n{}", consumer.log_tail()));
    questdb.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    questdb.start().await;
    let before = questdb
        .scalar(&format!("select count() from {table}"))
        .await
        .unwrap_or(0);
    let recovery = time_to_progress(Some(&questdb), &table, before, Duration::from_secs(120))
        .await
        .unwrap_or_else(|| panic!("no progress after the restart\n{}", consumer.log_tail()));
    eprintln!("RECOVERY questdb_sigkill: {:.2} s", recovery.as_secs_f64());
    producer.await.expect("producer");
    assert_all_once(&questdb, &table, rows, &consumer).await;
}

/// Waits for all `rows` on `questdb`, then checks each trade is there once.
async fn assert_all_once(
    questdb: &DedicatedQuestdb,
    table: &str,
    rows: usize,
    consumer: &ConsumerProcess,
) {
    wait_dedicated_rows(questdb, table, rows, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", consumer.log_tail()));
    assert_eq!(
        dedicated_counts(questdb, table).await,
        (rows as i64, rows as i64)
    );
}

/// A tmpfs mounted over the dedicated QuestDB's data directory; unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: std::path::PathBuf, mib: u64) -> Self {
        std::fs::create_dir_all(&dir).expect("db dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount")
            .success();
        assert!(ok, "mount a tmpfs over {} (root needed)", dir.display());
        Self(dir)
    }

    fn resize(&self, mib: u64) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(&self.0)
            .status()
            .expect("remount")
            .success();
        assert!(ok, "remount {}", self.0.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_the_consumer_and_it_writes_everything_once_space_returns() {
    TestEnv::get();
    let (topic, table) = topic_pair("qdbdisk", 2).await;
    let mut questdb = DedicatedQuestdb::new(&topic);
    let disk = SmallDisk::mount(questdb.db_dir(), 1024);
    questdb.start().await;
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = questdb.http_url();
    spec.extra
        .push(("SPATE_QUESTDB_STALL_SECS".into(), "5".into()));
    spec.extra
        .push(("SPATE_HOLD_RETRY_SECS".into(), "1".into()));
    let consumer = ConsumerProcess::start(&spec);
    let all = mixed_messages(&topic, 120_000);
    let (first, second) = all.split_at(2_000);
    produce(&topic, first).await;
    wait_dedicated_rows(&questdb, &table, rows_of(first), Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", consumer.log_tail()));

    // Fill the disk, then produce: QuestDB cannot take the rows.
    let filler = questdb.db_dir().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=4096"])
        .arg(format!("of={}", filler.display()))
        .status();
    let rows = rows_of(&all);
    produce(&topic, second).await;
    let stalled = eventually("flushes failing", Duration::from_secs(5), || async {
        let failed = consumer
            .metric("spate_errors_total{kind=\"flush_retryable\"}")
            .await
            .unwrap_or(0.0);
        if failed >= 1.0 {
            Ok(failed)
        } else {
            Err(format!("{failed}"))
        }
    })
    .await;
    // QuestDB answers 5xx while its WAL cannot grow: after the stall time the consumer
    // holds, unready, retrying every second.
    let unready = eventually("unready on the stall", Duration::from_secs(5), || async {
        match support::http_get(&consumer, "/readyz").await {
            Some((503, body)) if body.contains("questdb_stall") => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eprintln!("disk full, readiness: {unready:?}");
    let written_while_full = dedicated_counts(&questdb, &table).await.0;
    // QuestDB may acknowledge into WAL pages it had already mapped and suspend the
    // table when applying fails, or answer 5xx: either way nothing may be lost.
    eprintln!("disk full: flush failures {stalled:?}, rows visible {written_while_full} of {rows}");
    assert!(
        written_while_full < rows as i64,
        "the full disk stopped the rows"
    );

    // Space returns.
    let _ = std::fs::remove_file(&filler);
    disk.resize(2048);
    let resumed = Instant::now();
    // A WAL table suspended by the failed apply is resumed, as an operator would.
    let _ = questdb
        .scalar(&format!("ALTER TABLE {table} RESUME WAL"))
        .await;
    let recovery = time_to_progress(
        Some(&questdb),
        &table,
        written_while_full,
        Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|| panic!("no progress once space returned\n{}", consumer.log_tail()));
    eprintln!(
        "RECOVERY questdb_disk_full: {:.2} s (space back and WAL resumed {:.2} s before)",
        recovery.as_secs_f64(),
        resumed.elapsed().as_secs_f64() - recovery.as_secs_f64()
    );
    assert_all_once(&questdb, &table, rows, &consumer).await;
    drop(consumer);
    questdb.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_questdb_holds_memory_within_the_byte_bound_and_loses_nothing() {
    let env = TestEnv::get();
    let (topic, table) = topic_pair("qdbslow", 4).await;
    // 50 ms per chunk and 256 KiB/s each way: far slower than the backlog arrives.
    let upstream = env.questdb_http.trim_start_matches("http://").to_owned();
    let proxy = SlowProxy::start(upstream, Duration::from_millis(50), 256 << 10).await;
    const HIGH_BYTES: u64 = 1 << 20;
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = proxy.url();
    let _ = &mut spec;
    spec.extra.extend([
        ("SPATE_HIGH_WATERMARK_BYTES".into(), HIGH_BYTES.to_string()),
        (
            "SPATE_LOW_WATERMARK_BYTES".into(),
            (HIGH_BYTES / 2).to_string(),
        ),
    ]);
    // 16 KiB records (a padding member the decoder skips): bytes, not records, fill up.
    let pad = format!(r#"{{"pad":"{}","#, "x".repeat(16 << 10));
    let messages: Vec<support::Message> = support::normalized_messages(&topic, 5_000)
        .into_iter()
        .map(|mut m| {
            m.payload.splice(0..1, pad.bytes());
            m
        })
        .collect();
    let rows = rows_of(&messages);
    produce(&topic, &messages).await;
    let consumer = ConsumerProcess::start(&spec);
    let mut max_bytes = 0.0f64;
    let mut max_rss = 0;
    let started = Instant::now();
    let mut paused = false;
    while started.elapsed() < Duration::from_secs(20) {
        max_bytes = max_bytes.max(consumer.metric("spate_inflight_bytes").await.unwrap_or(0.0));
        max_rss = max_rss.max(rss_kib(consumer.child.id()).unwrap_or(0));
        paused |= consumer.metric("spate_backpressure_active").await == Some(1.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "slow QuestDB: in-flight bytes at most {max_bytes}, RSS at most {max_rss} KiB, backpressure seen {paused}"
    );
    assert!(paused, "backpressure engaged\n{}", consumer.log_tail());
    // The watermark plus one poll round (4 MiB) at most.
    assert!(
        max_bytes <= (HIGH_BYTES + (4 << 20) + (1 << 20)) as f64,
        "in-flight bytes {max_bytes}"
    );
    // The link is fast again: the consumer drains at full speed.
    let written = spate_tests::questdb_count(&table).await.unwrap_or(0);
    proxy.set_fast();
    let recovery = time_to_progress(None, &table, written, Duration::from_secs(90))
        .await
        .unwrap_or_else(|| panic!("no progress\n{}", consumer.log_tail()));
    eprintln!("RECOVERY questdb_slow: {:.2} s", recovery.as_secs_f64());
    spate_tests::wait_for_questdb_count(&table, rows as i64, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", consumer.log_tail()));
    assert_eq!(support::counts(&table).await, (rows as i64, rows as i64));
}
