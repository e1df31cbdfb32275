//! Shared by the consumer suites: builds and runs the real `spate-consumer` binary as a
//! child process against the local Kafka and QuestDB, produces trades, reads metrics.

#![allow(dead_code)]

pub mod security;

use std::collections::HashMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::producer::{FutureProducer, FutureRecord};
use spate_consumer::codec::format::time::format_rfc3339;
use spate_tests::{TestEnv, kafka_config};

pub use spate_tests::consumer_binary;

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Settings of one consumer process.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub topic: String,
    pub group: String,
    pub table: String,
    pub dlq: String,
    pub workers: usize,
    pub questdb_http: String,
    pub token: String,
    pub extra: Vec<(String, String)>,
    /// A cgroup (v1 or v2 directory) the process joins before it starts.
    pub cgroup: Option<PathBuf>,
}

impl ConsumerSpec {
    pub fn new(topic: &str, table: &str) -> Self {
        let env = TestEnv::get();
        Self {
            topic: topic.to_string(),
            group: format!("{topic}-group"),
            table: table.to_string(),
            dlq: format!("{topic}.dlq"),
            workers: 2,
            questdb_http: env.questdb_http.clone(),
            token: "test-token".into(),
            extra: Vec::new(),
            cgroup: None,
        }
    }
}

/// A running `spate-consumer`.
pub struct ConsumerProcess {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl ConsumerProcess {
    /// Starts the consumer; its log goes to a file under the environment's log dir.
    pub fn start(spec: &ConsumerSpec) -> Self {
        let env = TestEnv::get();
        let port = free_port();
        let addr = spec
            .questdb_http
            .split_once("://")
            .map_or(spec.questdb_http.as_str(), |(_, a)| a)
            .to_string();
        let log_dir = env.log_dir.join("consumer-tests");
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let log = log_dir.join(format!("{}-{port}.log", spec.topic));
        let out = File::create(&log).expect("log file");
        // In a cgroup: the shell joins it, then becomes the consumer, so every byte the
        // consumer allocates is charged there.
        let mut cmd = match &spec.cgroup {
            None => Command::new(consumer_binary()),
            Some(dir) => {
                let mut sh = Command::new("sh");
                sh.arg("-c").arg(format!(
                    "echo $$ > {}/cgroup.procs && exec {}",
                    dir.display(),
                    consumer_binary().display()
                ));
                sh
            }
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                "info,spate_consumer=debug,librdkafka=warn,rdkafka=warn",
            )
            .env("KAFKA_BROKERS", &env.kafka_brokers)
            .env("KAFKA_GROUP_ID", &spec.group)
            .env("KAFKA_TOPICS", &spec.topic)
            .env("SPATE_DLQ_TOPIC", &spec.dlq)
            .env(
                "QDB_CLIENT_CONF",
                format!("http::addr={addr};retry_timeout=2000;"),
            )
            .env("QUESTDB_HTTP_URL", &spec.questdb_http)
            .env("SPATE_TABLE", &spec.table)
            .env("NUM_WORKERS", spec.workers.to_string())
            .env("SPATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("SPATE_CONTROL_TOKEN", &spec.token)
            .env("SPATE_COMMIT_INTERVAL_MS", "200")
            .env("SPATE_SHUTDOWN_GRACE_SECS", "10")
            .env("SPATE_KAFKA_OPTIONS", "statistics.interval.ms=1000")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        for (k, v) in &spec.extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn spate-consumer");
        Self { child, port, log }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no flush, no commit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns whether it exited on its own in time.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        false
    }

    /// The consumer's log so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Current value of the metric `name` (exact series text, e.g. `spate_workers`).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = reqwest::Client::builder()
            .no_proxy()
            .build()
            .ok()?
            .get(format!("{}/metrics", self.base_url()))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        parse_metrics(&text).get(series).copied()
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `series → value` of a Prometheus text exposition.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

/// One produced trade message (`rows` trades in it).
#[derive(Debug, Clone)]
pub struct Message {
    pub key: String,
    pub payload: Vec<u8>,
    pub rows: usize,
}

/// `n` trades as messages in the three input formats, in turn: normalized JSON,
/// Coinbase `match`, Coinbase `market_trades` (with two trades). Trade ids are
/// `<prefix>-<i>`; the normalized trades have price `1000 + i` and size `0.5`.
pub fn mixed_messages(prefix: &str, n: usize) -> Vec<Message> {
    let base = now_ns() / 1000 * 1000;
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let ts = base + i as i64 * 1000;
        let rfc3339 = format_rfc3339(ts, 6);
        let msg = match i % 3 {
            0 => Message {
                key: "BTC-USD".into(),
                payload: format!(
                    r#"{{"exchange":"kraken","symbol":"BTC-USD","side":"buy","trade_id":"{prefix}-{i}","price":{},"size":0.5,"sequence":{i},"quality_score":0.9,"timestamp":{ts}}}"#,
                    1000 + i
                )
                .into_bytes(),
                rows: 1,
            },
            1 => Message {
                key: "ETH-USD".into(),
                payload: format!(
                    r#"{{"type":"match","trade_id":{i},"sequence":{i},"time":"{rfc3339}","product_id":"ETH-USD","size":"1.25","price":"2500.5","side":"sell","maker_order_id":"{prefix}"}}"#
                )
                .into_bytes(),
                rows: 1,
            },
            _ if i + 1 < n => {
                let payload = format!(
                    r#"{{"channel":"market_trades","sequence_num":{i},"events":[{{"type":"update","trades":[{{"trade_id":"{prefix}-{i}","product_id":"SOL-USD","price":"150.25","size":"3","side":"BUY","time":"{rfc3339}"}},{{"trade_id":"{prefix}-{}","product_id":"SOL-USD","price":"150.5","size":"2","side":"SELL","time":"{rfc3339}"}}]}}]}}"#,
                    i + 1
                );
                i += 1;
                Message {
                    key: "SOL-USD".into(),
                    payload: payload.into_bytes(),
                    rows: 2,
                }
            }
            _ => Message {
                key: "BTC-USD".into(),
                payload: format!(
                    r#"{{"exchange":"kraken","symbol":"BTC-USD","side":"sell","trade_id":"{prefix}-{i}","price":{},"size":0.5,"timestamp":{ts}}}"#,
                    1000 + i
                )
                .into_bytes(),
                rows: 1,
            },
        };
        out.push(msg);
        i += 1;
    }
    out
}

/// Produces `messages` to `topic` (keyed, so a symbol stays on one partition) and waits
/// for every acknowledgement.
pub async fn produce(topic: &str, messages: &[Message]) {
    let producer: FutureProducer = kafka_config()
        .set("linger.ms", "5")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        // Up to the broker's default record batch limit.
        .set("message.max.bytes", "1048588")
        .create()
        .expect("producer");
    send_all(&producer, topic, messages).await;
}

/// Sends `messages` to `topic` through `producer` and waits for every acknowledgement.
pub async fn send_all<C: rdkafka::ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    messages: &[Message],
) {
    let mut pending = Vec::with_capacity(messages.len());
    for m in messages {
        let record = FutureRecord::to(topic).key(&m.key).payload(&m.payload);
        pending.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue message"),
        );
    }
    for p in pending {
        p.await
            .expect("delivery")
            .map_err(|(e, _)| e)
            .expect("produce");
    }
}

/// Runs `sql` on QuestDB and returns its first row.
pub async fn first_row(sql: &str) -> Vec<serde_json::Value> {
    let answer = spate_tests::questdb_query(sql).await.expect(sql);
    answer
        .pointer("/dataset/0")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default()
}

/// A QuestDB of its own for a test that stops and restarts it, run from the jar the
/// local environment installed, on fixed ports and a data directory kept across
/// restarts.
pub struct DedicatedQuestdb {
    pub http_port: u16,
    root: PathBuf,
    jar: PathBuf,
    child: Option<Child>,
    /// HTTP basic credentials the server demands (see [`DedicatedQuestdb::require_password`]).
    basic: Option<(String, String)>,
}

impl DedicatedQuestdb {
    fn find_jar() -> PathBuf {
        let cache = std::env::var_os("SPATE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("spate")))
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/spate")))
            .expect("cache directory");
        let mut jars: Vec<PathBuf> = std::fs::read_dir(&cache)
            .expect("spate cache directory")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("questdb-"))
            })
            .map(|p| p.join("questdb.jar"))
            .filter(|j| j.exists())
            .collect();
        jars.sort();
        jars.pop()
            .expect("QuestDB jar in the spate cache (make env-up installs it)")
    }

    /// Renders the environment's server.conf with new ports into a fresh data dir.
    pub fn new(name: &str) -> Self {
        let env = TestEnv::get();
        let root = env
            .log_dir
            .join("consumer-tests")
            .join(format!("questdb-{name}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("conf")).expect("questdb root");
        let template = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("env/questdb/server.conf.in"),
        )
        .expect("server.conf.in");
        let http_port = free_port();
        let conf = template
            .replace("@HOST_IP@", "127.0.0.1")
            .replace("@HTTP_PORT@", &http_port.to_string())
            .replace("@HTTP_MIN_PORT@", &free_port().to_string())
            .replace("@PG_PORT@", &free_port().to_string())
            .replace("@ILP_TCP_PORT@", &free_port().to_string());
        std::fs::write(root.join("conf/server.conf"), conf).expect("server.conf");
        Self {
            http_port,
            root,
            jar: Self::find_jar(),
            child: None,
            basic: None,
        }
    }

    /// Makes the server demand HTTP basic authentication (the open-source server's
    /// `http.user` / `http.password`) from its next start; this helper's own queries send
    /// the credentials. `password` must not hold a backslash (a properties escape).
    pub fn require_password(&mut self, user: &str, password: &str) {
        let path = self.root.join("conf/server.conf");
        let mut conf = std::fs::read_to_string(&path).expect("server.conf");
        conf.push_str(&format!("\nhttp.user={user}\nhttp.password={password}\n"));
        std::fs::write(&path, conf).expect("server.conf");
        self.basic = Some((user.to_owned(), password.to_owned()));
    }

    /// A GET of `url` with the server's credentials, if it demands them.
    fn get(&self, url: reqwest::Url) -> reqwest::RequestBuilder {
        let request = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(url);
        match &self.basic {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Starts the server and waits until it answers queries.
    pub async fn start(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.root.join("questdb.log"))
            .expect("questdb log");
        let child = Command::new("java")
            .args([
                "-Xms64m",
                "-Xmx512m",
                "-XX:+UseParallelGC",
                "-Djava.awt.headless=true",
                "-p",
            ])
            .arg(&self.jar)
            .args(["-m", "io.questdb/io.questdb.ServerMain", "-d"])
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start QuestDB");
        self.child = Some(child);
        let url = reqwest::Url::parse(&format!("{}/exec?query=select%201", self.http_url()))
            .expect("url");
        spate_tests::eventually(
            "dedicated QuestDB answers",
            Duration::from_secs(120),
            || {
                let request = self.get(url.clone());
                async move {
                    let body = request
                        .send()
                        .await
                        .map_err(|e| e.to_string())?
                        .text()
                        .await
                        .map_err(|e| e.to_string())?;
                    if body.contains("\"dataset\":[[1]]") {
                        Ok(())
                    } else {
                        Err(body)
                    }
                }
            },
        )
        .await
        .expect("dedicated QuestDB up");
    }

    /// Stops the server (SIGTERM, then SIGKILL after 30 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `select <expr> from <table>` on this server, first value.
    pub async fn scalar(&self, sql: &str) -> Option<i64> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/exec", self.http_url()),
            &[("query", sql)],
        )
        .ok()?;
        let body: serde_json::Value = self.get(url).send().await.ok()?.json().await.ok()?;
        body.pointer("/dataset/0/0")
            .and_then(serde_json::Value::as_i64)
    }
}

impl Drop for DedicatedQuestdb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory of a process in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A small deterministic pseudo-random sequence (xorshift), seeded from the clock.
pub struct Jitter(u64);

impl Jitter {
    pub fn new() -> Self {
        Self((now_ns() as u64) | 1)
    }
    /// A value in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo).max(1)
    }
}

/// Records in `topic`: the sum of its partitions' high watermarks.
pub fn topic_records(topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = kafka_config().create().expect("metadata client");
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            client
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .sum()
}

/// The body of `GET path` on the consumer's HTTP server, with its status.
pub async fn http_get(consumer: &ConsumerProcess, path: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .ok()?
        .get(format!("{}{path}", consumer.base_url()))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// `count()` and `count_distinct(symbol/trade_id)` of `table`.
pub async fn counts(table: &str) -> (i64, i64) {
    let row = first_row(&format!(
        "select count(), count_distinct(concat(symbol, '/', trade_id)) from {table}"
    ))
    .await;
    (
        row.first().and_then(|v| v.as_i64()).unwrap_or(-1),
        row.get(1).and_then(|v| v.as_i64()).unwrap_or(-1),
    )
}

/// `n` normalized trades (one row each) over four symbols, keyed by symbol; trade ids
/// `<prefix>-<i>`.
pub fn normalized_messages(prefix: &str, n: usize) -> Vec<Message> {
    let base = now_ns() / 1000 * 1000;
    (0..n)
        .map(|i| {
            let symbol = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"][i % 4];
            Message {
                key: symbol.into(),
                payload: format!(
                    r#"{{"exchange":"kraken","symbol":"{symbol}","side":"buy","trade_id":"{prefix}-{i}","price":{}.5,"size":0.25,"sequence":{i},"quality_score":1.0,"timestamp":{}}}"#,
                    1000 + i,
                    base + i as i64 * 1000
                )
                .into_bytes(),
                rows: 1,
            }
        })
        .collect()
}

impl DedicatedQuestdb {
    /// Runs `sql` on this server; panics when it answers an error.
    pub async fn exec(&self, sql: &str) -> serde_json::Value {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/exec", self.http_url()),
            &[("query", sql)],
        )
        .expect("url");
        let answer: serde_json::Value = self
            .get(url)
            .send()
            .await
            .expect(sql)
            .json()
            .await
            .expect(sql);
        assert!(answer.get("error").is_none(), "{sql}: {answer}");
        answer
    }

    /// The first value of `sql`'s answer as a boolean.
    pub async fn boolean(&self, sql: &str) -> Option<bool> {
        self.exec(sql).await.pointer("/dataset/0/0")?.as_bool()
    }
}

impl DedicatedQuestdb {
    /// SIGKILL: no flush, no clean WAL close.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's data directory (`<root>/db`).
    pub fn db_dir(&self) -> PathBuf {
        self.root.join("db")
    }
}

/// A TCP proxy on loopback that delays every chunk it forwards and throttles each
/// direction to a byte rate: a slow QuestDB, made fast again by [`SlowProxy::set_fast`].
/// It runs until dropped.
pub struct SlowProxy {
    pub port: u16,
    slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    pub async fn start(upstream: String, delay: Duration, bytes_per_sec: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let slow = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = slow.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let pace = Pace {
                        slow: flag,
                        delay,
                        bytes_per_sec,
                    };
                    let up = tokio::spawn(slow_copy(cr, sw, pace.clone()));
                    let down = tokio::spawn(slow_copy(sr, cw, pace));
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Self { port, slow, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forwards without delay from now on.
    pub fn set_fast(&self) {
        self.slow.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Pace {
    slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
    delay: Duration,
    bytes_per_sec: u64,
}

async fn slow_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    pace: Pace,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if pace.slow.load(std::sync::atomic::Ordering::Acquire) {
            let throttle = Duration::from_secs_f64(n as f64 / pace.bytes_per_sec.max(1) as f64);
            tokio::time::sleep(pace.delay + throttle).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Waits until `count()` of `table` on `questdb` (or the environment's QuestDB when
/// `None`) exceeds `above`; returns how long that took.
pub async fn time_to_progress(
    questdb: Option<&DedicatedQuestdb>,
    table: &str,
    above: i64,
    timeout: Duration,
) -> Option<Duration> {
    let started = std::time::Instant::now();
    let sql = format!("select count() from {table}");
    while started.elapsed() < timeout {
        let c = match questdb {
            Some(q) => q.scalar(&sql).await,
            None => spate_tests::questdb_count(table).await.ok(),
        };
        if c.is_some_and(|c| c > above) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// `(count(), count_distinct(trade_id))` of `table` on a dedicated QuestDB.
pub async fn dedicated_counts(questdb: &DedicatedQuestdb, table: &str) -> (i64, i64) {
    let c = questdb
        .scalar(&format!("select count() from {table}"))
        .await;
    let d = questdb
        .scalar(&format!(
            "select count_distinct(concat(symbol, '/', trade_id)) from {table}"
        ))
        .await;
    (c.unwrap_or(-1), d.unwrap_or(-1))
}

/// Waits until `table` on `questdb` has `n` rows.
pub async fn wait_dedicated_rows(
    questdb: &DedicatedQuestdb,
    table: &str,
    n: usize,
    timeout: Duration,
) -> Result<(), spate_tests::Error> {
    let sql = format!("select count() from {table}");
    spate_tests::eventually(&format!("{n} rows in {table}"), timeout, || async {
        match questdb.scalar(&sql).await {
            Some(c) if c == n as i64 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// `PUT /control/workers` with `token`; returns the status and body.
pub async fn put_workers(consumer: &ConsumerProcess, token: &str, workers: usize) -> (u16, String) {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .put(format!("{}/control/workers", consumer.base_url()))
        .bearer_auth(token)
        .body(format!(r#"{{"workers":{workers}}}"#))
        .send()
        .await
        .expect("PUT /control/workers");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// Produces `messages` in the background, `slice` at a time with `pause` between, so
/// trades keep arriving while a test injects its faults.
pub fn produce_paced(
    topic: &str,
    messages: &[Message],
    slice: usize,
    pause: Duration,
) -> tokio::task::JoinHandle<()> {
    let (topic, messages) = (topic.to_owned(), messages.to_vec());
    tokio::spawn(async move {
        for part in messages.chunks(slice) {
            produce(&topic, part).await;
            tokio::time::sleep(pause).await;
        }
    })
}
