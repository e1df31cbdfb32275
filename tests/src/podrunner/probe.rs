//! Container probes (startup, liveness, readiness) run the kubelet's way: an HTTP GET, a
//! TCP connect or a command, every period after an initial delay, with consecutive
//! success and failure thresholds.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Which of a container's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

/// What a probe does.
#[derive(Clone, Debug)]
pub enum Action {
    Http {
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        port: u16,
    },
    Exec {
        command: Vec<String>,
    },
    /// A probe the runner cannot perform (gRPC, an unknown named port): always succeeds.
    Unsupported(String),
}

/// One probe of one container, with the kubelet's defaults filled in.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    pub action: Action,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl ProbeSpec {
    /// The container's probe of `kind`, if it has one.
    pub fn of(container: &Container, kind: ProbeKind) -> Option<Self> {
        let probe = match kind {
            ProbeKind::Startup => container.startup_probe.as_ref(),
            ProbeKind::Liveness => container.liveness_probe.as_ref(),
            ProbeKind::Readiness => container.readiness_probe.as_ref(),
        }?;
        let seconds =
            |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
        let count = |v: Option<i32>, default: i32| v.unwrap_or(default).max(1) as u32;
        Some(Self {
            kind,
            action: action(container, probe),
            initial_delay: seconds(probe.initial_delay_seconds, 0),
            period: seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
        })
    }
}

fn action(container: &Container, probe: &Probe) -> Action {
    let port = |port: &IntOrString| match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    };
    if let Some(http) = &probe.http_get {
        let https = http
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        return match port(&http.port) {
            // The probe client speaks plain HTTP: an HTTPS probe checks the port accepts connections.
            Some(port) if https => Action::Tcp { port },
            Some(port) => Action::Http {
                port,
                path: http.path.clone().unwrap_or_else(|| "/".to_owned()),
                headers: http
                    .http_headers
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
            },
            None => Action::Unsupported(format!("httpGet port {:?}", http.port)),
        };
    }
    if let Some(tcp) = &probe.tcp_socket {
        return match port(&tcp.port) {
            Some(port) => Action::Tcp { port },
            None => Action::Unsupported(format!("tcpSocket port {:?}", tcp.port)),
        };
    }
    if let Some(exec) = &probe.exec {
        return Action::Exec {
            command: exec.command.clone().unwrap_or_default(),
        };
    }
    Action::Unsupported("gRPC or empty probe".to_owned())
}

/// Performs `action` once against the pod at `ip`; `env` is the container's environment.
pub async fn check(
    action: &Action,
    ip: IpAddr,
    timeout: Duration,
    http: &reqwest::Client,
    env: &Arc<Vec<(String, String)>>,
) -> bool {
    match action {
        Action::Http {
            port,
            path,
            headers,
        } => {
            let mut request = http
                .get(format!("http://{}{path}", SocketAddr::new(ip, *port)))
                .timeout(timeout);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(response) => (200..400).contains(&response.status().as_u16()),
                Err(_) => false,
            }
        }
        Action::Tcp { port } => {
            let connect = tokio::net::TcpStream::connect(SocketAddr::new(ip, *port));
            matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_)))
        }
        Action::Exec { command } => {
            let Some((program, args)) = command.split_first() else {
                return false;
            };
            let run = tokio::process::Command::new(program)
                .args(args)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status();
            matches!(tokio::time::timeout(timeout, run).await, Ok(Ok(status)) if status.success())
        }
        Action::Unsupported(_) => true,
    }
}

/// Consecutive results of one probe and the verdict they add up to.
#[derive(Clone, Debug)]
pub struct Verdict {
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    passing: bool,
}

impl Verdict {
    /// Starts failing (readiness and startup start unready) or passing (liveness starts alive).
    pub fn new(spec: &ProbeSpec) -> Self {
        Self {
            success_threshold: spec.success_threshold,
            failure_threshold: spec.failure_threshold,
            successes: 0,
            failures: 0,
            passing: spec.kind == ProbeKind::Liveness,
        }
    }

    /// Records one result; returns the new verdict when this result changed it.
    pub fn observe(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        let before = self.passing;
        if !before && self.successes >= self.success_threshold {
            self.passing = true;
        } else if before && self.failures >= self.failure_threshold {
            self.passing = false;
        }
        (self.passing != before).then_some(self.passing)
    }

    /// The failure threshold is reached (a startup or liveness probe's cue to restart).
    pub fn failed_out(&self) -> bool {
        self.failures >= self.failure_threshold
    }

    pub fn passing(&self) -> bool {
        self.passing
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(probes: serde_json::Value) -> Container {
        let mut value = json!({ "name": "c", "image": "i", "ports": [{ "name": "metrics", "containerPort": 9464 }] });
        value
            .as_object_mut()
            .unwrap()
            .extend(probes.as_object().unwrap().clone());
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn probes_get_the_kubelet_defaults_and_resolve_named_ports() {
        let c = container(
            json!({ "readinessProbe": { "httpGet": { "path": "/readyz", "port": "metrics" } } }),
        );
        let spec = ProbeSpec::of(&c, ProbeKind::Readiness).unwrap();
        assert!(
            matches!(spec.action, Action::Http { port: 9464, ref path, .. } if path == "/readyz")
        );
        assert_eq!(spec.period, Duration::from_secs(10));
        assert_eq!(spec.timeout, Duration::from_secs(1));
        assert_eq!((spec.success_threshold, spec.failure_threshold), (1, 3));
        assert!(ProbeSpec::of(&c, ProbeKind::Liveness).is_none());
    }

    #[test]
    fn readiness_needs_its_successes_and_liveness_its_failures() {
        let c = container(json!({
            "readinessProbe": { "tcpSocket": { "port": 9464 }, "successThreshold": 2 },
            "livenessProbe": { "tcpSocket": { "port": 9464 }, "failureThreshold": 2 }
        }));
        let mut ready = Verdict::new(&ProbeSpec::of(&c, ProbeKind::Readiness).unwrap());
        assert!(!ready.passing());
        assert_eq!(ready.observe(true), None);
        assert_eq!(ready.observe(true), Some(true));
        assert_eq!(ready.observe(false), None, "one failure of three allowed");
        let mut alive = Verdict::new(&ProbeSpec::of(&c, ProbeKind::Liveness).unwrap());
        assert!(alive.passing());
        assert_eq!(alive.observe(false), None);
        assert_eq!(
            alive.observe(true),
            None,
            "a success resets the failure count"
        );
        assert_eq!(alive.observe(false), None);
        assert_eq!(alive.observe(false), Some(false));
    }

    #[test]
    fn an_unknown_named_port_makes_an_unsupported_probe() {
        let c = container(json!({ "livenessProbe": { "httpGet": { "port": "nope" } } }));
        assert!(matches!(
            ProbeSpec::of(&c, ProbeKind::Liveness).unwrap().action,
            Action::Unsupported(_)
        ));
    }
}
