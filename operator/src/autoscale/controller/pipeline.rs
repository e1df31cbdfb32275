//! One pipeline's loop: every round, read the lag from Kafka, the pods and their metrics,
//! decide, and apply.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::apply::{ScaleStatus, direction, publish_event, set_workers, write_status};
use super::lag_source::{Material, reader_options};
use super::memory;
use super::pods::{ReadyPod, names, ready_pods};
use super::tracker::{Readings, Tracker};
use super::{Error, Shared};
use crate::autoscale::policy::{Direction, PolicyState, Reason, decide};
use crate::autoscale::schedule;
use crate::autoscale::signals::{
    ConsumerSignals, GroupLag, GroupLagReader, PodScraper, SignalError,
};
use crate::autoscale::spec::policy_config;
use crate::build::names::selector_string;
use crate::build::sizing;
use crate::crd::IngestionPipeline;
use crate::validate::ValidPipeline;

/// The lag is written to the status at most this often when nothing else changes.
const LAG_STATUS_EVERY: Duration = Duration::from_secs(5);

/// Runs the loop of one pipeline until aborted; `pipeline` follows the latest object the
/// validation accepts.
pub async fn run(shared: Arc<Shared>, key: String, pipeline: watch::Receiver<Arc<ValidPipeline>>) {
    let mut round = Round::new(&shared, key.clone());
    let mut tick = tokio::time::interval(shared.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The policy's clock: the Unix time at start, advanced by a monotonic clock, so times
    // in the memory a previous leader left mean the same here.
    let (start, clock) = (memory::unix_now(), Instant::now());
    let mut leading = false;
    loop {
        tick.tick().await;
        if !shared.ctx.is_leader() {
            leading = false;
            continue;
        }
        let p = pipeline.borrow().clone();
        if !leading {
            // Leadership (re)gained: go on from what the last leader remembered.
            round.recall(&p);
            leading = true;
        }
        if let Err(error) = round.run(&shared, &p, start + clock.elapsed()).await {
            warn!(pipeline = %key, %error, "autoscaler round failed");
        }
    }
}

/// Where the group's lag is read: brokers, group, client properties and topics.
#[derive(Clone, Debug, PartialEq)]
struct KafkaSource {
    brokers: String,
    group: String,
    options: Vec<(String, String)>,
    topics: Vec<String>,
}

/// What a pipeline's loop carries from one round to the next.
struct Round {
    key: String,
    tracker: Tracker,
    policy: PolicyState,
    /// Pods and workers per pod last asked for.
    asked: (u32, u32),
    status: ScaleStatus,
    status_written: Option<Instant>,
    reader: Option<(KafkaSource, GroupLagReader)>,
    scraper: PodScraper,
    token: Option<(Instant, String)>,
    last_reason: Option<Reason>,
}

impl Round {
    /// A loop with nothing recalled yet: [`Round::recall`] takes up the pipeline's status
    /// before the first round it leads.
    fn new(shared: &Shared, key: String) -> Self {
        let interval = shared.config.interval;
        Self {
            key,
            tracker: Tracker::for_rounds(interval, shared.config.timeout),
            policy: PolicyState::default(),
            asked: (0, 0),
            status: ScaleStatus::default(),
            status_written: None,
            reader: None,
            scraper: PodScraper::new(shared.http.clone()),
            token: None,
            last_reason: None,
        }
    }

    /// Takes up the memory and the last decision found on the pipeline's status.
    fn recall(&mut self, valid: &ValidPipeline) {
        self.status = ScaleStatus::of(valid.pipeline());
        let size = sizing(valid);
        self.asked = (size.replicas, size.workers);
        self.policy = self
            .status
            .memory
            .as_ref()
            .map(memory::recall)
            .unwrap_or_default();
        if let Some(m) = &self.status.memory {
            info!(
                pipeline = %self.key,
                writer = m.writer.as_deref().unwrap_or("?"),
                calm_base = ?self.policy.last_calm_base(),
                dwell_doublings = self.policy.dwell_doublings,
                "recalled the autoscaler's memory"
            );
        }
    }

    async fn run(
        &mut self,
        shared: &Shared,
        valid: &ValidPipeline,
        now: Duration,
    ) -> Result<(), Error> {
        let cfg = policy_config(valid);
        let p = valid.pipeline();
        let (name, ns) = (p.name_any(), p.namespace().unwrap_or_default());
        let client = shared.ctx.client.clone();

        let lag = self.read_lag(shared, valid).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let listed = pods
            .list(&ListParams::default().labels(&selector_string(&name)))
            .await
            .map_err(|source| Error::ListPods {
                pipeline: self.key.clone(),
                source,
            })?;
        let ready = ready_pods(&listed.items);
        let consumers = self.read_consumers(shared, &ns, &name, &ready, now).await;

        let ready_names: BTreeSet<String> = names(&ready);
        let mut obs = self.tracker.observe(&Readings::of_round(
            now,
            lag.as_ref(),
            consumers.as_ref(),
            &ready_names,
            self.asked,
            &cfg,
        ));
        obs.scheduled = schedule::held_at(valid.schedules(), memory::wall_clock(now));
        let decision = decide(&cfg, &self.policy, &obs, now);
        if self.last_reason != Some(decision.reason) {
            info!(pipeline = %self.key, reason = %decision.reason, message = %decision.message, "autoscaler decision");
            self.last_reason = Some(decision.reason);
        } else {
            debug!(pipeline = %self.key, reason = %decision.reason, message = %decision.message, "autoscaler decision");
        }

        self.status.observed(
            obs.backlog,
            obs.arrival_rate,
            self.tracker.done_rate(),
            decision.reason,
        );
        self.status.memory = Some(memory::remember(&decision.state, &shared.config.identity));
        let api: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
        let (replicas, workers) = self.asked;
        if decision.changes(replicas, workers) {
            let dir = direction(&decision, replicas, workers);
            let mut status = self.status.clone();
            status.scaled(&decision, Timestamp::now());
            write_status(&api, &name, &status).await?;
            self.status = status;
            self.status_written = Some(Instant::now());
            self.asked = (decision.replicas, decision.workers);
            info!(
                pipeline = %self.key, reason = %decision.reason, from_replicas = replicas, from_workers = workers,
                replicas = decision.replicas, workers = decision.workers, message = %decision.message, "scaling"
            );
            let label = match dir {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            shared
                .metrics
                .decisions
                .with_label_values(&[&self.key, label, decision.reason.as_str()])
                .inc();
            publish_event(&shared.ctx.recorder, p, &decision, dir).await;
        } else if self
            .status_written
            .is_none_or(|at| at.elapsed() >= LAG_STATUS_EVERY)
            && self.status != ScaleStatus::of(p)
        {
            write_status(&api, &name, &self.status).await?;
            self.status_written = Some(Instant::now());
        }
        self.policy = decision.state;

        let m = &shared.metrics;
        m.desired_replicas
            .with_label_values(&[&self.key])
            .set(i64::from(self.asked.0));
        m.desired_workers
            .with_label_values(&[&self.key])
            .set(i64::from(self.asked.1));
        if let Some(lag) = self.status.lag {
            m.observed_lag.with_label_values(&[&self.key]).set(lag);
        }
        if let Some(l) = obs.arrival_rate {
            m.rates.with_label_values(&[&self.key, "arrival"]).set(l);
        }
        if let Some(mu) = obs.service_rate {
            m.rates.with_label_values(&[&self.key, "service"]).set(mu);
        }
        if let Some(seconds) = self.status.lag_seconds {
            m.lag_seconds.with_label_values(&[&self.key]).set(seconds);
        }
        m.target_lag_seconds
            .with_label_values(&[&self.key])
            .set(p.spec.autoscaling.targets.lag_seconds);
        m.at_maximum
            .with_label_values(&[&self.key])
            .set(i64::from(decision.reason == Reason::AtMaximum));

        if !ready.is_empty() {
            let token = self.token(shared).await?;
            if let Err(error) = set_workers(
                &shared.http,
                &ready,
                shared.config.consumer_port,
                &token,
                self.asked.1,
            )
            .await
            {
                self.token = None;
                return Err(error);
            }
        }
        Ok(())
    }

    /// The group's lag, or None (logged) when Kafka could not be read this round.
    async fn read_lag(&mut self, shared: &Shared, valid: &ValidPipeline) -> Option<GroupLag> {
        let source = match self.kafka_source(shared, valid).await {
            Ok(source) => source,
            Err(error) => {
                warn!(pipeline = %self.key, %error, "cannot read the consumer group's lag");
                return None;
            }
        };
        let reader = self.reader.take().filter(|(s, _)| *s == source);
        let timeout = shared.config.timeout;
        let joined = tokio::task::spawn_blocking(move || {
            let (source, reader) = match reader {
                Some(r) => r,
                None => match GroupLagReader::new(
                    &source.brokers,
                    &source.group,
                    &source.options,
                    timeout,
                ) {
                    Ok(r) => (source, r),
                    Err(e) => return (None, Err(e)),
                },
            };
            let lag = reader.read(&source.topics);
            (Some((source, reader)), lag)
        })
        .await;
        match joined {
            Ok((reader, lag)) => {
                self.reader = reader;
                lag.inspect_err(|error| warn!(pipeline = %self.key, %error, "reading the consumer group's lag failed")).ok()
            }
            Err(error) => {
                warn!(pipeline = %self.key, %error, "the lag reader panicked");
                None
            }
        }
    }

    async fn kafka_source(
        &self,
        shared: &Shared,
        valid: &ValidPipeline,
    ) -> Result<KafkaSource, Error> {
        let p = valid.pipeline();
        let src = &p.spec.source;
        Ok(KafkaSource {
            brokers: src.bootstrap_servers.clone(),
            group: valid.group_id().into(),
            options: reader_options(p, &material(shared, p).await?),
            topics: src.topics.clone(),
        })
    }

    /// The consumers' signals, from Prometheus or by scraping the ready pods; None when unreadable.
    async fn read_consumers(
        &mut self,
        shared: &Shared,
        ns: &str,
        name: &str,
        ready: &[ReadyPod],
        now: Duration,
    ) -> Option<ConsumerSignals> {
        match &shared.prometheus {
            Some(prom) => {
                let selector = format!("namespace=\"{ns}\",pipeline=\"{name}\"");
                let result: Result<ConsumerSignals, SignalError> =
                    prom.consumer_signals(&selector, ready.len()).await;
                result.inspect_err(|error| warn!(pipeline = %self.key, %error, "reading consumer metrics from Prometheus failed")).ok()
            }
            None => {
                let targets: Vec<(String, String)> = ready
                    .iter()
                    .map(|p| {
                        (
                            p.name.clone(),
                            format!("{}/metrics", p.url(shared.config.consumer_port)),
                        )
                    })
                    .collect();
                Some(self.scraper.scrape(now, &targets).await)
            }
        }
    }

    /// The operator's control token: its projected ServiceAccount token for the control
    /// audience, which the kubelet renews in place; re-read once a minute.
    async fn token(&mut self, shared: &Shared) -> Result<String, Error> {
        if let Some((at, token)) = &self.token
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(token.clone());
        }
        let path =
            shared
                .config
                .control_token_file
                .clone()
                .ok_or_else(|| Error::ReadControlToken {
                    path: "(none)".into(),
                    message: "no control token file is configured (SPATE_CONTROL_TOKEN_FILE)"
                        .into(),
                })?;
        let token = std::fs::read_to_string(&path)
            .map_err(|e| Error::ReadControlToken {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
            .trim()
            .to_string();
        self.token = Some((Instant::now(), token.clone()));
        Ok(token)
    }
}

/// What the lag reader may use: a CA bundle from a ConfigMap always; Secrets (the CA,
/// the client certificate, SASL credentials) only with `shareCredentialsWithOperator`.
async fn material(shared: &Shared, p: &IngestionPipeline) -> Result<Material, Error> {
    let ns = p.namespace().unwrap_or_default();
    let src = &p.spec.source;
    let share = src.share_credentials_with_operator;
    let mut material = Material::default();
    if let Some(ca) = src.tls.as_ref().and_then(|t| t.ca.as_ref()) {
        material.ca_pem = match (&ca.config_map_name, &ca.secret_name) {
            (Some(cm), _) => Some(read_config_map_key(shared, &ns, cm, &ca.key).await?),
            (None, Some(secret)) if share => {
                Some(read_secret_key(shared, &ns, secret, &ca.key).await?)
            }
            _ => None,
        };
    }
    if !share {
        return Ok(material);
    }
    if let Some(client) = src.tls.as_ref().and_then(|t| t.client_certificate.as_ref()) {
        material.client_pem = Some((
            read_secret_key(shared, &ns, &client.secret_name, &client.certificate_key).await?,
            read_secret_key(shared, &ns, &client.secret_name, &client.key_key).await?,
        ));
    }
    if let Some(creds) = &src.credentials
        && creds.mechanism != crate::crd::SaslMechanism::OAuthBearer
    {
        let secret = &creds.secret_ref;
        material.sasl = Some((
            read_secret_key(shared, &ns, &secret.name, &secret.username_key).await?,
            read_secret_key(shared, &ns, &secret.name, &secret.password_key).await?,
        ));
    }
    Ok(material)
}

async fn read_config_map_key(
    shared: &Shared,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<String, Error> {
    let cm = Api::<ConfigMap>::namespaced(shared.ctx.client.clone(), ns)
        .get(name)
        .await
        .map_err(|e| Error::ReadKafkaMaterial {
            object: format!("ConfigMap {ns}/{name}"),
            message: e.to_string(),
        })?;
    cm.data
        .and_then(|d| d.get(key).cloned())
        .ok_or_else(|| Error::ReadKafkaMaterial {
            object: format!("ConfigMap {ns}/{name}"),
            message: format!("no key {key:?}"),
        })
}

async fn read_secret_key(
    shared: &Shared,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<String, Error> {
    let secret = Api::<Secret>::namespaced(shared.ctx.client.clone(), ns)
        .get(name)
        .await
        .map_err(|e| Error::ReadKafkaMaterial {
            object: format!("Secret {ns}/{name}"),
            message: e.to_string(),
        })?;
    secret
        .data
        .and_then(|d| {
            d.get(key)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        })
        .ok_or_else(|| Error::ReadKafkaMaterial {
            object: format!("Secret {ns}/{name}"),
            message: format!("no key {key:?}"),
        })
}
