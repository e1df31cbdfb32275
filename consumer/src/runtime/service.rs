//! Assembling the runtime (table check, consumer, dead letters, poll thread, workers)
//! and taking it down in order: stop fetching, drain, store, commit, leave the group.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use tracing::{info, warn};

use super::client_health::ClientHealth;
use super::retry::Backoff;
use crate::security::{ProblemSink, SecureContext};

use super::backpressure::Watermarks;
use super::ddl::{DdlError, ensure_table};
use super::dispatch::Dispatcher;
use super::dlq::{DeadLetterError, DeadLetters, TopicCheck, ensure_topic};
use super::health::Health;
use super::kafka::{KafkaConsumer, SpateContext, client_config};
use super::poller::{self, PollControl, commit_sync};
use super::pool::WorkerPool;
use super::settings::Settings;
use super::worker::{OffsetStore, WorkerDeps};
use crate::codec::RecordCodec;
use crate::config::{KafkaConfig, QuestdbConfig};
use crate::metrics::{ErrorKind, Metrics};

/// Starting the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("prepare table: {0}")]
    PrepareTable(#[from] DdlError),
    #[error("create Kafka consumer: {0}")]
    CreateConsumer(#[source] KafkaError),
    #[error("subscribe to {topics:?}: {source}")]
    Subscribe {
        topics: Vec<String>,
        #[source]
        source: KafkaError,
    },
    #[error("{0}")]
    DeadLetters(#[from] DeadLetterError),
    #[error("spawn poll thread: {0}")]
    SpawnPollThread(#[source] std::io::Error),
}

/// Creates and checks the table, waiting while QuestDB is unreachable or refuses the
/// credentials (unready with the reason, logged once per change); a table that does not
/// fit is an error.
async fn prepare_table(questdb: &QuestdbConfig, health: &Health) -> Result<(), RuntimeError> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    let mut last = String::new();
    loop {
        match ensure_table(
            &questdb.http_url,
            &questdb.auth,
            &questdb.table,
            questdb.table_allow_extra,
        )
        .await
        {
            Ok(()) => {
                health.set_questdb_ok();
                return Ok(());
            }
            Err(e) => match e.problem() {
                Some(problem) => {
                    let detail = e.to_string();
                    if detail != last {
                        warn!(code = problem.as_str(), %detail, "{}: {detail} (retrying)", problem.as_str());
                        last.clone_from(&detail);
                    }
                    health.set_questdb_problem(problem, detail);
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                None => return Err(e.into()),
            },
        }
    }
}

/// Makes sure the dead-letter topic exists; an answer from the broker shows that it
/// accepted the credentials.
async fn check_dead_letter_topic(kafka: KafkaConfig, sink: Arc<ClientHealth>) {
    let topic = &kafka.dead_letter_topic;
    match ensure_topic(&kafka.brokers, &kafka.security, &kafka.options, topic).await {
        TopicCheck::Existed => sink.connected(),
        TopicCheck::Created => {
            sink.connected();
            info!(%topic, "created the dead-letter topic");
        }
        TopicCheck::NotCreated(reason) => warn!(
            %topic,
            %reason,
            "could not create the dead-letter topic; dead letters wait until it exists"
        ),
    }
}

/// How the shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Every polled record was written (or dead-lettered) and stored.
    pub drained: bool,
    /// The final synchronous commit succeeded.
    pub committed: bool,
    /// The consumer left the group.
    pub closed: bool,
}

/// The running consumer.
pub struct Runtime {
    settings: Settings,
    metrics: Metrics,
    health: Arc<Health>,
    dispatcher: Arc<Dispatcher>,
    consumer: Arc<KafkaConsumer>,
    pool: WorkerPool,
    poll: Arc<PollControl>,
    poll_thread: JoinHandle<()>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Checks the table, connects to Kafka, subscribes and starts polling and working.
    pub async fn start(
        settings: Settings,
        codec: RecordCodec,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Result<Self, RuntimeError> {
        let config = &settings.config;
        prepare_table(&config.questdb, &health).await?;

        let sink = ClientHealth::new(health.clone(), metrics.clone());
        // In the background: a broker that refuses the credentials makes it wait for
        // its timeout, and dead letters wait for the topic anyway.
        tokio::spawn(check_dead_letter_topic(config.kafka.clone(), sink.clone()));
        let secure = |sink: &Arc<ClientHealth>| {
            let sink: Arc<dyn ProblemSink> = sink.clone();
            SecureContext::new(&config.kafka.security, Some(sink))
        };
        let dead_letters = Arc::new(DeadLetters::new(
            &config.kafka.brokers,
            &config.kafka.security,
            &config.kafka.options,
            &config.kafka.dead_letter_topic,
            secure(&sink),
        )?);
        let dispatcher = Arc::new(Dispatcher::new());
        let revoke_wait = config.shutdown_grace.min(Duration::from_secs(15));
        let context = SpateContext::new(
            dispatcher.clone(),
            metrics.clone(),
            secure(&sink),
            revoke_wait,
        );
        let consumer: KafkaConsumer = client_config(&settings)
            .create_with_context(context)
            .map_err(RuntimeError::CreateConsumer)?;
        let consumer = Arc::new(consumer);
        let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|source| RuntimeError::Subscribe {
                topics: config.kafka.topics.clone(),
                source,
            })?;

        let store_consumer = consumer.clone();
        let store: OffsetStore = Arc::new(move |id, offset| {
            store_consumer.store_offset(&id.topic, id.partition, offset)
        });
        let deps = WorkerDeps {
            dispatcher: dispatcher.clone(),
            codec,
            questdb: config.questdb.clone(),
            dead_letters,
            store,
            metrics: metrics.clone(),
            batch: config.batch,
            batch_max_bytes: settings.bytes.batch,
            health: health.clone(),
        };
        metrics.batch_size.set(config.batch.initial as i64);
        let pool = WorkerPool::start(deps, config.workers.initial, config.workers.max);

        let poll = Arc::new(PollControl::default());
        let watermarks = Watermarks::new(
            config.backpressure.high_watermark,
            config.backpressure.low_watermark,
            config.backpressure.queue_capacity,
            &settings.bytes,
        );
        let poll_thread = {
            let (consumer, dispatcher, metrics, poll) = (
                consumer.clone(),
                dispatcher.clone(),
                metrics.clone(),
                poll.clone(),
            );
            std::thread::Builder::new()
                .name("spate-poll".into())
                .spawn(move || poller::run(&consumer, &dispatcher, &metrics, watermarks, &poll))
                .map_err(RuntimeError::SpawnPollThread)?
        };
        health.set_started();
        info!(
            memory_limit = ?settings.memory_limit,
            high_watermark_bytes = settings.bytes.high,
            batch_max_bytes = settings.bytes.batch,
            topics = ?config.kafka.topics,
            group = %config.kafka.group_id,
            workers = config.workers.initial,
            "consumer started"
        );
        Ok(Self {
            settings,
            metrics,
            health,
            dispatcher,
            consumer,
            pool,
            poll,
            poll_thread,
        })
    }

    /// The worker pool (for the control endpoint).
    pub fn pool(&self) -> WorkerPool {
        self.pool.clone()
    }

    /// Whether the poll thread is still running.
    pub fn is_polling(&self) -> bool {
        !self.poll_thread.is_finished()
    }

    /// Stops within `grace`: pause fetching (keep polling), let the workers drain what
    /// was polled, stop them, commit the stored offsets synchronously and leave the
    /// group. Blocking.
    pub fn shutdown(self) -> ShutdownReport {
        let grace = self.settings.config.shutdown_grace;
        let started = Instant::now();
        let deadline = started + grace;
        let reserve = (grace / 4).min(Duration::from_secs(5));
        info!(grace_secs = grace.as_secs_f64(), "shutting down");
        self.health.set_stopping();
        self.poll.hold.store(true, Ordering::Release);

        let drained = self.dispatcher.wait_drained(deadline - reserve);
        if !drained {
            warn!(
                inflight = self.dispatcher.load().inflight,
                "grace period ran out before every record was written; they will be re-read"
            );
        }
        self.pool.stop();
        if !self.pool.join(deadline - reserve / 2) {
            warn!("some workers are still busy; their batches are not stored");
        }
        self.poll.stop.store(true, Ordering::Release);
        let _ = self.poll_thread.join();

        let offsets = self.dispatcher.stored_offsets();
        let committed = match commit_sync(&self.consumer, &offsets) {
            Ok(()) => {
                info!(?offsets, "final commit done");
                true
            }
            Err(error) => {
                self.metrics.error(ErrorKind::Commit).inc();
                warn!(%error, "final commit failed");
                false
            }
        };

        self.consumer.context().set_revoke_wait(Duration::ZERO);
        let closed = match self.consumer.close_queue() {
            Ok(()) => {
                let close_deadline = deadline.max(Instant::now() + Duration::from_secs(1));
                while !self.consumer.closed() && Instant::now() < close_deadline {
                    let _ = self.consumer.poll(Duration::from_millis(100));
                }
                self.consumer.closed()
            }
            Err(error) => {
                warn!(%error, "closing the consumer failed");
                false
            }
        };
        info!(
            drained,
            committed,
            closed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "shutdown complete"
        );
        ShutdownReport {
            drained,
            committed,
            closed,
        }
    }
}
