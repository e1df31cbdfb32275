//! Unit tests of the builders, on the example pipeline of manifests/examples.

use k8s_openapi::api::core::v1::Container;
use kube::api::ObjectMeta;

use super::*;
use crate::crd::{
    AutoscalerStatus, IngestionPipeline, IngestionPipelineStatus, KafkaCredentials,
    QuestdbCredentials, SecretKeyRef,
};
use crate::validate::{ValidPipeline, validate};

/// The example pipeline, as a user would apply it, with a namespace and uid set.
pub(crate) fn example() -> IngestionPipeline {
    let mut p: IngestionPipeline =
        serde_yaml::from_str(include_str!("../../../manifests/examples/pipeline.yaml"))
            .expect("example parses");
    p.metadata = ObjectMeta {
        namespace: Some("markets".into()),
        uid: Some("0c1d-uid".into()),
        generation: Some(1),
        ..p.metadata
    };
    p
}

/// `p` through validation, which it must pass.
pub(crate) fn valid(p: &IngestionPipeline) -> ValidPipeline {
    validate(p).expect("a valid pipeline")
}

fn container(d: &Desired) -> &Container {
    &d.deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

fn config_hash_of(d: &Desired) -> String {
    d.deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()[names::CONFIG_HASH_ANNOTATION]
        .clone()
}

#[test]
fn every_child_is_owned_by_the_pipeline_as_controller() {
    let d = desired(&valid(&example()), "spate-consumer:test", None);
    for meta in [
        &d.config_map.metadata,
        &d.service.metadata,
        &d.service_account.metadata,
        &d.pod_disruption_budget.metadata,
        &d.deployment.metadata,
    ] {
        assert_eq!(meta.name.as_deref(), Some("coinbase-trades"));
        assert_eq!(meta.namespace.as_deref(), Some("markets"));
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("IngestionPipeline", "0c1d-uid", Some(true))
        );
    }
}

#[test]
fn the_config_map_carries_the_consumer_contract() {
    let d = desired(&valid(&example()), "img", None);
    let data = d.config_map.data.unwrap();
    assert_eq!(data["KAFKA_BROKERS"], "kafka.kafka.svc:9092");
    assert_eq!(data["KAFKA_TOPICS"], "trades.coinbase");
    assert_eq!(data["KAFKA_GROUP_ID"], "spate-coinbase");
    assert_eq!(data["SPATE_KAFKA_OPTIONS"], "fetch.max.bytes=52428800");
    assert_eq!(
        data["QDB_CLIENT_CONF"],
        "http::addr=questdb.questdb.svc:9000;"
    );
    assert_eq!(data["SPATE_TABLE"], "trades");
    assert_eq!(data["SPATE_INPUT_FORMAT"], "coinbase-market-trades");
    assert_eq!(
        (
            data["NUM_WORKERS"].as_str(),
            data["SPATE_MAX_WORKERS"].as_str()
        ),
        ("2", "8")
    );
    assert_eq!(data["SPATE_LISTEN"], "0.0.0.0:9464");
    assert_eq!(
        (
            data["SPATE_TARGET_LATENCY_MS"].as_str(),
            data["SPATE_TARGET_LAG_SECONDS"].as_str()
        ),
        ("2000", "10")
    );
    assert!(!data.contains_key("SPATE_CONTROL_TOKEN"));
}

#[test]
fn the_group_id_defaults_to_namespace_and_name() {
    let mut p = example();
    p.spec.source.group_id = None;
    assert_eq!(valid(&p).group_id(), "spate.markets.coinbase-trades");
}

#[test]
fn secrets_reach_the_pod_only_as_files_the_kubelet_mounts() {
    let mut p = example();
    let secret = SecretKeyRef {
        name: "kafka-creds".into(),
        username_key: "user".into(),
        password_key: "pass".into(),
    };
    p.spec.source.credentials = Some(KafkaCredentials {
        secret_ref: secret.clone(),
        mechanism: Default::default(),
        security_protocol: Default::default(),
        token_key: "token".into(),
        allow_plaintext_password: false,
    });
    p.spec.source.tls = Some(
        serde_json::from_value(serde_json::json!({
            "ca": {"configMapName": "kafka-ca"},
            "clientCertificate": {"secretName": "kafka-client"}
        }))
        .expect("tls"),
    );
    p.spec.sink.credentials = Some(QuestdbCredentials {
        secret_ref: SecretKeyRef {
            name: "qdb".into(),
            ..secret
        },
        token: false,
    });
    let d = desired(&valid(&p), "img", None);
    let data = d.config_map.data.clone().unwrap();
    assert_eq!(data["SPATE_KAFKA_SECURITY_PROTOCOL"], "SASL_SSL");
    assert_eq!(data["SPATE_KAFKA_SASL_MECHANISM"], "SCRAM-SHA-512");
    assert_eq!(
        data["SPATE_KAFKA_SASL_PASSWORD_FILE"],
        "/var/run/secrets/spate/kafka/password"
    );
    assert_eq!(
        data["SPATE_KAFKA_SSL_CA_FILE"],
        "/var/run/secrets/spate/kafka-tls/ca.crt"
    );
    assert_eq!(data["SPATE_KAFKA_SSL_VERIFY_HOSTNAME"], "true");
    assert_eq!(
        data["SPATE_QDB_PASSWORD_FILE"],
        "/var/run/secrets/spate/questdb/password"
    );
    // No option string carries a secret; nothing reads a Secret through the environment.
    assert_eq!(data["SPATE_KAFKA_OPTIONS"], "fetch.max.bytes=52428800");
    assert_eq!(
        data["QDB_CLIENT_CONF"],
        "http::addr=questdb.questdb.svc:9000;"
    );
    assert!(container(&d).env.is_none());

    // One projected volume: each referenced key at its path, readable by the group only.
    let pod = d
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let volume = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "credentials")
        .expect("the credentials volume");
    let projected = volume.projected.as_ref().unwrap();
    assert_eq!(projected.default_mode, Some(0o440));
    let mut items: Vec<(String, String, String)> = Vec::new();
    for source in projected.sources.as_ref().unwrap() {
        if let Some(s) = &source.secret {
            for i in s.items.as_ref().unwrap() {
                items.push((format!("Secret/{}", s.name), i.key.clone(), i.path.clone()));
            }
            assert_eq!(s.optional, Some(false));
        }
        if let Some(c) = &source.config_map {
            for i in c.items.as_ref().unwrap() {
                items.push((
                    format!("ConfigMap/{}", c.name),
                    i.key.clone(),
                    i.path.clone(),
                ));
            }
        }
    }
    items.sort();
    let want = [
        ("ConfigMap/kafka-ca", "ca.crt", "kafka-tls/ca.crt"),
        ("Secret/kafka-client", "tls.crt", "kafka-tls/tls.crt"),
        ("Secret/kafka-client", "tls.key", "kafka-tls/tls.key"),
        ("Secret/kafka-creds", "pass", "kafka/password"),
        ("Secret/kafka-creds", "user", "kafka/username"),
        ("Secret/qdb", "pass", "questdb/password"),
        ("Secret/qdb", "user", "questdb/username"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(items, want);
    let mount = container(&d)
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.name == "credentials")
        .expect("mounted");
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        ("/var/run/secrets/spate", Some(true))
    );
}

#[test]
fn the_control_endpoint_trusts_the_operators_service_account_tokens() {
    let trust = ControlTrust {
        issuer: "https://kubernetes.default.svc.cluster.local".into(),
        jwks: r#"{"keys":[]}"#.into(),
        subject: "system:serviceaccount:spate-system:spate-operator".into(),
    };
    let data = desired(&valid(&example()), "img", Some(&trust))
        .config_map
        .data
        .unwrap();
    assert_eq!(data["SPATE_CONTROL_AUDIENCE"], "spate.dev/control");
    assert_eq!(data["SPATE_CONTROL_SUBJECTS"], trust.subject);
    assert_eq!(data["SPATE_CONTROL_ISSUER"], trust.issuer);
    let closed = desired(&valid(&example()), "img", None)
        .config_map
        .data
        .unwrap();
    assert!(!closed.contains_key("SPATE_CONTROL_JWKS"));
}

#[test]
fn the_security_protocol_follows_credentials_and_tls() {
    let mut p = example();
    assert_eq!(security_protocol(&p), "PLAINTEXT");
    p.spec.source.tls = Some(serde_json::from_value(serde_json::json!({})).expect("tls"));
    assert_eq!(security_protocol(&p), "SSL");
    p.spec.source.credentials = Some(
        serde_json::from_value(serde_json::json!({
            "secretRef": {"name": "k"}, "securityProtocol": "SASL_PLAINTEXT"
        }))
        .expect("credentials"),
    );
    assert_eq!(security_protocol(&p), "SASL_PLAINTEXT");
}

#[test]
fn consumer_pods_are_hardened_and_probed() {
    let d = desired(&valid(&example()), "img", None);
    let pod = d
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let c = container(&d);
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop,
        Some(vec!["ALL".to_string()])
    );
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert_eq!(
        c.liveness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/healthz")
    );
    assert_eq!(
        c.readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/readyz")
    );
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 9464);
    assert_eq!(
        pod.termination_grace_period_seconds,
        Some(25 + TERMINATION_MARGIN_SECONDS)
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(
        d.service_account.automount_service_account_token,
        Some(false)
    );
    assert_eq!(c.image.as_deref(), Some("img"));
}

#[test]
fn a_spec_change_rolls_the_pods_and_a_status_change_does_not() {
    let base = desired(&valid(&example()), "img", None);
    let mut p = example();
    p.status = Some(IngestionPipelineStatus {
        autoscaler: Some(AutoscalerStatus {
            desired_replicas: Some(4),
            desired_workers: Some(6),
            ..Default::default()
        }),
        lag: Some(1234),
        ..Default::default()
    });
    let scaled = desired(&valid(&p), "img", None);
    assert_eq!(config_hash_of(&base), config_hash_of(&scaled));
    assert_eq!(
        scaled.deployment.spec.as_ref().unwrap().template,
        base.deployment.spec.as_ref().unwrap().template
    );
    assert_eq!(
        scaled.sizing,
        Sizing {
            replicas: 4,
            workers: 6
        }
    );

    p.spec.format = crate::crd::InputFormat::CoinbaseMatch;
    assert_ne!(
        config_hash_of(&base),
        config_hash_of(&desired(&valid(&p), "img", None))
    );
}

#[test]
fn sizing_follows_the_autoscaler_within_bounds_or_the_scale_subresource() {
    let mut p = example();
    let wish = |r, w| IngestionPipelineStatus {
        autoscaler: Some(AutoscalerStatus {
            desired_replicas: r,
            desired_workers: w,
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        sizing(&valid(&p)),
        Sizing {
            replicas: 1,
            workers: 2
        }
    );
    p.status = Some(wish(Some(50), Some(0)));
    assert_eq!(
        sizing(&valid(&p)),
        Sizing {
            replicas: 6,
            workers: 1
        }
    );
    p.spec.autoscaling.enabled = false;
    p.spec.replicas.desired = Some(3);
    p.status = Some(wish(Some(5), Some(7)));
    assert_eq!(
        sizing(&valid(&p)),
        Sizing {
            replicas: 3,
            workers: 2
        }
    );
    p.spec.replicas.desired = Some(99);
    p.status = None;
    assert_eq!(sizing(&valid(&p)).replicas, 6);
    p.spec.paused = true;
    assert_eq!(sizing(&valid(&p)).replicas, 0);
}
