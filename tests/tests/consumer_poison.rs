//! Poison records never stall a partition: each one lands in the dead-letter topic with
//! its reason and origin, and every good record around them lands in QuestDB.

#[path = "consumer_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use spate_tests::{
    TestEnv, create_topic, kafka_config, unique_name, unique_table, wait_for_questdb_count,
};
use support::{ConsumerProcess, ConsumerSpec, Message as Msg, mixed_messages, now_ns, produce};

/// Poison payloads, each with the one reason spate gives for it.
fn poison() -> Vec<(Vec<u8>, &'static str)> {
    let ts = now_ns();
    let trade = |fields: &str| {
        format!(
            r#"{{"exchange":"kraken","symbol":"BTC-USD","trade_id":"p","timestamp":{ts},{fields}}}"#
        )
        .into_bytes()
    };
    let good = |side: &str| trade(&format!(r#""side":"{side}","price":1,"size":1"#));
    let mut big = br#"{"exchange":"kraken","pad":""#.to_vec();
    big.resize(1_048_000, b'x');
    big.extend_from_slice(br#""}"#);
    let mut bad_utf8 = good("buy");
    bad_utf8[30] = 0xff;
    // A three-byte character cut after its second byte, at the end of the payload.
    let mut truncated_utf8 = good("buy");
    truncated_utf8.extend_from_slice(&"€".as_bytes()[..2]);
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(&good("buy"));
    let nested = format!(
        r#"{{"exchange":"kraken","deep":{}1{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    vec![
        (
            br#"{"exchange":"kraken","symbol":"BTC-"#.to_vec(),
            "malformed",
        ),
        (trade(r#""side":"buy","size":1"#), "missing_field"),
        (
            trade(r#""side":"buy","price":"NaN","size":1"#),
            "invalid_number",
        ),
        (
            trade(r#""side":"buy","price":10,"size":-1"#),
            "non_positive",
        ),
        (
            trade(r#""side":"hold","price":10,"size":1"#),
            "unknown_side",
        ),
        (big, "too_large"),
        (bad_utf8, "invalid_utf8"),
        (b"".to_vec(), "malformed"),
        (truncated_utf8, "invalid_utf8"),
        (nested.into_bytes(), "malformed"),
        (
            trade(&format!(
                r#""side":"buy","price":1{},"size":1"#,
                "0".repeat(400)
            )),
            "invalid_number",
        ),
        (
            trade(r#""side":"buy","side":"sell","price":1,"size":1"#),
            "malformed",
        ),
        (bom, "malformed"),
        (
            trade("\"side\":\"buy\",\"price\":1,\"size\":1,\"x\":\"a\0b\""),
            "malformed",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_are_dead_lettered_and_good_ones_written() {
    TestEnv::get();
    let topic = unique_name("poison");
    let table = unique_table("poison");
    let dlq = format!("{topic}.dlq");
    create_topic(&topic, 2).await.expect("topic");
    create_topic(&dlq, 1).await.expect("dlq topic");

    let good = mixed_messages(&topic, 800);
    let rows: usize = good.iter().map(|m| m.rows).sum();
    let poison = poison();
    // Interleave: a poison record among every 10 good ones, on every key.
    let mut all: Vec<Msg> = Vec::new();
    let mut bad = poison.iter().cycle().take(2 * poison.len());
    for (i, m) in good.iter().enumerate() {
        all.push(m.clone());
        if i % 10 == 5
            && let Some((payload, _)) = bad.next()
        {
            all.push(Msg {
                key: m.key.clone(),
                payload: payload.clone(),
                rows: 0,
            });
        }
    }
    let poison_count = all.iter().filter(|m| m.rows == 0).count();
    assert_eq!(poison_count, 2 * poison.len());
    produce(&topic, &all).await;

    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.extra
        .push(("SPATE_MAX_MESSAGE_BYTES".into(), "1000000".into()));
    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }

    // Every poison record is in the dead-letter topic, with its reason and origin.
    let expected: HashMap<Vec<u8>, &str> = poison.iter().cloned().collect();
    let mut seen = Vec::new();
    for (payload, headers) in read_letters(&dlq, poison_count) {
        let header = |name: &str| -> &str {
            headers
                .get(name)
                .unwrap_or_else(|| panic!("header {name} missing"))
        };
        let expected_reason = expected
            .get(&payload)
            .unwrap_or_else(|| panic!("unexpected dead letter of {} bytes", payload.len()));
        assert_eq!(
            header("spate-reason"),
            *expected_reason,
            "reason for a payload of {} bytes: {}",
            payload.len(),
            String::from_utf8_lossy(&payload[..payload.len().min(80)])
        );
        assert!(!header("spate-detail").is_empty());
        assert_eq!(header("spate-origin-topic"), topic);
        let partition: i32 = header("spate-origin-partition").parse().expect("partition");
        let offset: i64 = header("spate-origin-offset").parse().expect("offset");
        assert!((0..2).contains(&partition));
        assert!(offset >= 0);
        seen.push((partition, offset));
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        poison_count,
        "distinct dead letters\nconsumer log:\n{}",
        consumer.log_tail()
    );

    // No good row is missing and nothing else arrived.
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(5))
        .await
        .expect("exactly the good rows");
    let mut dead = 0.0;
    let reasons: std::collections::BTreeSet<&str> = poison.iter().map(|(_, r)| *r).collect();
    {
        for r in reasons {
            dead += consumer
                .metric(&format!("spate_dead_letter_total{{reason=\"{r}\"}}"))
                .await
                .unwrap_or(0.0);
        }
    }
    assert_eq!(dead, poison_count as f64, "spate_dead_letter_total");
}

/// Reads `n` dead letters of `dlq` (payload and headers), or fewer after 60 s.
fn read_letters(dlq: &str, n: usize) -> Vec<(Vec<u8>, HashMap<String, String>)> {
    let reader: BaseConsumer = kafka_config()
        .set("group.id", format!("{dlq}-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("dlq reader");
    reader.subscribe(&[dlq]).expect("subscribe dlq");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        let Some(Ok(msg)) = reader.poll(Duration::from_millis(500)) else {
            continue;
        };
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        let v = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                        (h.key.to_owned(), v.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((msg.payload().unwrap_or_default().to_vec(), headers));
    }
    out
}

/// Topic names the broker lists (a full listing creates nothing).
fn listed_topics() -> Vec<String> {
    let client: BaseConsumer = kafka_config().create().expect("metadata client");
    let metadata = client
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dead_letter_topic_is_created_at_start() {
    TestEnv::get();
    let topic = unique_name("poison_nodlq");
    let table = unique_table("poison_nodlq");
    let dlq = format!("{topic}.dlq");
    create_topic(&topic, 1).await.expect("topic");
    assert!(!listed_topics().contains(&dlq));

    let consumer = ConsumerProcess::start(&ConsumerSpec::new(&topic, &table));
    let created =
        spate_tests::eventually("dead-letter topic listed", Duration::from_secs(60), || {
            let dlq = dlq.clone();
            async move {
                if listed_topics().contains(&dlq) {
                    Ok(())
                } else {
                    Err("not yet".to_string())
                }
            }
        })
        .await;
    if let Err(e) = created {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    produce(
        &topic,
        &[Msg {
            key: "k".to_string(),
            payload: b"{\"exchange\":".to_vec(),
            rows: 0,
        }],
    )
    .await;
    let letters = read_letters(&dlq, 1);
    assert_eq!(letters.len(), 1, "consumer log:\n{}", consumer.log_tail());
    assert_eq!(letters[0].1["spate-reason"], "malformed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_too_large_for_the_dead_letter_topic_is_cut_not_stuck() {
    TestEnv::get();
    let topic = unique_name("poison_cut");
    let table = unique_table("poison_cut");
    let dlq = format!("{topic}.dlq");
    create_topic(&topic, 1).await.expect("topic");
    // The dead-letter topic takes at most 4 KiB per record.
    create_topic_with_max_bytes(&dlq, 4096).await;

    let good = mixed_messages(&topic, 50);
    let rows: usize = good.iter().map(|m| m.rows).sum();
    let mut big = br#"{"exchange":"kraken","symbol":"BTC-USD","side":"hold","pad":""#.to_vec();
    big.resize(100_000, b'x');
    big.extend_from_slice(br#""}"#);
    let mut all = good[..25].to_vec();
    all.push(Msg {
        key: good[0].key.clone(),
        payload: big.clone(),
        rows: 0,
    });
    all.extend_from_slice(&good[25..]);
    produce(&topic, &all).await;

    let consumer = ConsumerProcess::start(&ConsumerSpec::new(&topic, &table));
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    let letters = read_letters(&dlq, 1);
    assert_eq!(letters.len(), 1, "consumer log:\n{}", consumer.log_tail());
    let (payload, headers) = &letters[0];
    assert_eq!(payload.as_slice(), &big[..1024], "cut to the first 1 KiB");
    assert_eq!(headers["spate-truncated-from"], big.len().to_string());
    assert_eq!(headers["spate-origin-offset"], "25");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_mebibyte_value_is_dead_lettered_as_too_large_and_nothing_stalls() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    TestEnv::get();
    let topic = unique_name("poison_10mib");
    let table = unique_table("poison_10mib");
    let dlq = format!("{topic}.dlq");
    create_topic_with_max_bytes(&topic, 16 << 20).await;
    create_topic(&dlq, 1).await.expect("dlq topic");

    let good = mixed_messages(&topic, 40);
    let rows: usize = good.iter().map(|m| m.rows).sum();
    let mut value = br#"{"exchange":"kraken","symbol":""#.to_vec();
    value.resize(10 << 20, b'x');
    value.extend_from_slice(br#"","side":"buy","price":1,"size":1,"trade_id":"t","timestamp":1}"#);
    produce(&topic, &good[..20]).await;
    let producer: FutureProducer = kafka_config()
        .set("message.max.bytes", "16777216")
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(&topic).key("BTC-USD").payload(&value),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce 10 MiB");
    produce(&topic, &good[20..]).await;

    let consumer = ConsumerProcess::start(&ConsumerSpec::new(&topic, &table));
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    let letters = read_letters(&dlq, 1);
    assert_eq!(letters.len(), 1, "consumer log:\n{}", consumer.log_tail());
    let (payload, headers) = &letters[0];
    assert_eq!(headers["spate-reason"], "too_large");
    assert_eq!(headers["spate-origin-offset"], "20");
    // The dead-letter topic takes 1 MiB: the letter is cut, its length kept.
    assert_eq!(headers["spate-truncated-from"], value.len().to_string());
    assert!(
        value.starts_with(payload),
        "the letter is the value's beginning"
    );
}

/// A one-partition topic whose records may be at most `max_bytes`.
async fn create_topic_with_max_bytes(topic: &str, max_bytes: usize) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = kafka_config().create().expect("admin");
    let max = max_bytes.to_string();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("max.message.bytes", &max);
    admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("topic created");
        });
}
