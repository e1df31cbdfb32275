//! The consumer's configuration (its environment variables) for a pipeline.
//!
//! Plain settings go to the ConfigMap (`envFrom`); settings that embed a Secret are
//! composed in the container's `env` with `$(VAR)` references, so no secret value ever
//! lands in the ConfigMap or the Deployment.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use kube::ResourceExt;

use super::names::{CONTROL_TOKEN_KEY, METRICS_PORT, control_secret_name};
use crate::crd::{IngestionPipeline, SecretKeyRef};

/// The consumer's environment for one pipeline.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ConsumerEnv {
    /// Plain settings: the ConfigMap's data.
    pub config: BTreeMap<String, String>,
    /// Settings built from Secrets: the container's `env`, in dependency order.
    pub env: Vec<EnvVar>,
}

/// The consumer group id of a pipeline: `source.groupId` or `spate.<namespace>.<name>`.
pub fn group_id(pipeline: &IngestionPipeline) -> String {
    pipeline.spec.source.group_id.clone().unwrap_or_else(|| {
        format!(
            "spate.{}.{}",
            pipeline.namespace().unwrap_or_default(),
            pipeline.name_any()
        )
    })
}

/// The questdb client configuration without credentials, always ending in `;`.
pub fn questdb_conf(pipeline: &IngestionPipeline) -> String {
    let sink = &pipeline.spec.sink;
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

/// Builds the consumer's environment for a pipeline.
pub fn consumer_env(pipeline: &IngestionPipeline) -> ConsumerEnv {
    let spec = &pipeline.spec;
    let mut config = BTreeMap::new();
    let mut env = Vec::new();
    let mut put = |k: &str, v: String| {
        config.insert(k.to_string(), v);
    };

    put("KAFKA_BROKERS", spec.source.bootstrap_servers.clone());
    put("KAFKA_TOPICS", spec.source.topics.join(","));
    put("KAFKA_GROUP_ID", group_id(pipeline));
    if let Some(dlq) = &spec.source.dead_letter_topic {
        put("SPATE_DLQ_TOPIC", dlq.clone());
    }
    if let Some(protocol) = spec.source.group_protocol {
        put("SPATE_GROUP_PROTOCOL", protocol.as_str().into());
    }

    let mut options: Vec<String> = spec
        .source
        .client_options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match &spec.source.credentials {
        None => {
            if !options.is_empty() {
                put("SPATE_KAFKA_OPTIONS", options.join(","));
            }
        }
        Some(creds) => {
            options.push(format!(
                "security.protocol={}",
                creds.security_protocol.as_str()
            ));
            options.push(format!("sasl.mechanism={}", creds.mechanism.as_str()));
            env.push(secret_env(
                "SPATE_KAFKA_USERNAME",
                &creds.secret_ref,
                &creds.secret_ref.username_key,
            ));
            env.push(secret_env(
                "SPATE_KAFKA_PASSWORD",
                &creds.secret_ref,
                &creds.secret_ref.password_key,
            ));
            options.push("sasl.username=$(SPATE_KAFKA_USERNAME)".into());
            options.push("sasl.password=$(SPATE_KAFKA_PASSWORD)".into());
            env.push(plain_env("SPATE_KAFKA_OPTIONS", options.join(",")));
        }
    }

    let conf = questdb_conf(pipeline);
    match &spec.sink.credentials {
        None => put("QDB_CLIENT_CONF", conf),
        Some(creds) if creds.token => {
            env.push(secret_env(
                "SPATE_QDB_TOKEN",
                &creds.secret_ref,
                &creds.secret_ref.password_key,
            ));
            env.push(plain_env(
                "QDB_CLIENT_CONF",
                format!("{conf}token=$(SPATE_QDB_TOKEN);"),
            ));
        }
        Some(creds) => {
            env.push(secret_env(
                "SPATE_QDB_USERNAME",
                &creds.secret_ref,
                &creds.secret_ref.username_key,
            ));
            env.push(secret_env(
                "SPATE_QDB_PASSWORD",
                &creds.secret_ref,
                &creds.secret_ref.password_key,
            ));
            env.push(plain_env(
                "QDB_CLIENT_CONF",
                format!("{conf}username=$(SPATE_QDB_USERNAME);password=$(SPATE_QDB_PASSWORD);"),
            ));
        }
    }
    if let Some(url) = &spec.sink.http_url {
        put("QUESTDB_HTTP_URL", url.clone());
    }
    if spec.sink.allow_lossy_tcp {
        put("SPATE_ALLOW_LOSSY_TCP", "true".into());
    }
    put("SPATE_TABLE", spec.sink.table.clone());

    put("NUM_WORKERS", spec.workers.initial().to_string());
    put("SPATE_MAX_WORKERS", spec.workers.max.to_string());
    put("SPATE_INPUT_FORMAT", spec.format.as_str().into());

    let tuning = &spec.tuning;
    for (key, value) in [
        ("BATCH_SIZE", tuning.batch_initial),
        ("SPATE_BATCH_MIN", tuning.batch_min),
        ("SPATE_BATCH_MAX", tuning.batch_max),
        ("SPATE_LINGER_MS", tuning.linger_ms),
    ] {
        if let Some(v) = value {
            put(key, v.to_string());
        }
    }
    put(
        "SPATE_SHUTDOWN_GRACE_SECS",
        tuning.shutdown_grace_seconds.to_string(),
    );
    put("SPATE_LOG_FORMAT", tuning.log_format.clone());
    put("SPATE_LISTEN", format!("0.0.0.0:{METRICS_PORT}"));
    // Exported by the consumer as gauges, so the alert rules judge each pipeline by its own.
    let targets = &spec.autoscaling.targets;
    put("SPATE_TARGET_LATENCY_MS", targets.latency_ms.to_string());
    put("SPATE_TARGET_LAG_SECONDS", targets.lag_seconds.to_string());

    env.push(secret_env(
        "SPATE_CONTROL_TOKEN",
        &SecretKeyRef {
            name: control_secret_name(&pipeline.name_any()),
            username_key: String::new(),
            password_key: CONTROL_TOKEN_KEY.into(),
        },
        CONTROL_TOKEN_KEY,
    ));
    ConsumerEnv { config, env }
}

fn plain_env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    }
}

fn secret_env(name: &str, secret: &SecretKeyRef, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: key.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}
