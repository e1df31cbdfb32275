//! Smoke test: the local Kafka broker takes a record and hands it back, with both
//! consumer group protocols.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use spate_tests::{create_topic, kafka_config, unique_name};

async fn produce_then_consume(group_protocol: &str) {
    let topic = unique_name("smoke-kafka");
    create_topic(&topic, 3).await.expect("create the topic");

    let producer: FutureProducer = kafka_config()
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create a producer");
    let payload = format!("{{\"symbol\":\"BTC-USD\",\"topic\":\"{topic}\"}}");
    let delivery = producer
        .send(
            FutureRecord::to(&topic).key("BTC-USD").payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .expect("the broker acknowledges the record");

    let consumer: StreamConsumer = kafka_config()
        .set("group.id", unique_name("smoke-group"))
        .set("group.protocol", group_protocol)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("create a consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
        .await
        .expect("a record arrives")
        .expect("the consumer reports no error");

    assert_eq!(message.topic(), topic);
    assert_eq!(
        (message.partition(), message.offset()),
        (delivery.partition, delivery.offset)
    );
    assert_eq!(message.key(), Some(&b"BTC-USD"[..]));
    assert_eq!(message.payload_view::<str>(), Some(Ok(payload.as_str())));
}

#[tokio::test]
async fn a_produced_record_is_consumed_back_with_the_classic_protocol() {
    produce_then_consume("classic").await;
}

#[tokio::test]
async fn a_produced_record_is_consumed_back_with_the_consumer_protocol() {
    produce_then_consume("consumer").await;
}
