//! A QuestDB of its own that demands HTTP basic authentication (the open-source server's
//! `http.user` / `http.password`): the consumer, its password in a mounted file, creates
//! the table and lands every row; with a wrong password it waits, unready with
//! `questdb-authentication` and nothing committed, until the file is fixed, then exits 0
//! and, restarted, lands the rows through questdb-rs's client as well.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{TestEnv, create_topic, unique_name, unique_table};
use support::security::{SecretMount, committed, ready, unready_with, wait_exit};
use support::{
    ConsumerProcess, ConsumerSpec, DedicatedQuestdb, dedicated_counts, normalized_messages,
    produce, wait_dedicated_rows,
};

const TRADES: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_file_opens_questdb_and_a_wrong_one_is_an_authentication_problem() {
    TestEnv::get();
    let topic = unique_name("qdb-auth");
    let table = unique_table("qdb_auth");
    create_topic(&topic, 2).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");
    produce(&topic, &normalized_messages(&topic, TRADES)).await;

    let password = format!("p;a=s,s \"q\" 'q' {}", unique_name("qdb"));
    let mut questdb = DedicatedQuestdb::new(&topic);
    questdb.require_password("spate", &password);
    questdb.start().await;

    let mut mount = SecretMount::new(&topic);
    mount.write(&[("password", b"wrong password")]);
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = questdb.http_url();
    spec.extra = vec![
        ("SPATE_QDB_USERNAME".into(), "spate".into()),
        (
            "SPATE_QDB_PASSWORD_FILE".into(),
            mount.path("password").display().to_string(),
        ),
    ];
    let mut consumer = ConsumerProcess::start(&spec);
    let body = unready_with(&consumer, "questdb-authentication", Duration::from_secs(60)).await;
    assert!(body.contains("401"), "{body}");
    assert_eq!(committed(&spec.group, &topic, 2), 0, "nothing committed");
    assert_eq!(
        wait_exit(&mut consumer, Duration::from_millis(200)),
        None,
        "still running"
    );

    // The right password: the consumer notices, exits 0, and restarted lands every row.
    mount.write(&[("password", password.as_bytes())]);
    let status = wait_exit(&mut consumer, Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "exits 0 when the password file changes ({status:?}):\n{}",
        consumer.log_tail()
    );
    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_dedicated_rows(&questdb, &table, TRADES, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    assert_eq!(
        dedicated_counts(&questdb, &table).await,
        (TRADES as i64, TRADES as i64)
    );
    ready(&consumer, Duration::from_secs(20)).await;
    drop(consumer);

    // questdb-rs's client takes the same credentials.
    let more = unique_name("qdb-auth-more");
    produce(&topic, &normalized_messages(&more, TRADES)).await;
    spec.extra
        .push(("SPATE_ILP_WRITER".into(), "questdb-rs".into()));
    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_dedicated_rows(&questdb, &table, 2 * TRADES, Duration::from_secs(90)).await
    {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    let all = 2 * TRADES as i64;
    assert_eq!(dedicated_counts(&questdb, &table).await, (all, all));
}
