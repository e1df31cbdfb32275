//! The one Kafka consumer of the process: its configuration, and the context that
//! drains and commits revoked partitions and turns librdkafka statistics into lag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::OAuthToken;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext};
use tracing::{error, info, warn};

use super::chunk::PartitionId;
use super::dispatch::Dispatcher;
use super::fetch_watch::{FETCH_STALL_AFTER, FetchWatch, PartitionView, Stalled};
use super::settings::Settings;
use crate::config::GroupProtocol;
use crate::metrics::{ErrorKind, Metrics};
use crate::security::SecureContext;

/// The consumer type of the runtime.
pub type KafkaConsumer = BaseConsumer<SpateContext>;

/// librdkafka properties of the consumer, secrets left out (see [`client_config`]);
/// `kafka.options` come last and win.
pub fn consumer_properties(s: &Settings) -> Vec<(String, String)> {
    let kafka = &s.config.kafka;
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), kafka.brokers.clone()),
        ("group.id".into(), kafka.group_id.clone()),
        // Offsets are stored only once QuestDB (or the dead-letter topic) has the
        // records; what is stored is committed in the background.
        ("enable.auto.offset.store".into(), "false".into()),
        ("enable.auto.commit".into(), "true".into()),
        (
            "auto.commit.interval.ms".into(),
            s.config.commit_interval.as_millis().max(1).to_string(),
        ),
        ("auto.offset.reset".into(), "earliest".into()),
        ("enable.partition.eof".into(), "false".into()),
        ("statistics.interval.ms".into(), "5000".into()),
        // Bounds what librdkafka prefetches beyond our own in-flight watermark: an
        // eighth of the byte watermark, at most 16 MiB.
        (
            "queued.max.messages.kbytes".into(),
            (s.bytes.high / 8 / 1024).clamp(1024, 16_384).to_string(),
        ),
        // One fetch response at most a quarter of the byte watermark (at most
        // librdkafka's default of 50 MiB).
        (
            "fetch.max.bytes".into(),
            (s.bytes.high / 4).clamp(1 << 20, 52_428_800).to_string(),
        ),
        // When that bound is reached librdkafka postpones the partition's next fetch by
        // this long (default 1 s, which starves the workers while draining a backlog);
        // the workers empty the queue in milliseconds.
        ("fetch.queue.backoff.ms".into(), "10".into()),
        // Larger fetches per partition: fewer round trips while draining a backlog.
        ("max.partition.fetch.bytes".into(), "4194304".into()),
    ];
    props.extend(
        kafka
            .security
            .properties()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    match kafka.group_protocol {
        GroupProtocol::Consumer => props.push(("group.protocol".into(), "consumer".into())),
        GroupProtocol::Classic => {
            props.push(("group.protocol".into(), "classic".into()));
            props.push((
                "partition.assignment.strategy".into(),
                "cooperative-sticky".into(),
            ));
        }
    }
    // Storing offsets by hand is what makes the consumer lose nothing: not overridable.
    for (k, v) in kafka
        .options
        .iter()
        .filter(|(k, _)| k != "enable.auto.offset.store")
    {
        props.retain(|(pk, _)| pk != k);
        props.push((k.clone(), v.clone()));
    }
    props
}

/// Builds the librdkafka configuration, secrets included.
pub fn client_config(s: &Settings) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in consumer_properties(s) {
        config.set(k, v);
    }
    s.config.kafka.security.apply_secrets(&mut config);
    config
}

/// Callbacks of the consumer, run on the poll thread.
pub struct SpateContext {
    dispatcher: Arc<Dispatcher>,
    metrics: Metrics,
    /// Tokens and connection problems, as in every spate client.
    secure: SecureContext,
    /// How long a revoke waits for the partition's in-flight batch, in milliseconds.
    revoke_wait_ms: AtomicU64,
    /// Assigned partitions whose fetching stopped, from the statistics.
    fetch_watch: Mutex<FetchWatch>,
    /// Stalled partitions for the poll thread to seek back to their position.
    stalled: Mutex<Vec<Stalled>>,
}

impl SpateContext {
    pub fn new(
        dispatcher: Arc<Dispatcher>,
        metrics: Metrics,
        secure: SecureContext,
        revoke_wait: Duration,
    ) -> Self {
        Self {
            dispatcher,
            metrics,
            secure,
            revoke_wait_ms: AtomicU64::new(revoke_wait.as_millis() as u64),
            fetch_watch: Mutex::new(FetchWatch::new(FETCH_STALL_AFTER)),
            stalled: Mutex::new(Vec::new()),
        }
    }

    /// Stalled partitions found since the last call (see [`FetchWatch`]).
    pub fn take_stalled(&self) -> Vec<Stalled> {
        std::mem::take(&mut *self.stalled.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether a poll error was already reported as a connection problem.
    pub fn reported(&self, error: &KafkaError) -> bool {
        self.secure.reported(error)
    }

    /// Changes how long a revoke waits for in-flight batches (short when closing).
    pub fn set_revoke_wait(&self, wait: Duration) {
        self.revoke_wait_ms
            .store(wait.as_millis() as u64, Ordering::Release);
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<PartitionId> {
    tpl.elements()
        .iter()
        .map(|e| PartitionId::new(e.topic(), e.partition()))
        .collect()
}

/// A list of offsets to commit.
pub fn offsets_list(offsets: &[(PartitionId, i64)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for (id, next) in offsets {
        // Adding to a fresh list only fails for an invalid offset, never for Offset::Offset.
        let _ = tpl.add_partition_offset(&id.topic, id.partition, Offset::Offset(*next));
    }
    tpl
}

impl ClientContext for SpateContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.secure.on_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if !self.secure.on_error(&error, reason) {
            error!("librdkafka: {error}: {reason}");
        }
    }

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.secure.oauth_token()
    }

    fn stats(&self, stats: Statistics) {
        self.secure.on_stats(&stats);
        let load = self.dispatcher.load();
        let mut views = Vec::with_capacity(load.partitions.len());
        for (topic, t) in &stats.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 {
                    continue;
                }
                let id = PartitionId::new(topic, partition);
                let Some(ours) = load.partitions.iter().find(|l| l.id == id) else {
                    continue;
                };
                self.metrics.set_partition(
                    topic,
                    partition,
                    p.consumer_lag,
                    p.hi_offset,
                    p.committed_offset,
                );
                views.push(PartitionView {
                    id,
                    fetch_state: p.fetch_state.clone(),
                    next_offset: p.next_offset,
                    app_offset: p.app_offset,
                    hi_offset: p.hi_offset,
                    fetchq_cnt: p.fetchq_cnt,
                    paused: ours.paused,
                });
            }
        }
        let stalled = self
            .fetch_watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(Instant::now(), &views);
        if !stalled.is_empty() {
            let cgrp = stats.cgrp.as_ref();
            for s in &stalled {
                warn!(
                    topic = %s.id.topic,
                    partition = s.id.partition,
                    fetch_state = %s.fetch_state,
                    behind = s.behind,
                    idle_secs = s.for_secs,
                    group_state = cgrp.map_or("", |c| c.state.as_str()),
                    join_state = cgrp.map_or("", |c| c.join_state.as_str()),
                    "partition fetched nothing for the whole stall window (records waiting, fetch state stuck or no fetch answered); seeking it to its own position"
                );
            }
            self.stalled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(stalled);
        }
    }
}

impl ConsumerContext for SpateContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                self.metrics.rebalances.inc();
                let parts = partitions(tpl);
                let lost = consumer.assignment_lost();
                info!(partitions = ?parts, lost, "partitions revoked, draining");
                let stored = self.dispatcher.revoke(
                    &parts,
                    Duration::from_millis(self.revoke_wait_ms.load(Ordering::Acquire)),
                );
                if !lost && !stored.is_empty() {
                    if let Err(error) = consumer.commit(&offsets_list(&stored), CommitMode::Sync) {
                        self.metrics.error(ErrorKind::Commit).inc();
                        warn!(%error, "commit on revoke failed");
                    } else {
                        info!(offsets = ?stored, "committed revoked partitions");
                    }
                }
                for p in &parts {
                    self.metrics.forget_partition(&p.topic, p.partition);
                }
                self.metrics
                    .assigned_partitions
                    .set(self.dispatcher.leases().len() as i64);
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(error) => {
                self.metrics.error(ErrorKind::KafkaPoll).inc();
                warn!(%error, "rebalance error");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // The group coordinator answered: a broker accepted the consumer.
            self.secure.on_connected();
            self.metrics.rebalances.inc();
            let parts = partitions(tpl);
            info!(partitions = ?parts, "partitions assigned");
            self.dispatcher.assign(&parts);
            self.metrics
                .assigned_partitions
                .set(self.dispatcher.leases().len() as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings of a configuration with only the required values given.
    pub(crate) fn settings() -> Settings {
        let env = |k: &str| match k {
            "KAFKA_BROKERS" => Some("127.0.0.1:9092".to_owned()),
            "KAFKA_TOPICS" => Some("trades".to_owned()),
            _ => None,
        };
        let config = crate::config::Config::load(["spate-consumer".into()], env).expect("config");
        Settings::with_memory_limit(config, None)
    }

    fn get<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
        props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn offsets_are_stored_by_hand_and_committed_in_the_background() {
        let props = consumer_properties(&settings());
        assert_eq!(get(&props, "enable.auto.offset.store"), Some("false"));
        assert_eq!(get(&props, "enable.auto.commit"), Some("true"));
        assert_eq!(get(&props, "auto.commit.interval.ms"), Some("1000"));
        assert_eq!(get(&props, "group.protocol"), Some("consumer"));
        assert_eq!(get(&props, "partition.assignment.strategy"), None);
    }

    #[test]
    fn prefetch_follows_the_byte_watermark() {
        let mut s = settings();
        assert_eq!(
            get(&consumer_properties(&s), "queued.max.messages.kbytes"),
            Some("16384")
        );
        assert_eq!(
            get(&consumer_properties(&s), "fetch.max.bytes"),
            Some("52428800")
        );
        s.bytes =
            crate::runtime::memory::ByteBudget::derive(Some(192 << 20), None, None, None, None, 16);
        let props = consumer_properties(&s);
        assert_eq!(get(&props, "queued.max.messages.kbytes"), Some("6144"));
        assert_eq!(get(&props, "fetch.max.bytes"), Some("12582912"));
    }

    #[test]
    fn security_properties_come_before_the_options_and_secrets_stay_out() {
        use crate::security::{Credential, KafkaSecurity, SaslMechanism, SecurityProtocol};
        let mut s = settings();
        s.config.kafka.security = KafkaSecurity {
            protocol: SecurityProtocol::SaslSsl,
            mechanism: Some(SaslMechanism::ScramSha256),
            username: Some(Credential::value("u")),
            password: Some(Credential::value("secret")),
            ..KafkaSecurity::default()
        };
        s.config.kafka.options = vec![("ssl.ca.location".into(), "/etc/ca.pem".into())];
        let props = consumer_properties(&s);
        assert_eq!(get(&props, "security.protocol"), Some("SASL_SSL"));
        assert_eq!(get(&props, "ssl.ca.location"), Some("/etc/ca.pem"));
        assert!(props.iter().all(|(_, v)| v != "secret"));
        assert_eq!(client_config(&s).get("sasl.password"), Some("secret"));
    }

    #[test]
    fn the_classic_protocol_uses_cooperative_sticky() {
        let mut s = settings();
        s.config.kafka.group_protocol = GroupProtocol::Classic;
        let props = consumer_properties(&s);
        assert_eq!(get(&props, "group.protocol"), Some("classic"));
        assert_eq!(
            get(&props, "partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
    }

    #[test]
    fn extra_options_override_defaults() {
        let mut s = settings();
        s.config.kafka.options = vec![
            ("statistics.interval.ms".into(), "1000".into()),
            ("enable.auto.offset.store".into(), "true".into()),
        ];
        let props = consumer_properties(&s);
        assert_eq!(get(&props, "statistics.interval.ms"), Some("1000"));
        assert_eq!(get(&props, "enable.auto.offset.store"), Some("false"));
        assert_eq!(
            props
                .iter()
                .filter(|(k, _)| k == "statistics.interval.ms")
                .count(),
            1
        );
    }
}
