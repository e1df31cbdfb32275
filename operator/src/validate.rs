//! Pure validation of a pipeline's spec into a [`ValidPipeline`], the value the
//! builders, the sizing and the autoscaler take.
//!
//! The API server already refuses most bad specs; this catches the rest (settings that
//! only make sense together) and guards against objects stored before a schema change.
//! It is the one place each range is checked: downstream code reads the values it hands
//! on, typed once, and never re-reads or re-cleans the raw spec.

use kube::ResourceExt;

use crate::autoscale::policy::Bounds;
use crate::autoscale::schedule::{self, Window};
use crate::crd::{
    AutoscalingSpec, BatchBounds, ConsumerTuning, IngestionPipeline, IngestionPipelineSpec,
    SaslMechanism, SecurityProtocol,
};

/// Every problem of a spec, each a sentence naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid spec: {}", .0.join("; "))]
pub struct InvalidSpec(pub Vec<String>);

/// A pipeline whose spec passed [`validate`], with the values derived from it. Only
/// [`validate`] makes one, so a builder or an autoscaler loop holding one works on a
/// spec the reconciler accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidPipeline {
    pipeline: IngestionPipeline,
    workers: Bounds,
    initial_workers: u32,
    replicas: Bounds,
    desired_replicas: Option<u32>,
    group_id: String,
    questdb_conf: String,
    schedules: Vec<Window>,
}

impl ValidPipeline {
    /// The pipeline as stored (its metadata, its status, and the spec's fields that need
    /// no cleaning).
    pub fn pipeline(&self) -> &IngestionPipeline {
        &self.pipeline
    }

    /// The pipeline's spec.
    pub fn spec(&self) -> &IngestionPipelineSpec {
        &self.pipeline.spec
    }

    /// `workers.{min,max}`: `1 <= min <= max <= 256`.
    pub fn workers(&self) -> Bounds {
        self.workers
    }

    /// The workers a new pod starts with: `workers.initial`, or `workers.min`; within
    /// [`ValidPipeline::workers`].
    pub fn initial_workers(&self) -> u32 {
        self.initial_workers
    }

    /// `replicas.{min,max}`: `0 <= min <= max <= 1000`.
    pub fn replicas(&self) -> Bounds {
        self.replicas
    }

    /// `replicas.desired` (the scale subresource), within 0..=1000 but not necessarily
    /// within [`ValidPipeline::replicas`]: the sizing keeps it there.
    pub fn desired_replicas(&self) -> Option<u32> {
        self.desired_replicas
    }

    /// The consumer group: `source.groupId`, or `spate.<namespace>.<name>`.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The QuestDB client configuration without credentials, always ending in `;`.
    pub fn questdb_conf(&self) -> &str {
        &self.questdb_conf
    }

    /// `autoscaling.schedules`, parsed: cron expressions and time zones the autoscaler reads.
    pub fn schedules(&self) -> &[Window] {
        &self.schedules
    }
}

/// Checks a pipeline; a [`ValidPipeline`] when the reconciler can build its children
/// and the autoscaler can size it, else every problem at once.
pub fn validate(pipeline: &IngestionPipeline) -> Result<ValidPipeline, InvalidSpec> {
    let spec = &pipeline.spec;
    let mut problems = Vec::new();
    let name = pipeline.name_any();
    if name.len() > 52 {
        problems.push(format!(
            "metadata.name {name:?} is longer than 52 characters"
        ));
    }
    let workers = bounds(spec.workers.min, spec.workers.max, 1, 256);
    if workers.is_none() {
        problems.push(format!(
            "workers must satisfy 1 <= min <= max <= 256 (min {}, max {})",
            spec.workers.min, spec.workers.max
        ));
    }
    let initial_workers = match (workers, spec.workers.initial) {
        (Some(w), None) => Some(w.min),
        (Some(w), Some(initial)) => u32::try_from(initial)
            .ok()
            .filter(|i| (w.min..=w.max).contains(i)),
        (None, _) => None,
    };
    if workers.is_some() && initial_workers.is_none() {
        problems.push(format!(
            "workers.initial {} must lie between workers.min and workers.max",
            spec.workers.initial.unwrap_or_default()
        ));
    }
    let replicas = bounds(spec.replicas.min, spec.replicas.max, 0, 1000);
    if replicas.is_none() {
        problems.push(format!(
            "replicas must satisfy 0 <= min <= max <= 1000 (min {}, max {})",
            spec.replicas.min, spec.replicas.max
        ));
    }
    let desired_replicas = spec.replicas.desired.map(|d| {
        u32::try_from(d).ok().filter(|d| *d <= 1000).ok_or_else(|| {
            problems.push(format!("replicas.desired {d} is outside [0, 1000]"));
        })
    });
    problems.extend(tuning_problems(&spec.tuning));
    let schedules = schedule::parse_all(&spec.autoscaling.schedules)
        .map_err(|e| problems.extend(e))
        .unwrap_or_default();
    if spec.source.bootstrap_servers.trim().is_empty() {
        problems.push("source.bootstrapServers is empty".into());
    }
    if spec.source.topics.is_empty() || spec.source.topics.iter().any(|t| t.trim().is_empty()) {
        problems.push("source.topics must list at least one non-empty topic".into());
    }
    match (&spec.sink.address, &spec.sink.client_conf) {
        (Some(_), Some(_)) | (None, None) => {
            problems.push("set exactly one of sink.address and sink.clientConf".into())
        }
        _ => {}
    }
    if let Some(creds) = &spec.source.credentials {
        let plaintext = creds.security_protocol == SecurityProtocol::SaslPlaintext;
        if plaintext && creds.mechanism == SaslMechanism::Plain && !creds.allow_plaintext_password {
            problems.push("source.credentials: PLAIN over SASL_PLAINTEXT sends the password in cleartext: use securityProtocol SASL_SSL, or set credentials.allowPlaintextPassword".into());
        }
        if plaintext && spec.source.tls.is_some() {
            problems.push("source.tls is set but source.credentials.securityProtocol is SASL_PLAINTEXT: use SASL_SSL".into());
        }
        if creds.mechanism == SaslMechanism::OAuthBearer && creds.token_key.trim().is_empty() {
            problems.push("source.credentials.tokenKey is empty".into());
        }
    }
    if let Some(ca) = spec.source.tls.as_ref().and_then(|t| t.ca.as_ref())
        && ca.secret_name.is_some() == ca.config_map_name.is_some()
    {
        problems.push("source.tls.ca names exactly one of secretName and configMapName".into());
    }
    let conf = questdb_conf(spec);
    let tcp = conf.starts_with("tcp::") || conf.starts_with("tcps::");
    if tcp && !spec.sink.allow_lossy_tcp {
        problems.push("sink.clientConf uses ILP over TCP, which can lose rows: set sink.allowLossyTcp to accept that, or use http".into());
    }
    if tcp && spec.sink.http_url.is_none() {
        problems.push(
            "sink.httpUrl is required with ILP over TCP (the table DDL goes over HTTP)".into(),
        );
    }
    problems.extend(autoscaling_problems(&spec.autoscaling));
    match (
        workers,
        initial_workers,
        replicas,
        desired_replicas.transpose(),
    ) {
        (Some(workers), Some(initial_workers), Some(replicas), Ok(desired_replicas))
            if problems.is_empty() =>
        {
            Ok(ValidPipeline {
                group_id: group_id(pipeline),
                questdb_conf: conf,
                pipeline: pipeline.clone(),
                workers,
                initial_workers,
                replicas,
                desired_replicas,
                schedules,
            })
        }
        _ => Err(InvalidSpec(problems)),
    }
}

/// `min..=max` as counts, when `lo <= min <= max <= hi`.
fn bounds(min: i32, max: i32, lo: u32, hi: u32) -> Option<Bounds> {
    let (min, max) = (u32::try_from(min).ok()?, u32::try_from(max).ok()?);
    (lo <= min && min <= max && max <= hi).then_some(Bounds { min, max })
}

/// The consumer group id of a pipeline: `source.groupId` or `spate.<namespace>.<name>`.
fn group_id(pipeline: &IngestionPipeline) -> String {
    pipeline.spec.source.group_id.clone().unwrap_or_else(|| {
        format!(
            "spate.{}.{}",
            pipeline.namespace().unwrap_or_default(),
            pipeline.name_any()
        )
    })
}

/// The questdb client configuration without credentials, always ending in `;`.
fn questdb_conf(spec: &IngestionPipelineSpec) -> String {
    let sink = &spec.sink;
    let conf = match (&sink.client_conf, &sink.address) {
        (Some(conf), _) => conf.trim().to_string(),
        (None, Some(addr)) => format!("http::addr={addr};"),
        (None, None) => "http::addr=127.0.0.1:9000;".to_string(),
    };
    if conf.ends_with(';') {
        conf
    } else {
        format!("{conf};")
    }
}

/// The autoscaling settings' ranges, as in the CRD's schema: the policy reads them as
/// they are.
fn autoscaling_problems(a: &AutoscalingSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let p = &mut problems;
    outside(p, "headroom", a.headroom, 0.0, 10.0);
    outside(p, "drainTimeSeconds", a.drain_time_seconds, 1, 86_400);
    outside(
        p,
        "rebalanceSettleSeconds",
        a.rebalance_settle_seconds,
        0,
        3600,
    );
    let s = &a.stabilization;
    outside(
        p,
        "stabilization.scaleUpSeconds",
        s.scale_up_seconds,
        0,
        3600,
    );
    outside(
        p,
        "stabilization.scaleDownSeconds",
        s.scale_down_seconds,
        0,
        86_400,
    );
    let t = &a.targets;
    outside(p, "targets.lagSeconds", t.lag_seconds, 0.1, 86_400.0);
    outside(p, "targets.latencyMs", t.latency_ms, 1.0, 3_600_000.0);
    outside(p, "targets.queueDepth", t.queue_depth, 1, 100_000_000);
    outside(p, "surgeFactor", a.surge_factor, 1.0, 100.0);
    if let Some(hint) = a.per_worker_rate_hint
        && !(hint.is_finite() && hint > 0.0)
    {
        problems.push(format!(
            "autoscaling.perWorkerRateHint {hint} must be positive"
        ));
    }
    problems
}

/// Records `autoscaling.<field>` as a problem when `value` lies outside `[lo, hi]` (NaN
/// lies in no range).
fn outside<T: Copy + PartialOrd + std::fmt::Display>(
    problems: &mut Vec<String>,
    field: &str,
    value: T,
    lo: T,
    hi: T,
) {
    if !(lo..=hi).contains(&value) {
        problems.push(format!(
            "autoscaling.{field} {value} is outside [{lo}, {hi}]"
        ));
    }
}

/// The tuning's ranges (as in the CRD's schema) and the consumer's batch check: a
/// tuning the consumer would refuse is refused here, so its pods never crash-loop.
fn tuning_problems(t: &ConsumerTuning) -> Vec<String> {
    let mut problems = Vec::new();
    let mut range = |field: &str, value: Option<i32>, lo: i32, hi: i32| {
        if let Some(v) = value
            && !(lo..=hi).contains(&v)
        {
            problems.push(format!("tuning.{field} {v} is outside [{lo}, {hi}]"));
        }
    };
    range("batchInitial", t.batch_initial, 1, 10_000_000);
    range("batchMin", t.batch_min, 1, 10_000_000);
    range("batchMax", t.batch_max, 1, 10_000_000);
    range("lingerMs", t.linger_ms, 1, 60_000);
    range(
        "shutdownGraceSeconds",
        Some(t.shutdown_grace_seconds),
        1,
        3600,
    );
    let b = t.batch_bounds();
    if !b.ordered() {
        problems.push(format!(
            "{} (here batchMin {}, batchInitial {}, batchMax {})",
            BatchBounds::order_message(),
            b.min,
            b.initial,
            b.max
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::tests::example;

    #[test]
    fn the_example_pipeline_is_valid() {
        let valid = validate(&example()).expect("valid");
        assert_eq!(valid.workers(), Bounds { min: 1, max: 8 });
        assert_eq!(valid.initial_workers(), 2);
        assert_eq!(valid.replicas(), Bounds { min: 1, max: 6 });
        assert_eq!(valid.group_id(), "spate-coinbase");
        assert_eq!(valid.questdb_conf(), "http::addr=questdb.questdb.svc:9000;");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut p = example();
        p.spec.workers.min = 9;
        p.spec.workers.max = 3;
        p.spec.source.topics.clear();
        p.spec.sink.client_conf = Some("tcp::addr=q:9009;".into());
        p.spec.sink.address = None;
        let err = validate(&p).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
        assert!(err.to_string().contains("workers must satisfy"));
        assert!(err.to_string().contains("allowLossyTcp"));
    }

    #[test]
    fn a_schedule_the_autoscaler_cannot_read_is_refused() {
        let mut p = example();
        p.spec.autoscaling.schedules = vec![crate::crd::CapacitySchedule {
            name: "open".into(),
            cron: "30 9 * * 1-5".into(),
            time_zone: "America/New_York".into(),
            duration_seconds: 1800,
            lead_seconds: 120,
            min_replicas: Some(3),
            min_workers: None,
            surge_factor: None,
        }];
        let valid = validate(&p).expect("a readable schedule");
        assert_eq!(valid.schedules().len(), 1);
        assert_eq!(valid.schedules()[0].name(), "open");
        p.spec.autoscaling.schedules[0].time_zone = "EST5EDT6".into();
        let err = validate(&p).unwrap_err();
        assert!(err.to_string().contains("timeZone"), "{err}");
    }

    #[test]
    fn tcp_is_accepted_when_explicitly_allowed_with_an_http_url() {
        let mut p = example();
        p.spec.sink.address = None;
        p.spec.sink.client_conf = Some("tcp::addr=q:9009;".into());
        p.spec.sink.allow_lossy_tcp = true;
        p.spec.sink.http_url = Some("http://q:9000".into());
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn plain_over_plaintext_is_refused_unless_allowed() {
        let mut p = example();
        p.spec.source.credentials = Some(
            serde_json::from_value(serde_json::json!({
                "secretRef": {"name": "k"}, "mechanism": "PLAIN", "securityProtocol": "SASL_PLAINTEXT"
            }))
            .expect("credentials"),
        );
        let err = validate(&p).expect_err("refused");
        assert!(err.0[0].contains("cleartext"), "{err}");
        if let Some(c) = p.spec.source.credentials.as_mut() {
            c.allow_plaintext_password = true;
        }
        assert!(validate(&p).is_ok());
    }

    /// The refusals of `p`, which must be refused.
    fn refusals(p: &IngestionPipeline) -> Vec<String> {
        validate(p).expect_err("refused").0
    }

    #[test]
    fn initial_workers_outside_the_bounds_are_refused() {
        let mut p = example();
        p.spec.workers.initial = Some(9);
        assert_eq!(
            refusals(&p),
            ["workers.initial 9 must lie between workers.min and workers.max"]
        );
        p.spec.workers.initial = Some(0);
        assert_eq!(refusals(&p).len(), 1);
        p.spec.workers.initial = Some(8);
        assert_eq!(validate(&p).map(|v| v.initial_workers()), Ok(8));
        p.spec.workers.initial = None;
        assert_eq!(validate(&p).map(|v| v.initial_workers()), Ok(1));
    }

    #[test]
    fn negative_or_inverted_bounds_are_refused() {
        let mut p = example();
        p.spec.workers.min = 0;
        p.spec.workers.max = -3;
        p.spec.workers.initial = None;
        p.spec.replicas.min = -1;
        p.spec.replicas.max = -1;
        let problems = refusals(&p);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("workers must satisfy"));
        assert!(problems[1].starts_with("replicas must satisfy"));
    }

    #[test]
    fn a_desired_replica_count_outside_the_crds_range_is_refused() {
        let mut p = example();
        p.spec.replicas.desired = Some(-1);
        assert_eq!(refusals(&p), ["replicas.desired -1 is outside [0, 1000]"]);
        p.spec.replicas.desired = Some(1001);
        assert_eq!(refusals(&p).len(), 1);
        // Above replicas.max but within the CRD's range: the sizing keeps it within bounds.
        p.spec.replicas.desired = Some(99);
        assert_eq!(validate(&p).map(|v| v.desired_replicas()), Ok(Some(99)));
    }

    #[test]
    fn a_drain_time_below_one_second_is_refused() {
        let mut p = example();
        p.spec.autoscaling.drain_time_seconds = 0;
        assert_eq!(
            refusals(&p),
            ["autoscaling.drainTimeSeconds 0 is outside [1, 86400]"]
        );
        p.spec.autoscaling.drain_time_seconds = -5;
        assert_eq!(refusals(&p).len(), 1);
    }

    #[test]
    fn negative_dwell_and_settle_times_are_refused() {
        let mut p = example();
        p.spec.autoscaling.stabilization.scale_up_seconds = -1;
        p.spec.autoscaling.stabilization.scale_down_seconds = -1;
        p.spec.autoscaling.rebalance_settle_seconds = -1;
        assert_eq!(
            refusals(&p),
            [
                "autoscaling.rebalanceSettleSeconds -1 is outside [0, 3600]",
                "autoscaling.stabilization.scaleUpSeconds -1 is outside [0, 3600]",
                "autoscaling.stabilization.scaleDownSeconds -1 is outside [0, 86400]",
            ]
        );
    }

    #[test]
    fn targets_outside_the_crds_ranges_are_refused() {
        let mut p = example();
        p.spec.autoscaling.targets.lag_seconds = 0.0;
        p.spec.autoscaling.targets.latency_ms = f64::NAN;
        p.spec.autoscaling.targets.queue_depth = -1;
        assert_eq!(
            refusals(&p),
            [
                "autoscaling.targets.lagSeconds 0 is outside [0.1, 86400]",
                "autoscaling.targets.latencyMs NaN is outside [1, 3600000]",
                "autoscaling.targets.queueDepth -1 is outside [1, 100000000]",
            ]
        );
    }

    #[test]
    fn a_headroom_that_is_not_a_number_is_refused() {
        let mut p = example();
        p.spec.autoscaling.headroom = f64::NAN;
        assert_eq!(
            refusals(&p),
            ["autoscaling.headroom NaN is outside [0, 10]"]
        );
    }

    #[test]
    fn a_rate_hint_that_is_not_positive_is_refused() {
        let mut p = example();
        for hint in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            p.spec.autoscaling.per_worker_rate_hint = Some(hint);
            assert_eq!(
                refusals(&p),
                [format!(
                    "autoscaling.perWorkerRateHint {hint} must be positive"
                )]
            );
        }
        p.spec.autoscaling.per_worker_rate_hint = Some(4000.0);
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn a_surge_factor_below_one_or_not_a_number_is_refused() {
        let mut p = example();
        for factor in [0.5, f64::NAN, 101.0] {
            p.spec.autoscaling.surge_factor = factor;
            assert_eq!(refusals(&p).len(), 1, "surgeFactor {factor}");
        }
        p.spec.autoscaling.surge_factor = 100.0;
        assert!(validate(&p).is_ok());
    }
}
