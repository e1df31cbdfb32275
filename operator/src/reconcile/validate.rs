//! Pure validation of a pipeline's spec, beyond what the CRD's schema and CEL rules refuse.
//!
//! The API server already refuses most bad specs; this catches the rest (settings that
//! only make sense together) and guards against objects stored before a schema change.

use kube::ResourceExt;

use crate::build::questdb_conf;
use crate::crd::{BatchBounds, ConsumerTuning, IngestionPipeline, SaslMechanism, SecurityProtocol};

/// Every problem of a spec, each a sentence naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid spec: {}", .0.join("; "))]
pub struct InvalidSpec(pub Vec<String>);

/// Checks a pipeline; `Ok` when the reconciler can build its children.
pub fn validate(pipeline: &IngestionPipeline) -> Result<(), InvalidSpec> {
    let spec = &pipeline.spec;
    let mut problems = Vec::new();
    let name = pipeline.name_any();
    if name.len() > 52 {
        problems.push(format!(
            "metadata.name {name:?} is longer than 52 characters"
        ));
    }
    if spec.workers.min < 1 || spec.workers.max > 256 || spec.workers.min > spec.workers.max {
        problems.push(format!(
            "workers must satisfy 1 <= min <= max <= 256 (min {}, max {})",
            spec.workers.min, spec.workers.max
        ));
    }
    if spec.replicas.min < 0 || spec.replicas.max > 1000 || spec.replicas.min > spec.replicas.max {
        problems.push(format!(
            "replicas must satisfy 0 <= min <= max <= 1000 (min {}, max {})",
            spec.replicas.min, spec.replicas.max
        ));
    }
    problems.extend(tuning_problems(&spec.tuning));
    if let Err(e) = crate::autoscale::schedule::parse_all(&spec.autoscaling.schedules) {
        problems.extend(e);
    }
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
    let conf = questdb_conf(pipeline);
    let tcp = conf.starts_with("tcp::") || conf.starts_with("tcps::");
    if tcp && !spec.sink.allow_lossy_tcp {
        problems.push("sink.clientConf uses ILP over TCP, which can lose rows: set sink.allowLossyTcp to accept that, or use http".into());
    }
    if tcp && spec.sink.http_url.is_none() {
        problems.push(
            "sink.httpUrl is required with ILP over TCP (the table DDL goes over HTTP)".into(),
        );
    }
    if !(0.0..=10.0).contains(&spec.autoscaling.headroom) {
        problems.push(format!(
            "autoscaling.headroom {} is outside [0, 10]",
            spec.autoscaling.headroom
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InvalidSpec(problems))
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
        assert_eq!(validate(&example()), Ok(()));
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
        assert_eq!(validate(&p), Ok(()));
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
        assert_eq!(validate(&p), Ok(()));
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
}
