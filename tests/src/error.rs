//! Errors of the test support, one variant per failed action.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// What went wrong while finding, starting or talking to a server of the environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read env file {path}: {source}")]
    ReadEnvFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("env file {path} has no {key}")]
    MissingEnvKey { path: PathBuf, key: &'static str },
    #[error("run {script}: {source}")]
    RunEnvScript {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("`{script} up` failed ({status}); its logs are in .spate/logs/current")]
    StartEnv { script: PathBuf, status: ExitStatus },
    #[error("`{script}` failed ({status}): the images were not built")]
    BuildImages { script: PathBuf, status: ExitStatus },
    #[error("read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write {path}: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("kubectl {args}: {reason}")]
    Kubectl { args: String, reason: String },
    #[error("{tool} {args}: {reason}")]
    RunTool {
        tool: &'static str,
        args: String,
        reason: String,
    },
    #[error("ctr {args}: {reason}")]
    Ctr { args: String, reason: String },
    #[error("{server} at {addr} does not accept connections: {reason}")]
    ReachServer {
        server: &'static str,
        addr: String,
        reason: String,
    },
    #[error("query QuestDB `{sql}`: {source}")]
    QueryQuestdb { sql: String, source: reqwest::Error },
    #[error("QuestDB rejected `{sql}`: {message}")]
    QuestdbRejected { sql: String, message: String },
    #[error("create topic {topic}: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("create SCRAM user {user}: {reason}")]
    CreateScramUser { user: String, reason: String },
    #[error("query Prometheus `{promql}`: {source}")]
    QueryPrometheus {
        promql: String,
        source: reqwest::Error,
    },
    #[error("Prometheus rejected `{promql}`: {message}")]
    PrometheusRejected { promql: String, message: String },
    #[error("update Prometheus targets file {path}: {source}")]
    UpdateTargets {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build a Kubernetes client from {path}: {reason}")]
    BuildKubeClient { path: PathBuf, reason: String },
    #[error("timed out after {timeout:?} waiting for {what}; last: {last}")]
    Timeout {
        what: String,
        timeout: Duration,
        last: String,
    },
}
