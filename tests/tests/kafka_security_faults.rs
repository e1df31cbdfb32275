//! A refused password, an unknown CA, an expired client certificate and a certificate for
//! another host: the consumer keeps running, says why in `/readyz` and once in its log,
//! commits nothing, and once the mounted credential is fixed it drains, exits 0 and,
//! restarted as the kubelet would, carries every trade.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_consumer::security::SaslMechanism;
use spate_tests::{
    Listener, TestEnv, create_topic, listener_security, unique_name, unique_table,
    wait_for_questdb_count,
};
use support::security::{
    SecretMount, committed, listener_env, log_lines_with, ready, unready_with, wait_exit,
};
use support::{ConsumerProcess, ConsumerSpec, SlowProxy, counts, normalized_messages, produce};

const TRADES: usize = 1000;

/// A consumer refused by the broker: its topic (already holding the trades), table,
/// group, the mount of its secrets and the process.
struct Refused {
    topic: String,
    table: String,
    spec: ConsumerSpec,
    mount: SecretMount,
    consumer: ConsumerProcess,
}

/// Starts a consumer through `listener` whose mounted files are then changed by
/// `spoil`; the topic holds the trades already.
async fn start_refused(
    name: &str,
    listener: Listener,
    spoil: impl FnOnce(&mut SecretMount, &mut Vec<(String, String)>),
) -> Refused {
    TestEnv::get();
    let topic = unique_name(name);
    let table = unique_table(name);
    create_topic(&topic, 2).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");
    produce(&topic, &normalized_messages(&topic, TRADES)).await;
    let mut mount = SecretMount::new(&topic);
    let mut env = listener_env(listener, &mut mount);
    spoil(&mut mount, &mut env);
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.extra = env;
    let consumer = ConsumerProcess::start(&spec);
    Refused {
        topic,
        table,
        spec,
        mount,
        consumer,
    }
}

impl Refused {
    /// Unready with `code`, the reason holding `detail`, said once in the log although
    /// librdkafka keeps retrying; nothing committed, nothing written, still running.
    async fn check_refused(&mut self, code: &str, detail: &str) -> String {
        let body = unready_with(&self.consumer, code, Duration::from_secs(60)).await;
        assert!(body.contains(detail), "{body}");
        let series = format!("spate_kafka_client_errors_total{{kind=\"{code}\"}}");
        support::security::eventually_metric(&self.consumer, &series, 3.0).await;
        assert_eq!(
            log_lines_with(&self.consumer, &format!("{code}: ")),
            1,
            "one log line for the problem, not one per retry:\n{}",
            self.consumer.log_tail()
        );
        assert_eq!(
            committed(&self.spec.group, &self.topic, 2),
            0,
            "nothing committed"
        );
        assert_eq!(counts(&self.table).await.0, 0, "nothing written");
        assert_eq!(
            wait_exit(&mut self.consumer, Duration::from_millis(200)),
            None,
            "still running:\n{}",
            self.consumer.log_tail()
        );
        body
    }

    /// After `fix` rewrites the mount, the consumer exits 0 on its own; restarted, it
    /// carries every trade and is ready.
    async fn recovers(mut self, fix: impl FnOnce(&mut SecretMount)) {
        fix(&mut self.mount);
        let status = wait_exit(&mut self.consumer, Duration::from_secs(40));
        assert!(
            status.is_some_and(|s| s.success()),
            "exits 0 when its credentials change ({status:?}):\n{}",
            self.consumer.log_tail()
        );
        assert_eq!(
            log_lines_with(&self.consumer, "credentials changed: draining"),
            1
        );
        let consumer = ConsumerProcess::start(&self.spec);
        if let Err(e) =
            wait_for_questdb_count(&self.table, TRADES as i64, Duration::from_secs(90)).await
        {
            panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
        }
        assert_eq!(counts(&self.table).await, (TRADES as i64, TRADES as i64));
        ready(&consumer, Duration::from_secs(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_is_an_authentication_problem_until_the_secret_is_fixed() {
    let listener = Listener::SaslSsl(SaslMechanism::ScramSha512);
    const WRONG: &str = "wrong,pa;ss=wo\"rd'";
    let mut refused = start_refused("sec-badpw", listener, |mount, _| {
        mount.write(&[("password", WRONG.as_bytes())]);
    })
    .await;
    refused
        .check_refused("kafka-authentication", "Authentication failed")
        .await;
    assert_eq!(
        log_lines_with(&refused.consumer, "wrong,pa;ss"),
        0,
        "the refused password is in the consumer's log:\n{}",
        refused.consumer.log_tail()
    );
    let password = listener_security(listener).1.password.expect("password");
    let password = password.secret.expose().as_bytes().to_vec();
    refused
        .recovers(|mount| mount.write(&[("password", &password)]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_a_tls_problem_until_the_secret_is_fixed() {
    let env = TestEnv::get();
    let other_ca = std::fs::read(env.kafka_var("KAFKA_OTHER_CA_FILE")).expect("other CA");
    let ca = std::fs::read(env.kafka_var("KAFKA_CA_FILE")).expect("CA");
    let mut refused = start_refused("sec-badca", Listener::Ssl, |mount, _| {
        mount.write(&[("ca.crt", &other_ca)]);
    })
    .await;
    refused
        .check_refused("kafka-tls", "certificate verify failed")
        .await;
    refused
        .recovers(|mount| mount.write(&[("ca.crt", &ca)]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_is_a_tls_problem_until_the_secret_is_fixed() {
    let env = TestEnv::get();
    let read = |k: &str| std::fs::read(env.kafka_var(k)).expect(k);
    let (expired_crt, expired_key) = (
        read("KAFKA_EXPIRED_CERT_FILE"),
        read("KAFKA_EXPIRED_KEY_FILE"),
    );
    let (crt, key) = (
        read("KAFKA_CLIENT_CERT_FILE"),
        read("KAFKA_CLIENT_KEY_FILE"),
    );
    let mut refused = start_refused("sec-expired", Listener::Ssl, |mount, _| {
        mount.write(&[("tls.crt", &expired_crt), ("tls.key", &expired_key)]);
    })
    .await;
    refused.check_refused("kafka-tls", "expired").await;
    refused
        .recovers(|mount| mount.write(&[("tls.crt", &crt), ("tls.key", &key)]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_is_a_tls_problem() {
    let env = TestEnv::get();
    // The broker's certificate names the bridge address only; reached through a relay on
    // 127.0.0.1, it names another host.
    let relay = SlowProxy::start(
        env.kafka_var("KAFKA_SSL_BROKERS").to_owned(),
        Duration::ZERO,
        u64::MAX,
    )
    .await;
    relay.set_fast();
    let address = format!("127.0.0.1:{}", relay.port);
    let mut refused = start_refused("sec-host", Listener::Ssl, |_, env| {
        env.retain(|(k, _)| k != "KAFKA_BROKERS");
        env.push(("KAFKA_BROKERS".into(), address));
    })
    .await;
    let body = refused
        .check_refused("kafka-tls", "certificate verify failed")
        .await;
    eprintln!("another host: {body}");
}
