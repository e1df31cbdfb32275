//! Test support for spate: finds or starts the local environment of real servers
//! (Kafka, QuestDB, Kubernetes, Prometheus) and talks to them.
//!
//! Every suite starts with [`TestEnv::get`], which reuses a running environment (the
//! `.spate/env` file written by `make env-up`) or brings one up once per test binary.

mod binaries;
mod env;
mod error;
mod images;
mod k8s;
mod kafka;
mod kubectl;
mod names;
pub mod node;
pub mod operator;
mod poll;
mod prometheus;
mod questdb;
mod tools;

pub use binaries::{consumer_binary, loadgen_binary};
pub use env::{TestEnv, parse_env_file, repo_root};
pub use error::Error;
pub use images::Images;
pub use k8s::{create_namespace, kube_client};
pub use kafka::{
    Listener, create_scram_user, create_topic, kafka_config, kafka_config_for, listener_security,
};
pub use kubectl::{KubectlOutput, kubectl, kubectl_apply, kubectl_ok, kubectl_with_input};
pub use names::{unique_name, unique_table};
pub use poll::eventually;
pub use prometheus::{
    PrometheusRules, PrometheusTarget, add_prometheus_target, as_grafana_sends_it,
    dashboard_queries, load_prometheus_rules, prometheus_alerts, prometheus_api, prometheus_query,
    prometheus_query_range,
};
pub use questdb::{
    questdb_count, questdb_distinct_trades, questdb_ilp_http_conf, questdb_query,
    wait_for_questdb_count,
};
pub use tools::{Tool, run_tool, run_tool_ok};
pub mod demo;
