//! The consumer and the loadgen reach Kafka through every listener of the local broker:
//! SASL_SSL with SCRAM-SHA-512, SCRAM-SHA-256, PLAIN and OAUTHBEARER (a token file), SSL
//! with a client certificate, and PLAINTEXT; every trade becomes one row. A password
//! with every awkward character works end to end and appears in no log; PLAIN over
//! SASL_PLAINTEXT is refused at start.

#[path = "consumer_support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use spate_consumer::security::SaslMechanism::{OAuthBearer, Plain, ScramSha256, ScramSha512};
use spate_consumer::security::{Credential, KafkaSecurity};
use spate_tests::{
    Listener, TestEnv, create_scram_user, create_topic, listener_security, loadgen_binary,
    unique_name, unique_table, wait_for_questdb_count,
};
use support::security::{
    SecretMount, env_log_dir, files_holding, listener_env, produce_with, ready, security_env,
    wait_exit,
};
use support::{ConsumerProcess, ConsumerSpec, consumer_binary, counts, normalized_messages};

const TRADES: usize = 1500;

/// Topic, its dead-letter topic and a table, named after `name`.
async fn topic_and_table(name: &str) -> (String, String) {
    let topic = unique_name(name);
    create_topic(&topic, 2).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");
    (topic, unique_table(name))
}

/// A consumer that carried every trade of its topic, with the mount of its secrets
/// (which it watches: dropping it would stop the consumer).
struct Carried {
    topic: String,
    consumer: ConsumerProcess,
    _mount: SecretMount,
}

/// Produces through `brokers` with `security` and consumes through them, the secrets as
/// files: every trade is one row.
async fn carry(name: &str, brokers: &str, security: &KafkaSecurity) -> Carried {
    TestEnv::get();
    let (topic, table) = topic_and_table(name).await;
    produce_with(
        brokers,
        security,
        &topic,
        &normalized_messages(&topic, TRADES),
    )
    .await;
    let mut mount = SecretMount::new(&topic);
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.extra = security_env(brokers, security, &mut mount);
    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_for_questdb_count(&table, TRADES as i64, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    assert_eq!(
        counts(&table).await,
        (TRADES as i64, TRADES as i64),
        "N rows, N distinct"
    );
    Carried {
        topic,
        consumer,
        _mount: mount,
    }
}

/// Produces and consumes through `listener`: every trade is one row, and the consumer is
/// ready.
async fn ingest_through(listener: Listener, name: &str) {
    let (brokers, security) = listener_security(listener);
    let carried = carry(name, &brokers, &security).await;
    ready(&carried.consumer, Duration::from_secs(20)).await;
}

/// One test a listener: `name: listener, prefix of its topic and table;`.
macro_rules! ingest_tests {
    ($($name:ident: $listener:expr, $prefix:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            ingest_through($listener, $prefix).await;
        }
    )*};
}

ingest_tests! {
    scram_sha_512_over_sasl_ssl_carries_every_trade: Listener::SaslSsl(ScramSha512), "sec-scram512";
    scram_sha_256_over_sasl_ssl_carries_every_trade: Listener::SaslSsl(ScramSha256), "sec-scram256";
    plain_over_sasl_ssl_carries_every_trade: Listener::SaslSsl(Plain), "sec-plain";
    oauthbearer_from_a_token_file_carries_every_trade: Listener::SaslSsl(OAuthBearer), "sec-oauth";
    mutual_tls_carries_every_trade: Listener::Ssl, "sec-mtls";
    plaintext_carries_every_trade: Listener::Plaintext, "sec-plaintext";
}

/// Runs the loadgen: `count` trades to `topic`, settings from `env` and `flags`.
fn loadgen(topic: &str, count: usize, env: &[(String, String)], flags: &[&str]) {
    let log = env_log_dir()
        .join("consumer-tests")
        .join(format!("{topic}-loadgen.log"));
    let out = std::fs::File::create(&log).expect("loadgen log");
    let status = Command::new(loadgen_binary())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args([
            "--topic",
            topic,
            "--format",
            "normalized",
            "--profile",
            "max",
        ])
        .args(["--count", &count.to_string(), "--partitions", "2"])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .status()
        .expect("run spate-loadgen");
    assert!(
        status.success(),
        "spate-loadgen failed ({status}):\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loadgen_produces_through_sasl_ssl_and_through_mutual_tls() {
    TestEnv::get();
    let env = TestEnv::get();
    let var = |k: &str| env.kafka_var(k).to_owned();
    // SASL_SSL through the consumer's variables; SSL through flags.
    let (topic, table) = topic_and_table("sec-loadgen").await;
    let mut mount = SecretMount::new(&topic);
    let sasl = listener_env(Listener::SaslSsl(ScramSha512), &mut mount);
    loadgen(&topic, TRADES, &sasl, &["--id-base", "1000000"]);
    let tls_flags = [
        "--brokers",
        &var("KAFKA_SSL_BROKERS"),
        "--security-protocol",
        "SSL",
        "--ssl-ca-file",
        &var("KAFKA_CA_FILE"),
        "--ssl-cert-file",
        &var("KAFKA_CLIENT_CERT_FILE"),
        "--ssl-key-file",
        &var("KAFKA_CLIENT_KEY_FILE"),
        "--id-base",
        "2000000",
    ]
    .map(String::from);
    let tls_flags: Vec<&str> = tls_flags.iter().map(String::as_str).collect();
    loadgen(&topic, TRADES, &[], &tls_flags);

    // The consumer reads both through mutual TLS.
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.extra = listener_env(Listener::Ssl, &mut mount);
    let consumer = ConsumerProcess::start(&spec);
    let all = 2 * TRADES as i64;
    if let Err(e) = wait_for_questdb_count(&table, all, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    assert_eq!(counts(&table).await, (all, all));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_with_every_awkward_character_works_and_no_log_shows_it() {
    TestEnv::get();
    let marker = unique_name("pw");
    let first = format!("a,b;c=d \"dq\" 'sq' back\\slash {marker}");
    let second = format!("second line {marker}");
    let password = format!("{first}\n{second}");
    let user = unique_name("awkward-user");
    create_scram_user(&user, &password, &[ScramSha512]).expect("SCRAM user");

    let (brokers, tls) = listener_security(Listener::SaslSsl(ScramSha512));
    let security = KafkaSecurity {
        username: Some(Credential::value(user.clone())),
        password: Some(Credential::value(password.clone())),
        ..tls
    };
    let Carried {
        topic,
        mut consumer,
        _mount,
    } = carry("sec-awkward", &brokers, &security).await;
    assert!(
        consumer.terminate(Duration::from_secs(20)),
        "exits on SIGTERM"
    );

    // Neither line of the password, in the consumer's log or any log of the run (the
    // search does find what is there: the topic's name).
    let found = files_holding(
        &[env_log_dir()],
        &[consumer.log.clone()],
        &[&first, &second, &topic],
    );
    assert!(
        found
            .iter()
            .any(|(path, needle)| *needle == topic && *path == consumer.log),
        "the search reads the consumer's log: {found:?}"
    );
    let leaked: Vec<_> = found
        .iter()
        .filter(|(_, needle)| *needle != topic)
        .collect();
    assert!(leaked.is_empty(), "the password appears in {leaked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_over_sasl_plaintext_is_refused_at_start_unless_allowed() {
    TestEnv::get();
    let password = unique_name("cleartext-password");
    let mut mount = SecretMount::new(&unique_name("sec-cleartext"));
    mount.write(&[("password", password.as_bytes())]);
    let base = |allow: &str| {
        let env = TestEnv::get();
        let out = Command::new(consumer_binary())
            .env_clear()
            .env("KAFKA_BROKERS", &env.kafka_brokers)
            .env("KAFKA_TOPICS", "unused")
            .env("SPATE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
            .env("SPATE_KAFKA_SASL_MECHANISM", "PLAIN")
            .env("SPATE_KAFKA_SASL_USERNAME", "trader")
            .env("SPATE_KAFKA_SASL_PASSWORD_FILE", mount.path("password"))
            .env("SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD", allow)
            .env("QUESTDB_HTTP_URL", "http://127.0.0.1:1")
            .env("SPATE_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .output()
            .expect("run spate-consumer");
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, stderr) = base("false");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kafka.sasl_mechanism")
            && stderr.contains("PLAIN over SASL_PLAINTEXT sends the password in cleartext")
            && stderr.contains("SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains(&password), "{stderr}");

    // With the opt-in the configuration is accepted: the process gets past it and
    // waits for QuestDB (nothing listens on port 1), until stopped.
    let mut spec = ConsumerSpec::new("unused", "unused");
    spec.questdb_http = "http://127.0.0.1:1".into();
    spec.extra = vec![
        (
            "SPATE_KAFKA_SECURITY_PROTOCOL".into(),
            "SASL_PLAINTEXT".into(),
        ),
        ("SPATE_KAFKA_SASL_MECHANISM".into(), "PLAIN".into()),
        ("SPATE_KAFKA_SASL_USERNAME".into(), "trader".into()),
        (
            "SPATE_KAFKA_SASL_PASSWORD_FILE".into(),
            mount.path("password").display().to_string(),
        ),
        ("SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD".into(), "true".into()),
    ];
    let mut consumer = ConsumerProcess::start(&spec);
    support::security::unready_with(&consumer, "questdb-unreachable", Duration::from_secs(30))
        .await;
    assert_eq!(
        wait_exit(&mut consumer, Duration::from_millis(500)),
        None,
        "still running"
    );
}
