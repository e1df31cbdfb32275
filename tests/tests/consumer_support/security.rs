//! Shared by the security suites: Secrets mounted as the kubelet mounts them (files behind
//! a `..data` link swapped atomically), the consumer's environment for each listener of
//! the local broker, producing through a listener, the group's committed offsets,
//! readiness reasons, and a search of every log for a secret.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use spate_consumer::security::{KafkaSecurity, SecureContext};
use spate_tests::{Listener, TestEnv, eventually, kafka_config, listener_security, repo_root};

use super::{ConsumerProcess, Message, http_get};

/// A directory of secret files laid out as the kubelet mounts a Secret: each file is a
/// link to `..data/<name>`, and `..data` a link to a versioned directory, replaced in
/// one rename, so every file changes at once. Kept out of the logs' directory.
pub struct SecretMount {
    pub dir: PathBuf,
    version: usize,
    files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl SecretMount {
    pub fn new(name: &str) -> Self {
        let dir = repo_root().join(".spate/test-secrets").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("secret dir");
        SecretMount {
            dir,
            version: 0,
            files: Default::default(),
        }
    }

    /// The path of the file `name` (valid once written).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Updates the Secret: `files` replace those of the same name, the others stay; the
    /// mount changes all at once.
    pub fn write(&mut self, files: &[(&str, &[u8])]) {
        for (name, bytes) in files {
            self.files.insert((*name).to_owned(), bytes.to_vec());
        }
        self.version += 1;
        let version = format!("..{}", self.version);
        let data = self.dir.join(&version);
        std::fs::create_dir_all(&data).expect("secret version dir");
        for (name, bytes) in &self.files {
            std::fs::write(data.join(name), bytes).expect("secret file");
            let link = self.dir.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(name), &link)
                    .expect("secret link");
            }
        }
        let tmp = self.dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&version, &tmp).expect("data link");
        std::fs::rename(&tmp, self.dir.join("..data")).expect("swap data link");
    }
}

impl Drop for SecretMount {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The consumer's variables to reach `brokers` with `security`, every secret written to
/// `mount` and passed as a file.
pub fn security_env(
    brokers: &str,
    security: &KafkaSecurity,
    mount: &mut SecretMount,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("KAFKA_BROKERS".to_owned(), brokers.to_owned()),
        (
            "SPATE_KAFKA_SECURITY_PROTOCOL".to_owned(),
            security.protocol.as_str().to_owned(),
        ),
    ];
    if let Some(m) = security.mechanism {
        env.push(("SPATE_KAFKA_SASL_MECHANISM".into(), m.as_str().into()));
    }
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    for (name, var, credential) in [
        (
            "username",
            "SPATE_KAFKA_SASL_USERNAME_FILE",
            &security.username,
        ),
        (
            "password",
            "SPATE_KAFKA_SASL_PASSWORD_FILE",
            &security.password,
        ),
        (
            "token",
            "SPATE_KAFKA_OAUTHBEARER_TOKEN_FILE",
            &security.oauth_token,
        ),
    ] {
        if let Some(c) = credential {
            files.push((name, c.secret.expose().as_bytes().to_vec()));
            env.push((var.into(), mount.path(name).display().to_string()));
        }
    }
    for (name, var, path) in [
        ("ca.crt", "SPATE_KAFKA_SSL_CA_FILE", &security.ssl_ca_file),
        (
            "tls.crt",
            "SPATE_KAFKA_SSL_CERT_FILE",
            &security.ssl_cert_file,
        ),
        (
            "tls.key",
            "SPATE_KAFKA_SSL_KEY_FILE",
            &security.ssl_key_file,
        ),
    ] {
        if let Some(p) = path {
            files.push((name, std::fs::read(p).expect("TLS file")));
            env.push((var.into(), mount.path(name).display().to_string()));
        }
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    mount.write(&refs);
    env
}

/// The consumer's variables to reach `listener` as the environment's user.
pub fn listener_env(listener: Listener, mount: &mut SecretMount) -> Vec<(String, String)> {
    let (brokers, security) = listener_security(listener);
    security_env(&brokers, &security, mount)
}

/// Produces `messages` to `topic` through `brokers` with `security` (spate's builder and
/// context) and waits for every acknowledgement.
pub async fn produce_with(
    brokers: &str,
    security: &KafkaSecurity,
    topic: &str,
    messages: &[Message],
) {
    let mut config = security.client_config(brokers);
    config
        .set("linger.ms", "5")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "60000");
    let producer: FutureProducer<SecureContext> = config
        .create_with_context(SecureContext::new(security, None))
        .expect("producer");
    super::send_all(&producer, topic, messages).await;
}

/// The sum of the offsets `group` committed on `topic` (0 when none), read over the
/// PLAINTEXT listener without joining the group.
pub fn committed(group: &str, topic: &str, partitions: i32) -> i64 {
    let consumer: BaseConsumer = kafka_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("offsets reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let offsets = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    offsets
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum()
}

/// Waits until `/readyz` answers 503 with a line starting with `code: `; returns the body.
pub async fn unready_with(consumer: &ConsumerProcess, code: &str, timeout: Duration) -> String {
    let prefix = format!("{code}: ");
    eventually(&format!("/readyz says {code}"), timeout, || async {
        match http_get(consumer, "/readyz").await {
            Some((503, body)) if body.lines().any(|l| l.starts_with(&prefix)) => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()))
}

/// Waits until `/readyz` answers 200.
pub async fn ready(consumer: &ConsumerProcess, timeout: Duration) {
    eventually("/readyz answers 200", timeout, || async {
        match http_get(consumer, "/readyz").await {
            Some((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
}

/// Waits for the process to exit on its own; its status.
pub fn wait_exit(consumer: &mut ConsumerProcess, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = consumer.child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Every file under `dirs` (recursively) and `files` that holds one of `needles`, with
/// the needle found.
pub fn files_holding(
    dirs: &[PathBuf],
    files: &[PathBuf],
    needles: &[&str],
) -> Vec<(PathBuf, String)> {
    let mut all = files.to_vec();
    let mut stack = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => all.push(path),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    for path in all {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for needle in needles {
            if text.contains(needle) {
                found.push((path.clone(), (*needle).to_owned()));
            }
        }
    }
    found
}

/// How many lines of the consumer's log hold `text`.
pub fn log_lines_with(consumer: &ConsumerProcess, text: &str) -> usize {
    std::fs::read_to_string(&consumer.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(text))
        .count()
}

/// The environment's log directory.
pub fn env_log_dir() -> PathBuf {
    TestEnv::get().log_dir.clone()
}

/// Waits until the consumer's metric `series` reaches `min`.
pub async fn eventually_metric(consumer: &ConsumerProcess, series: &str, min: f64) {
    eventually(
        &format!("{series} >= {min}"),
        Duration::from_secs(60),
        || async {
            match consumer.metric(series).await {
                Some(v) if v >= min => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
}
