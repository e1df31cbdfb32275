//! The local environment's addresses: read from its env file, checked, and started with
//! `tests/env/env.sh up` when it is absent or down.

use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Error;

/// Addresses of the running servers, as `make env-up` recorded them in `.spate/env`.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Kafka bootstrap servers, `HOST_IP:PORT` (the pod bridge's host address, which host
    /// processes and pods both reach).
    pub kafka_brokers: String,
    /// QuestDB HTTP base URL (ILP/HTTP and `/exec`), `http://HOST_IP:PORT`.
    pub questdb_http: String,
    /// QuestDB ILP/TCP `host:port`.
    pub questdb_ilp_tcp: String,
    /// QuestDB PostgreSQL wire `host:port`.
    pub questdb_pg: String,
    /// Admin kubeconfig of the local API server; `None` when the environment was
    /// started without Kubernetes (`SPATE_ENV_COMPONENTS` without `k8s`), which only
    /// suites that never reach Kubernetes accept (see [`TestEnv::kubeconfig`]).
    pub kubeconfig_path: Option<PathBuf>,
    /// Prometheus base URL; `None` when the environment was started without Prometheus
    /// (see [`TestEnv::prometheus_url`]).
    pub prometheus_url_opt: Option<String>,
    /// The file_sd JSON file Prometheus watches; see [`crate::add_prometheus_target`].
    pub prometheus_targets_file_opt: Option<PathBuf>,
    /// Where this run's server logs are.
    pub log_dir: PathBuf,
    /// Every variable of the env file, including the ones above.
    pub vars: BTreeMap<String, String>,
}

static ENV: OnceLock<TestEnv> = OnceLock::new();

/// Why a suite cannot run: the environment was started without `server`.
fn without(server: &str, key: &str) -> String {
    format!(
        "this suite needs {server}, but the environment was started without it (no {key} in \
         its env file; unset SPATE_ENV_COMPONENTS and run `make env-up`)"
    )
}

impl TestEnv {
    /// The environment of this test process: `$SPATE_ENV_FILE` when set (used as is,
    /// never started), else `<repo>/.spate/env`, brought up with `tests/env/env.sh up`
    /// first when it is missing or a server does not answer. `env.sh` holds a file lock,
    /// so parallel test binaries start it once.
    ///
    /// # Panics
    /// When the environment cannot be found or started: a test against a real server must
    /// fail when the server is absent.
    pub fn get() -> &'static TestEnv {
        ENV.get_or_init(|| {
            Self::load().unwrap_or_else(|err| {
                panic!("spate's local test environment is unavailable: {err}")
            })
        })
    }

    /// Like [`TestEnv::get`] without the cache and the panic.
    pub fn load() -> Result<TestEnv, Error> {
        if let Some(path) = std::env::var_os("SPATE_ENV_FILE") {
            let env = Self::read(Path::new(&path))?;
            env.check_reachable()?;
            return Ok(env);
        }
        let path = repo_root().join(".spate/env");
        match Self::read(&path).and_then(|env| env.check_reachable().map(|()| env)) {
            Ok(env) => Ok(env),
            Err(err) => {
                tracing::info!(%err, "starting the local environment");
                run_env_up()?;
                let env = Self::read(&path)?;
                env.check_reachable()?;
                Ok(env)
            }
        }
    }

    /// Reads and parses an env file.
    pub fn read(path: &Path) -> Result<TestEnv, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadEnvFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_vars(parse_env_file(&text), path)
    }

    /// Builds the environment from parsed variables; `path` names the file in errors.
    pub fn from_vars(vars: BTreeMap<String, String>, path: &Path) -> Result<TestEnv, Error> {
        let get = |key: &'static str| required(&vars, key, path);
        Ok(TestEnv {
            kafka_brokers: get("KAFKA_BROKERS")?,
            questdb_http: get("QUESTDB_HTTP")?,
            questdb_ilp_tcp: get("QUESTDB_ILP_TCP")?,
            questdb_pg: get("QUESTDB_PG")?,
            kubeconfig_path: vars.get("KUBECONFIG").map(PathBuf::from),
            prometheus_url_opt: vars.get("PROMETHEUS_URL").cloned(),
            prometheus_targets_file_opt: vars.get("PROMETHEUS_TARGETS_FILE").map(PathBuf::from),
            log_dir: get("SPATE_LOG_DIR")?.into(),
            vars,
        })
    }

    /// Fails unless every server accepts TCP connections (a cheap check; `env.sh` does
    /// the thorough one).
    pub fn check_reachable(&self) -> Result<(), Error> {
        let first_broker = self.kafka_brokers.split(',').next().unwrap_or_default();
        connect("Kafka", first_broker)?;
        connect("QuestDB", &authority(&self.questdb_http))?;
        if let Some(url) = &self.prometheus_url_opt {
            connect("Prometheus", &authority(url))?;
        }
        if let Some(path) = &self.kubeconfig_path {
            connect("the Kubernetes API server", &kube_api_authority(path)?)?;
        }
        Ok(())
    }

    /// Prometheus' base URL, for suites that use it.
    ///
    /// # Panics
    /// When the environment runs without Prometheus (`SPATE_ENV_COMPONENTS` without
    /// `prometheus`): such a suite must fail, not pass without its server.
    pub fn prometheus_url(&self) -> &str {
        self.prometheus_url_opt
            .as_deref()
            .unwrap_or_else(|| panic!("{}", without("Prometheus", "PROMETHEUS_URL")))
    }

    /// The file_sd JSON file Prometheus watches.
    ///
    /// # Panics
    /// Like [`TestEnv::prometheus_url`].
    pub fn prometheus_targets_file(&self) -> &Path {
        self.prometheus_targets_file_opt
            .as_deref()
            .unwrap_or_else(|| panic!("{}", without("Prometheus", "PROMETHEUS_TARGETS_FILE")))
    }

    /// The admin kubeconfig, for suites that use Kubernetes.
    ///
    /// # Panics
    /// When the environment runs without Kubernetes: such a suite must fail, not pass
    /// without its server.
    pub fn kubeconfig(&self) -> &Path {
        self.kubeconfig_path
            .as_deref()
            .unwrap_or_else(|| panic!("{}", without("Kubernetes", "KUBECONFIG")))
    }

    /// The API server's address as pods reach it (there is no kube-proxy, so the
    /// `kubernetes` Service's cluster IP does not route), for suites that use Kubernetes.
    pub fn api_host(&self) -> &str {
        self.cluster_var("K8S_API_HOST")
    }

    /// The API server's port, for suites that use Kubernetes.
    pub fn api_port(&self) -> &str {
        self.cluster_var("K8S_API_PORT")
    }

    /// The local node's name, for suites that run pods.
    pub fn node_name(&self) -> &str {
        self.cluster_var("SPATE_NODE_NAME")
    }

    /// The node's containerd socket, for suites that reach containers.
    pub fn containerd_address(&self) -> &Path {
        Path::new(self.cluster_var("CONTAINERD_ADDRESS"))
    }

    /// The pod bridge's host address, where the servers listen.
    pub fn host_ip(&self) -> &str {
        self.cluster_var("SPATE_HOST_IP")
    }

    /// A variable the local Kafka records (its secured listeners, TLS files, users).
    ///
    /// # Panics
    /// When the env file lacks it: an environment started before Kafka had them.
    pub fn kafka_var(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "the environment's env file has no {key}: it was started before Kafka had its \
                 secured listeners; restart it (`make env-down`, then `make env-up`)"
            )
        })
    }

    /// # Panics
    /// When the environment runs without the Kubernetes control plane or node, like
    /// [`TestEnv::kubeconfig`].
    fn cluster_var(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "this suite needs the local Kubernetes node, but the environment was started \
                 without it (no {key} in its env file; unset SPATE_ENV_COMPONENTS and run `make env-up`)"
            )
        })
    }
}

/// The value of `key`, or an error naming the file that lacks it.
pub(crate) fn required(
    vars: &BTreeMap<String, String>,
    key: &'static str,
    path: &Path,
) -> Result<String, Error> {
    vars.get(key).cloned().ok_or_else(|| Error::MissingEnvKey {
        path: path.to_owned(),
        key,
    })
}

fn kube_api_authority(path: &Path) -> Result<String, Error> {
    let unusable = |reason: String| Error::BuildKubeClient {
        path: path.to_owned(),
        reason,
    };
    let kubeconfig =
        ::kube::config::Kubeconfig::read_from(path).map_err(|e| unusable(e.to_string()))?;
    let server = kubeconfig
        .clusters
        .iter()
        .find_map(|c| c.cluster.as_ref().and_then(|c| c.server.clone()))
        .ok_or_else(|| unusable("no cluster server address".to_owned()))?;
    Ok(authority(&server))
}

/// Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped, surrounding
/// whitespace trimmed, one level of matching quotes removed from values.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| v.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(v);
            (k.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// `host:port` of a URL such as `http://127.0.0.1:9000/x` (default ports by scheme).
fn authority(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host_port = rest.split('/').next().unwrap_or_default();
    if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{host_port}:{port}")
    }
}

fn connect(server: &'static str, addr: &str) -> Result<(), Error> {
    let unreachable = |reason: String| Error::ReachServer {
        server,
        addr: addr.to_owned(),
        reason,
    };
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable("no address".to_owned()))?;
    TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .map_err(|e| unreachable(e.to_string()))?;
    Ok(())
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `tests/env/env.sh up`, its progress going to this process's stderr.
fn run_env_up() -> Result<(), Error> {
    let script = repo_root().join("tests/env/env.sh");
    let status = Command::new(&script)
        .arg("up")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| Error::RunEnvScript {
            script: script.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::StartEnv { script, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# written by env.sh
KAFKA_BROKERS=10.88.0.1:9092
QUESTDB_HTTP=http://10.88.0.1:9000
QUESTDB_ILP_TCP=10.88.0.1:9009
QUESTDB_PG='10.88.0.1:8812'
K8S_API_HOST=10.88.0.1
K8S_API_PORT=6443
SPATE_NODE_NAME=spate-node

KUBECONFIG=/tmp/admin.kubeconfig
PROMETHEUS_URL=\"http://127.0.0.1:9090\"
PROMETHEUS_TARGETS_FILE=/tmp/targets.json
SPATE_LOG_DIR=/tmp/logs
EXTRA=a=b
";

    #[test]
    fn an_env_file_gives_every_address() {
        let env = TestEnv::from_vars(parse_env_file(SAMPLE), Path::new("env")).expect("complete");
        assert_eq!(env.kafka_brokers, "10.88.0.1:9092");
        assert_eq!(env.questdb_pg, "10.88.0.1:8812");
        assert_eq!(env.prometheus_url(), "http://127.0.0.1:9090");
        assert_eq!(env.kubeconfig(), Path::new("/tmp/admin.kubeconfig"));
        assert_eq!((env.api_host(), env.api_port()), ("10.88.0.1", "6443"));
        assert_eq!(env.node_name(), "spate-node");
        assert_eq!(env.vars["EXTRA"], "a=b");
    }

    #[test]
    fn a_missing_key_is_named() {
        let err = TestEnv::from_vars(parse_env_file("KAFKA_BROKERS=x\n"), Path::new("env"))
            .expect_err("incomplete");
        assert!(
            matches!(
                err,
                Error::MissingEnvKey {
                    key: "QUESTDB_HTTP",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_env_file_without_kubernetes_is_complete_for_the_other_suites() {
        let text = SAMPLE.replace("KUBECONFIG=/tmp/admin.kubeconfig\n", "");
        let env = TestEnv::from_vars(parse_env_file(&text), Path::new("env")).expect("complete");
        assert_eq!(env.kubeconfig_path, None);
        let asked = std::panic::catch_unwind(|| env.kubeconfig().to_owned());
        assert!(
            asked.is_err(),
            "a Kubernetes suite fails without Kubernetes"
        );
    }

    #[test]
    fn authority_of_urls() {
        assert_eq!(authority("http://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(authority("https://127.0.0.1:6443/api"), "127.0.0.1:6443");
        assert_eq!(authority("https://example.org"), "example.org:443");
        assert_eq!(authority("127.0.0.1:1"), "127.0.0.1:1");
    }
}
