//! The autoscaler's signal readers against the real Kafka and Prometheus of the local environment.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use spate_operator::autoscale::signals::{GroupLag, GroupLagReader, PodScraper, PrometheusReader};
use spate_tests::{
    TestEnv, add_prometheus_target, create_topic, eventually, kafka_config, unique_name,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn produce(topic: &str, counts: &[(i32, usize)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = kafka_config()
        .set("linger.ms", "0")
        .create()
        .expect("a producer");
    for (partition, n) in counts {
        for i in 0..*n {
            let payload = format!("record {i}");
            producer
                .send(
                    BaseRecord::<(), _>::to(topic)
                        .partition(*partition)
                        .payload(&payload),
                )
                .expect("queue a record");
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("records delivered");
}

fn commit(topic: &str, group: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = kafka_config()
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .expect("an offset");
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .expect("offsets committed");
}

async fn delete_before(topic: &str, partition: i32, offset: i64) {
    let admin: AdminClient<DefaultClientContext> =
        kafka_config().create().expect("an admin client");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("an offset");
    let result = admin
        .delete_records(&tpl, &AdminOptions::new())
        .await
        .expect("records deleted");
    assert!(
        result.elements().iter().all(|e| e.error().is_ok()),
        "{result:?}"
    );
}

async fn read_lag(topic: &str, group: &str) -> GroupLag {
    let (topic, group) = (topic.to_string(), group.to_string());
    tokio::task::spawn_blocking(move || {
        let reader = GroupLagReader::new(
            &TestEnv::get().kafka_brokers,
            &group,
            &[],
            Duration::from_secs(10),
        )
        .expect("a lag reader");
        reader.read(&[topic]).expect("lag read")
    })
    .await
    .expect("the blocking read finished")
}

#[tokio::test]
async fn group_lag_counts_from_the_commit_or_the_low_watermark_to_the_high_watermark() {
    let topic = unique_name("autoscale-lag");
    let group = unique_name("autoscale-group");
    create_topic(&topic, 3).await.expect("topic created");
    produce(&topic, &[(0, 10), (1, 5), (2, 8)]);
    // p0 committed at 4; p1 never committed, its first 3 records deleted; p2 committed at 2
    // but records before 5 deleted by retention.
    commit(&topic, &group, &[(0, 4), (2, 2)]);
    delete_before(&topic, 1, 3).await;
    delete_before(&topic, 2, 5).await;

    let lag = read_lag(&topic, &group).await;
    let by_partition: Vec<(i32, i64, i64, Option<i64>, u64)> = lag
        .partitions
        .iter()
        .map(|p| (p.partition, p.low, p.high, p.committed, p.lag))
        .collect();
    assert_eq!(
        by_partition,
        vec![
            (0, 0, 10, Some(4), 6),
            (1, 3, 5, None, 2),
            (2, 5, 8, Some(2), 3)
        ]
    );
    assert_eq!((lag.total(), lag.max(), lag.high_watermarks()), (11, 6, 23));
}

#[tokio::test]
async fn arrivals_show_as_high_watermark_growth_and_commits_beyond_the_end_as_no_lag() {
    let topic = unique_name("autoscale-rate");
    let group = unique_name("autoscale-group");
    create_topic(&topic, 2).await.expect("topic created");
    produce(&topic, &[(0, 3), (1, 3)]);
    commit(&topic, &group, &[(0, 3), (1, 3)]);
    let before = read_lag(&topic, &group).await;
    assert_eq!(before.total(), 0);
    produce(&topic, &[(0, 20), (1, 7)]);
    let after = read_lag(&topic, &group).await;
    assert_eq!(after.high_watermarks() - before.high_watermarks(), 27);
    assert_eq!(after.total(), 27);
}

#[tokio::test]
async fn an_unknown_topic_is_an_error_not_zero_lag() {
    let topic = unique_name("autoscale-missing");
    let result = tokio::task::spawn_blocking(move || {
        let reader = GroupLagReader::new(
            &TestEnv::get().kafka_brokers,
            "g",
            &[],
            Duration::from_secs(5),
        )
        .expect("a lag reader");
        reader.read(&[topic])
    })
    .await
    .expect("the blocking read finished");
    assert!(result.is_err(), "{result:?}");
}

/// Serves a consumer's `/metrics` whose counters advance with time: 1000 trades/s,
/// 2 busy worker-seconds per second over 4 workers, a flush of 20 ms every 10 ms.
async fn serve_consumer_metrics(listener: TcpListener) {
    let start = Instant::now();
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let t = start.elapsed().as_secs_f64() + 100.0;
        tokio::spawn(async move {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let body = format!(
                "# TYPE trades_processed_total counter\ntrades_processed_total {}\n\
                 # TYPE spate_worker_busy_seconds_total counter\nspate_worker_busy_seconds_total {}\n\
                 spate_workers 4\nspate_queue_depth 7\n\
                 spate_flush_latency_seconds_sum {}\nspate_flush_latency_seconds_count {}\n",
                1000.0 * t,
                2.0 * t,
                0.02 * 100.0 * t,
                100.0 * t
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

fn near(value: Option<f64>, expected: f64, tolerance: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() <= tolerance * expected)
}

#[tokio::test]
async fn consumer_signals_are_read_through_the_prometheus_http_api() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address").to_string();
    let server = tokio::spawn(serve_consumer_metrics(listener));
    let pipeline = unique_name("pipeline");
    let _target = add_prometheus_target("spate-autoscale", &[("pipeline", &pipeline)], &addr)
        .expect("add the target");
    let reader = PrometheusReader::new(
        reqwest::Client::new(),
        TestEnv::get().prometheus_url(),
        "10s",
        Duration::from_secs(30),
    );
    let selector = format!("job=\"spate-autoscale\",pipeline=\"{pipeline}\"");
    let signals = eventually(
        "Prometheus to hold rates of the pod",
        Duration::from_secs(60),
        || async {
            let s = reader
                .consumer_signals(&selector, 1)
                .await
                .map_err(|e| e.to_string())?;
            if near(s.throughput, 1000.0, 0.1) && s.busy_ratio.len() == 1 {
                Ok(s)
            } else {
                Err(format!("not yet: {s:?}"))
            }
        },
    )
    .await
    .expect("signals");
    assert!(near(signals.service_rate, 500.0, 0.1), "{signals:?}");
    assert!((signals.busy_ratio[0].1 - 0.5).abs() < 0.05, "{signals:?}");
    assert_eq!(signals.busy_ratio[0].0, addr);
    assert!(near(signals.flush_latency, 0.02, 0.1), "{signals:?}");
    assert_eq!(
        (signals.queue_depth, signals.workers, signals.pods_seen),
        (Some(7.0), Some(4.0), 1)
    );
    assert!(!signals.stale, "{signals:?}");
    let expecting_two = reader
        .consumer_signals(&selector, 2)
        .await
        .expect("signals");
    assert!(expecting_two.stale, "a missing pod marks the signals stale");
    let nobody = reader
        .consumer_signals("job=\"no-such-job\"", 1)
        .await
        .expect("signals");
    assert_eq!(
        (nobody.throughput, nobody.pods_seen, nobody.stale),
        (None, 0, true)
    );
    server.abort();
}

#[tokio::test]
async fn consumer_signals_are_scraped_from_the_pods_without_prometheus() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address").to_string();
    let server = tokio::spawn(serve_consumer_metrics(listener));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let mut scraper = PodScraper::new(http);
    let pods = vec![
        ("pod-a".to_string(), format!("http://{addr}/metrics")),
        (
            "pod-gone".to_string(),
            "http://127.0.0.1:9/metrics".to_string(),
        ),
    ];
    let start = Instant::now();
    let first = scraper.scrape(Duration::ZERO, &pods).await;
    assert!(first.stale, "a first scrape has no rates yet");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = scraper.scrape(start.elapsed(), &pods[..1]).await;
    assert!(!second.stale, "{second:?}");
    assert!(near(second.throughput, 1000.0, 0.1), "{second:?}");
    assert!(near(second.service_rate, 500.0, 0.01), "{second:?}");
    assert_eq!(
        (second.queue_depth, second.workers, second.pods_seen),
        (Some(7.0), Some(4.0), 1)
    );
    let with_a_dead_pod = scraper.scrape(start.elapsed(), &pods).await;
    assert!(
        with_a_dead_pod.stale,
        "an unreachable pod marks the signals stale"
    );
    server.abort();
}

/// The example pipeline reading `topic` through `brokers` with `edit` applied to its source.
fn pipeline_with_source(
    brokers: &str,
    topic: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> spate_operator::crd::IngestionPipeline {
    let path = spate_tests::repo_root().join("manifests/examples/pipeline.yaml");
    let text = std::fs::read_to_string(path).expect("the example pipeline");
    let mut doc: serde_json::Value = serde_yaml::from_str(&text).expect("YAML");
    doc["spec"]["source"]["bootstrapServers"] = brokers.into();
    doc["spec"]["source"]["topics"] = serde_json::json!([topic]);
    edit(&mut doc["spec"]["source"]);
    serde_json::from_value(doc).expect("an IngestionPipeline")
}

/// The lag through `brokers` with the options the operator's lag reader takes from `p` and
/// what it was given of its Secrets.
async fn read_lag_as_operator(
    p: &spate_operator::crd::IngestionPipeline,
    material: &spate_operator::autoscale::controller::lag_source::Material,
) -> Result<GroupLag, String> {
    let options = spate_operator::autoscale::controller::lag_source::reader_options(p, material);
    let brokers = p.spec.source.bootstrap_servers.clone();
    let topics = p.spec.source.topics.clone();
    tokio::task::spawn_blocking(move || {
        let reader = GroupLagReader::new(&brokers, "lag-reader", &options, Duration::from_secs(8))
            .map_err(|e| e.to_string())?;
        reader.read(&topics).map_err(|e| e.to_string())
    })
    .await
    .expect("the blocking read finished")
}

#[tokio::test]
async fn the_operators_lag_reader_reads_through_the_sasl_ssl_and_mtls_listeners() {
    let env = TestEnv::get();
    let var = |k: &str| env.kafka_var(k).to_owned();
    let read = |k: &str| std::fs::read_to_string(var(k)).expect("a PEM file");
    let topic = unique_name("lag-secure");
    create_topic(&topic, 2).await.expect("topic");
    produce(&topic, &[(0, 30), (1, 12)]);

    // SASL_SSL with SCRAM-SHA-512, the CA and the credentials shared with the operator.
    let scram = pipeline_with_source(&var("KAFKA_SASL_SSL_BROKERS"), &topic, |s| {
        s["credentials"] = serde_json::json!({
            "secretRef": {"name": "kafka-user"},
            "mechanism": "SCRAM-SHA-512",
            "securityProtocol": "SASL_SSL",
        });
        s["tls"] = serde_json::json!({"ca": {"secretName": "kafka-ca"}});
        s["shareCredentialsWithOperator"] = true.into();
    });
    let ca = Some(read("KAFKA_CA_FILE"));
    let shared = spate_operator::autoscale::controller::lag_source::Material {
        ca_pem: ca.clone(),
        sasl: Some((var("KAFKA_SCRAM_USER"), var("KAFKA_SCRAM_PASSWORD"))),
        ..Default::default()
    };
    let lag = read_lag_as_operator(&scram, &shared)
        .await
        .expect("lag over SASL_SSL");
    assert_eq!(lag.total(), 42, "{lag:?}");

    // The same pipeline without its credentials: an authentication error, never zero lag.
    let withheld = spate_operator::autoscale::controller::lag_source::Material {
        ca_pem: ca.clone(),
        ..Default::default()
    };
    let refused = read_lag_as_operator(&scram, &withheld).await;
    assert!(refused.is_err(), "read {refused:?} without credentials");

    // mTLS with the environment's client certificate.
    let mtls = pipeline_with_source(&var("KAFKA_SSL_BROKERS"), &topic, |s| {
        s["tls"] = serde_json::json!({
            "ca": {"secretName": "kafka-ca"},
            "clientCertificate": {"secretName": "kafka-client"},
        });
    });
    let client = spate_operator::autoscale::controller::lag_source::Material {
        ca_pem: ca,
        client_pem: Some((
            read("KAFKA_CLIENT_CERT_FILE"),
            read("KAFKA_CLIENT_KEY_FILE"),
        )),
        ..Default::default()
    };
    let lag = read_lag_as_operator(&mtls, &client)
        .await
        .expect("lag over mTLS");
    assert_eq!(lag.total(), 42, "{lag:?}");
}
