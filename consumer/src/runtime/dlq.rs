//! The dead-letter topic: a refused record is produced there with its reason and origin
//! in headers (value and key unchanged), and only an acknowledged produce lets its
//! offset advance.

use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use super::chunk::PartitionId;
use super::retry::{Backoff, sleep_unless};
use crate::security::kafka::SaslMechanism;
use crate::security::{KafkaSecurity, SecureContext};

/// Header names of a dead letter.
pub const HEADER_REASON: &str = "spate-reason";
pub const HEADER_DETAIL: &str = "spate-detail";
pub const HEADER_ORIGIN_TOPIC: &str = "spate-origin-topic";
pub const HEADER_ORIGIN_PARTITION: &str = "spate-origin-partition";
pub const HEADER_ORIGIN_OFFSET: &str = "spate-origin-offset";

/// Set when the payload was cut to fit the dead-letter topic: the original length.
pub const HEADER_TRUNCATED_FROM: &str = "spate-truncated-from";

/// Longest `spate-detail` header value, in bytes.
const MAX_DETAIL: usize = 1024;

/// Payload lengths tried in turn while the dead-letter topic calls a letter too large:
/// whole, then cut to 64 KiB, 1 KiB, and finally headers only. A record is never
/// stuck because the dead-letter topic's limit is lower than the source topic's.
const PAYLOAD_CUTS: [usize; 4] = [usize::MAX, 64 * 1024, 1024, 0];

/// The payload sent at cut level `level`, and the header that says it was cut.
fn cut_payload(payload: &[u8], level: usize) -> (&[u8], Option<String>) {
    let max = PAYLOAD_CUTS[level.min(PAYLOAD_CUTS.len() - 1)];
    if payload.len() <= max {
        (payload, None)
    } else {
        (&payload[..max], Some(payload.len().to_string()))
    }
}

fn too_large(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
}

/// A record to dead-letter.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub reason: &'a str,
    pub detail: &'a str,
    pub origin: &'a PartitionId,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// The headers of a dead letter, in order.
pub fn headers(letter: &DeadLetter<'_>) -> Vec<(&'static str, String)> {
    vec![
        (HEADER_REASON, letter.reason.to_string()),
        (
            HEADER_DETAIL,
            truncate(letter.detail, MAX_DETAIL).to_string(),
        ),
        (HEADER_ORIGIN_TOPIC, letter.origin.topic.to_string()),
        (HEADER_ORIGIN_PARTITION, letter.origin.partition.to_string()),
        (HEADER_ORIGIN_OFFSET, letter.offset.to_string()),
    ]
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Dead-lettering was given up because the worker was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("dead-lettering stopped before every record was acknowledged")]
pub struct Stopped;

/// Building the dead-letter producer failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("create dead-letter producer: {0}")]
    CreateProducer(#[source] KafkaError),
}

/// Producer of the dead-letter topic, shared by the workers.
pub struct DeadLetters {
    producer: FutureProducer<SecureContext>,
    topic: String,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .finish()
    }
}

impl DeadLetters {
    /// An idempotent, fully acknowledged producer for `topic`, connecting as the
    /// consumer does (`security`, then the shared `options`) with `context`.
    pub fn new(
        brokers: &str,
        security: &KafkaSecurity,
        options: &[(String, String)],
        topic: &str,
        context: SecureContext,
    ) -> Result<Self, DeadLetterError> {
        let mut config = security.client_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            // A refused record may be as large as the broker allows (its default limit),
            // plus our headers.
            .set("message.max.bytes", "2097152");
        for (k, v) in options.iter().filter(|(k, _)| is_shared_option(k)) {
            config.set(k, v);
        }
        let producer = FutureProducer::from_config_and_context(&config, context)
            .map_err(DeadLetterError::CreateProducer)?;
        Ok(Self {
            producer,
            topic: topic.to_string(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Produces every letter and waits until each is acknowledged, retrying failures
    /// with backoff; `on_error` is told of each failure. Gives up only when `stop()`.
    pub fn deliver_all(
        &self,
        letters: &[DeadLetter<'_>],
        stop: impl Fn() -> bool,
        mut on_error: impl FnMut(&KafkaError),
    ) -> Result<(), Stopped> {
        let mut pending: Vec<usize> = (0..letters.len()).collect();
        let mut cut_level = vec![0usize; letters.len()];
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !pending.is_empty() {
            let mut futures = Vec::with_capacity(pending.len());
            let mut failed = Vec::new();
            for &i in &pending {
                let letter = &letters[i];
                let mut hs = headers(letter);
                let (payload, cut_from) = cut_payload(letter.payload, cut_level[i]);
                if let Some(len) = cut_from {
                    hs.push((HEADER_TRUNCATED_FROM, len));
                }
                let mut owned = OwnedHeaders::new_with_capacity(hs.len());
                for (k, v) in &hs {
                    owned = owned.insert(Header {
                        key: k,
                        value: Some(v.as_bytes()),
                    });
                }
                let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
                    .payload(payload)
                    .headers(owned);
                if let Some(key) = letter.key {
                    record = record.key(key);
                }
                match self.producer.send_result(record) {
                    Ok(future) => futures.push((i, future)),
                    Err((e, _)) => {
                        if too_large(&e) {
                            cut_level[i] += 1;
                        }
                        on_error(&e);
                        failed.push(i);
                    }
                }
            }
            for (i, future) in futures {
                match block_on(future) {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => {
                        if too_large(&e) {
                            cut_level[i] += 1;
                        }
                        on_error(&e);
                        failed.push(i);
                    }
                    Err(_canceled) => failed.push(i),
                }
            }
            failed.sort_unstable();
            pending = failed;
            if !pending.is_empty() && !sleep_unless(backoff.next_delay(), &stop) {
                return Err(Stopped);
            }
        }
        Ok(())
    }
}

/// How [`ensure_topic`] found the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicCheck {
    Existed,
    Created,
    /// Creating it failed (no permission, policy, broker down): the reason. Dead
    /// letters are retried until the topic exists or the broker creates it on use.
    NotCreated(String),
}

/// Makes sure the dead-letter topic exists, creating it (one partition, the broker's
/// default replication) when missing, so a broker without topic auto-creation does not
/// leave refused records retrying forever.
pub async fn ensure_topic(
    brokers: &str,
    security: &KafkaSecurity,
    options: &[(String, String)],
    topic: &str,
) -> TopicCheck {
    if security.token_source().is_some() || security.mechanism == Some(SaslMechanism::OAuthBearer) {
        // rdkafka's admin client serves no OAUTHBEARER token refresh.
        return TopicCheck::NotCreated(
            "the admin client cannot authenticate with OAUTHBEARER; create the topic beforehand"
                .into(),
        );
    }
    let mut config = security.client_config(brokers);
    for (k, v) in options.iter().filter(|(k, _)| is_shared_option(k)) {
        config.set(k, v);
    }
    let admin = match AdminClient::from_config_and_context(&config, SecureContext::default()) {
        Ok(a) => a,
        Err(e) => return TopicCheck::NotCreated(e.to_string()),
    };
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
    // -1: the broker's default replication factor (KIP-464).
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1));
    match admin.create_topics(&[new], &opts).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => TopicCheck::Created,
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => TopicCheck::Existed,
            Some(Err((_, code))) => TopicCheck::NotCreated(code.to_string()),
            None => TopicCheck::NotCreated("no answer".into()),
        },
        Err(e) => TopicCheck::NotCreated(e.to_string()),
    }
}

/// Consumer-only properties are left out of the producer's configuration.
fn is_shared_option(key: &str) -> bool {
    let consumer_only = [
        "group.",
        "auto.",
        "enable.auto",
        "partition.assignment",
        "session.timeout",
        "heartbeat.",
        "max.poll",
        "fetch.",
        "queued.",
        "isolation.level",
        "enable.partition.eof",
        "check.crcs",
    ];
    !consumer_only.iter().any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_reason_and_origin() {
        let origin = PartitionId::new("trades", 3);
        let letter = DeadLetter {
            reason: "malformed",
            detail: "expected value at line 1",
            origin: &origin,
            offset: 42,
            key: None,
            payload: b"{",
        };
        let hs = headers(&letter);
        assert_eq!(
            hs,
            vec![
                ("spate-reason", "malformed".to_string()),
                ("spate-detail", "expected value at line 1".to_string()),
                ("spate-origin-topic", "trades".to_string()),
                ("spate-origin-partition", "3".to_string()),
                ("spate-origin-offset", "42".to_string()),
            ]
        );
    }

    #[test]
    fn long_details_are_cut_on_a_char_boundary() {
        let detail = "é".repeat(2000);
        let cut = truncate(&detail, MAX_DETAIL);
        assert!(cut.len() <= MAX_DETAIL);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn payloads_too_large_for_the_topic_are_cut_step_by_step() {
        let payload = vec![b'x'; 100_000];
        assert_eq!(cut_payload(&payload, 0), (&payload[..], None));
        let (p, from) = cut_payload(&payload, 1);
        assert_eq!((p.len(), from.as_deref()), (64 * 1024, Some("100000")));
        assert_eq!(cut_payload(&payload, 2).0.len(), 1024);
        assert_eq!(cut_payload(&payload, 3).0.len(), 0);
        assert_eq!(cut_payload(&payload, 9).0.len(), 0, "stays at headers only");
        // A small payload is never marked as cut.
        assert_eq!(cut_payload(b"{", 3), (&b""[..], Some("1".to_string())));
        assert_eq!(cut_payload(b"{", 2), (&b"{"[..], None));
    }

    #[test]
    fn consumer_properties_stay_out_of_the_producer() {
        assert!(!is_shared_option("group.protocol"));
        assert!(!is_shared_option("auto.offset.reset"));
        assert!(is_shared_option("security.protocol"));
        assert!(is_shared_option("sasl.username"));
    }
}
