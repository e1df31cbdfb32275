//! The operator's consumer environment, as `consumer_env` builds it for pipelines with
//! every kind of Kafka and QuestDB security, is accepted by the consumer's
//! `Config::load`: every variable it writes is one the consumer reads, every credential
//! file it mounts reaches the setting it is meant for, and the one combination the CRD
//! refuses (PLAIN over SASL_PLAINTEXT without the opt-in) is refused by the consumer too.
//! The operator builds an environment only for a pipeline its validation accepts; what the
//! consumer makes of a refused setting is checked by writing that setting, under the
//! consumer's own name, into the environment of an accepted pipeline.
//! Pure: no server is involved.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use spate_consumer::config::{Config, ConfigErrors, Setting};
use spate_consumer::security::{SaslMechanism, SecurityProtocol};
use spate_operator::build::{CREDENTIALS_DIR, ConsumerEnv, ControlTrust, FileSource, consumer_env};
use spate_operator::crd::{ConsumerTuning, IngestionPipeline};
use spate_operator::validate::validate;

/// A value with every character that broke option strings.
const AWKWARD: &str = "p,a;s=s \"q\" 'q' \\ $(HOME) \nnext";
/// The same without the newline, which an HTTP header (QuestDB's credentials) cannot
/// carry.
const AWKWARD_LINE: &str = "p,a;s=s \"q\" 'q' \\ $(HOME) next";

/// A P-256 public key as a JWKS document (its private half is not needed here).
const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","use":"sig","alg":"ES256","x":"8Ni6Y_DxRMQV4w50iU77TEEVw9xGrQbdDj6dBM_tOdk","y":"uWB1BOaav2NeB34HfK_WugMUAzfim-FxT7Si1mQ84JU"}]}"#;

fn pipeline(source_extra: &str, sink_extra: &str) -> IngestionPipeline {
    let yaml = format!(
        "apiVersion: spate.dev/v1alpha1
kind: IngestionPipeline
metadata: {{name: contract, namespace: markets}}
spec:
  source:
    bootstrapServers: kafka-0.kafka:9093
    topics: [trades]
{source_extra}
  format: coinbase-market-trades
  sink:
    address: questdb:9000
    table: trades
{sink_extra}
  workers: {{min: 1, max: 4}}
  replicas: {{min: 1, max: 2}}
"
    );
    serde_yaml::from_str(&yaml).expect("pipeline parses")
}

/// What the consumer made of the operator's environment, and the variables it read.
struct Loaded {
    result: Result<Config, ConfigErrors>,
    env: BTreeMap<String, String>,
    read: BTreeSet<String>,
}

/// Builds the environment for `p`, writes each mounted file below a directory of its own
/// (the Secret's key as content) and loads the consumer's configuration from it.
fn load(p: &IngestionPipeline, case: &str) -> Loaded {
    load_with(p, case, AWKWARD_LINE)
}

/// As [`load`], QuestDB's credential files holding `questdb` after their key.
fn load_with(p: &IngestionPipeline, case: &str, questdb: &str) -> Loaded {
    load_built(built(p), case, questdb)
}

/// The environment the operator builds for `p`, which its validation must accept.
fn built(p: &IngestionPipeline) -> ConsumerEnv {
    let trust = ControlTrust {
        issuer: "https://kubernetes.default.svc.cluster.local".into(),
        jwks: JWKS.into(),
        subject: "system:serviceaccount:spate-system:spate-operator".into(),
    };
    let valid = validate(p).unwrap_or_else(|e| panic!("the operator refused the pipeline: {e}"));
    consumer_env(&valid, Some(&trust))
}

/// The consumer's environment variable of its setting `key`.
fn var(key: &str) -> String {
    Setting::find(key)
        .unwrap_or_else(|| panic!("the consumer has no setting {key}"))
        .env
        .to_string()
}

/// Writes the fields of `tuning` that are set into `env`, each under the consumer's name.
fn write_tuning(env: &mut ConsumerEnv, tuning: &ConsumerTuning) {
    for (key, value) in [
        ("batch.initial", tuning.batch_initial),
        ("batch.min", tuning.batch_min),
        ("batch.max", tuning.batch_max),
        ("batch.linger_ms", tuning.linger_ms),
        ("shutdown_grace_secs", Some(tuning.shutdown_grace_seconds)),
    ] {
        if let Some(v) = value {
            env.config.insert(var(key), v.to_string());
        }
    }
}

/// Loads the consumer's configuration from `built`, the mounted files written below a
/// directory of `case`.
fn load_built(built: ConsumerEnv, case: &str, questdb: &str) -> Loaded {
    assert!(built.env.is_empty(), "everything is in the ConfigMap");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("spate-contract-{}-{case}", std::process::id()));
    for file in &built.files {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let value = if file.path.starts_with("questdb/") {
            questdb
        } else {
            AWKWARD
        };
        let content = match &file.source {
            FileSource::Secret { key, .. } | FileSource::ConfigMap { key, .. } => {
                format!("{key}:{value}")
            }
        };
        std::fs::write(&path, content).unwrap();
    }
    let env: BTreeMap<String, String> = built
        .config
        .into_iter()
        .map(|(k, v)| {
            let v = match v.strip_prefix(CREDENTIALS_DIR) {
                Some(rest) => format!("{}{rest}", dir.display()),
                None => v,
            };
            (k, v)
        })
        .collect();
    let read = RefCell::new(BTreeSet::new());
    let result = Config::load([OsString::from("spate-consumer")], |k| {
        read.borrow_mut().insert(k.to_owned());
        env.get(k).cloned()
    });
    // The configuration keeps the paths and the secrets it read; the files may go.
    let _ = std::fs::remove_dir_all(&dir);
    Loaded {
        result,
        env,
        read: read.into_inner(),
    }
}

impl Loaded {
    fn config(&self) -> &Config {
        match &self.result {
            Ok(c) => c,
            Err(e) => panic!("the consumer refused the operator's environment: {e}"),
        }
    }

    fn assert_every_variable_is_read(&self) {
        let unread: Vec<&String> = self
            .env
            .keys()
            .filter(|k| !self.read.contains(*k))
            .collect();
        assert!(
            unread.is_empty(),
            "the operator writes variables the consumer never reads: {unread:?}"
        );
    }
}

#[test]
fn scram_over_sasl_ssl_with_a_ca_a_client_certificate_and_questdb_basic_auth() {
    let p = pipeline(
        "    credentials:
      secretRef: {name: kafka-user, usernameKey: user, passwordKey: pass}
      mechanism: SCRAM-SHA-512
      securityProtocol: SASL_SSL
    tls:
      ca: {secretName: kafka-ca}
      clientCertificate: {secretName: kafka-client}",
        "    credentials:
      secretRef: {name: questdb-user}",
    );
    let l = load(&p, "scram");
    l.assert_every_variable_is_read();
    let c = l.config();
    let s = &c.kafka.security;
    assert_eq!(s.protocol, SecurityProtocol::SaslSsl);
    assert_eq!(s.mechanism, Some(SaslMechanism::ScramSha512));
    assert_eq!(
        s.username.as_ref().unwrap().secret.expose(),
        format!("user:{AWKWARD}")
    );
    assert_eq!(
        s.password.as_ref().unwrap().secret.expose(),
        format!("pass:{AWKWARD}")
    );
    assert!(s.verify_hostname);
    assert!(
        s.ssl_ca_file
            .as_ref()
            .unwrap()
            .ends_with("kafka-tls/ca.crt")
    );
    assert!(
        s.ssl_cert_file
            .as_ref()
            .unwrap()
            .ends_with("kafka-tls/tls.crt")
    );
    assert!(
        s.ssl_key_file
            .as_ref()
            .unwrap()
            .ends_with("kafka-tls/tls.key")
    );
    let q = &c.questdb.auth;
    assert_eq!(
        q.username.as_ref().unwrap().secret.expose(),
        format!("username:{AWKWARD_LINE}")
    );
    assert_eq!(
        q.password.as_ref().unwrap().secret.expose(),
        format!("password:{AWKWARD_LINE}")
    );
    assert!(q.token.is_none());
    let debug = format!("{c:?}");
    assert!(!debug.contains("p,a;s=s"), "no secret in Debug: {debug}");
}

#[test]
fn oauthbearer_with_a_ca_from_a_config_map_and_a_questdb_token() {
    let p = pipeline(
        "    credentials:
      secretRef: {name: kafka-oauth}
      mechanism: OAUTHBEARER
    tls:
      ca: {configMapName: kafka-ca, key: bundle.pem}
      verifyHostname: false",
        "    credentials:
      secretRef: {name: questdb-token, passwordKey: token}
      token: true",
    );
    let l = load(&p, "oauth");
    l.assert_every_variable_is_read();
    let c = l.config();
    let s = &c.kafka.security;
    assert_eq!(s.protocol, SecurityProtocol::SaslSsl);
    assert_eq!(s.mechanism, Some(SaslMechanism::OAuthBearer));
    assert_eq!(
        s.oauth_token.as_ref().unwrap().secret.expose(),
        format!("token:{AWKWARD}")
    );
    assert!(s.password.is_none() && s.username.is_none());
    assert!(!s.verify_hostname);
    assert_eq!(
        c.questdb.auth.token.as_ref().unwrap().secret.expose(),
        format!("token:{AWKWARD_LINE}")
    );
}

#[test]
fn mutual_tls_without_sasl_is_ssl() {
    let p = pipeline(
        "    tls:
      clientCertificate: {secretName: kafka-client, certificateKey: c, keyKey: k}",
        "",
    );
    let l = load(&p, "mtls");
    l.assert_every_variable_is_read();
    let s = &l.config().kafka.security;
    assert_eq!(s.protocol, SecurityProtocol::Ssl);
    assert_eq!(s.mechanism, None);
    assert!(s.ssl_ca_file.is_none(), "the system's CAs");
    assert!(s.ssl_cert_file.is_some() && s.ssl_key_file.is_some());
}

#[test]
fn plaintext_without_credentials() {
    let l = load(&pipeline("", ""), "plaintext");
    l.assert_every_variable_is_read();
    let c = l.config();
    assert_eq!(c.kafka.security.protocol, SecurityProtocol::Plaintext);
    assert!(c.questdb.auth.username.is_none() && c.questdb.auth.token.is_none());
}

#[test]
fn plain_over_sasl_plaintext_is_accepted_only_with_the_opt_in() {
    let source = |allow: bool| {
        format!(
            "    credentials:
      secretRef: {{name: kafka-user}}
      mechanism: PLAIN
      securityProtocol: SASL_PLAINTEXT
      allowPlaintextPassword: {allow}"
        )
    };
    let allowed = load(&pipeline(&source(true), ""), "plain-allowed");
    allowed.assert_every_variable_is_read();
    let s = &allowed.config().kafka.security;
    assert_eq!(s.protocol, SecurityProtocol::SaslPlaintext);
    assert_eq!(s.mechanism, Some(SaslMechanism::Plain));
    assert!(s.allow_plaintext_password);

    // The CRD's rule and the operator refuse this pipeline; the consumer refuses it too.
    assert!(validate(&pipeline(&source(false), "")).is_err());
    let mut env = built(&pipeline(&source(true), ""));
    let opt_in = var("kafka.allow_plaintext_password");
    assert!(env.config.remove(&opt_in).is_some(), "{opt_in} was written");
    let refused = load_built(env, "plain-refused", AWKWARD_LINE);
    let errors = match refused.result {
        Ok(_) => panic!("PLAIN over SASL_PLAINTEXT was accepted without the opt-in"),
        Err(e) => e.to_string(),
    };
    assert!(errors.contains("cleartext"), "{errors}");
    assert!(
        !errors.contains("p,a;s=s"),
        "no secret in the error: {errors}"
    );
}

#[test]
fn a_questdb_password_with_a_newline_is_refused_naming_its_file_setting() {
    let p = pipeline(
        "",
        "    credentials:
      secretRef: {name: questdb-user}",
    );
    let l = load_with(&p, "questdb-newline", AWKWARD);
    let errors = match l.result {
        Ok(_) => panic!("a password with a newline was accepted for an HTTP header"),
        Err(e) => e,
    };
    let settings: Vec<&str> = errors.errors.iter().map(|e| e.setting.as_str()).collect();
    assert_eq!(
        settings,
        ["questdb.username_file", "questdb.password_file"],
        "{errors}"
    );
    assert!(!errors.to_string().contains("p,a;s=s"), "{errors}");
}

/// The `minimum`/`maximum` of `spec.<path>` in the CRD the operator installs.
fn schema_range(path: &[&str]) -> (i64, i64) {
    use kube::CustomResourceExt;
    let crd = serde_json::to_value(IngestionPipeline::crd()).expect("crd as json");
    let mut node = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    for part in path {
        node = &node["properties"][part];
    }
    let bound = |k: &str| {
        node[k]
            .as_f64()
            .unwrap_or_else(|| panic!("spec.{} has no {k} in the CRD", path.join(".")))
            as i64
    };
    (bound("minimum"), bound("maximum"))
}

/// Values worth trying for an integer field: its bounds, next to them, next to the
/// consumer's defaults and relations, and unset.
fn candidates(path: &[&str], around: &[i64]) -> Vec<Option<i64>> {
    let (lo, hi) = schema_range(path);
    let mut values: BTreeSet<i64> = [lo, lo + 1, hi - 1, hi].into_iter().collect();
    for a in around {
        values.extend([a - 1, *a, a + 1]);
    }
    let mut out: Vec<Option<i64>> = values
        .into_iter()
        .filter(|v| (lo..=hi).contains(v))
        .map(Some)
        .collect();
    out.push(None);
    out
}

fn with_tuning(batch: [Option<i64>; 3], linger: Option<i64>, grace: i64) -> IngestionPipeline {
    let mut p = pipeline("", "");
    let t = &mut p.spec.tuning;
    let narrow = |v: Option<i64>| v.map(|v| i32::try_from(v).expect("fits the CRD's i32"));
    t.batch_initial = narrow(batch[0]);
    t.batch_min = narrow(batch[1]);
    t.batch_max = narrow(batch[2]);
    t.linger_ms = narrow(linger);
    t.shutdown_grace_seconds = i32::try_from(grace).unwrap();
    p
}

/// Every tuning within the CRD's ranges: the operator accepts it exactly when the
/// consumer accepts the environment built from it. A tuning the operator accepts and
/// the consumer refuses crash-loops the pods; one the operator refuses and the
/// consumer would accept is a needless refusal.
#[test]
fn the_operator_accepts_exactly_the_tunings_the_consumer_accepts() {
    let around = [50, 100, 1000, 2000, 50_000];
    let initial = candidates(&["tuning", "batchInitial"], &around);
    let min = candidates(&["tuning", "batchMin"], &around);
    let max = candidates(&["tuning", "batchMax"], &around);
    let linger = candidates(&["tuning", "lingerMs"], &[20]);
    let (grace_lo, grace_hi) = schema_range(&["tuning", "shutdownGraceSeconds"]);
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (i, b_initial) in initial.iter().enumerate() {
        for b_min in &min {
            for b_max in &max {
                // Linger and grace vary along the batch fields rather than across them.
                let l = linger[(i + checked) % linger.len()];
                let grace = [grace_lo, 25, grace_hi][checked % 3];
                let p = with_tuning([*b_initial, *b_min, *b_max], l, grace);
                let operator = validate(&p).map_err(|e| e.0.join("; "));
                let loaded = if operator.is_ok() {
                    load(&p, "tuning")
                } else {
                    // Refused: the same values in the environment of a default tuning.
                    let mut env = built(&with_tuning([None; 3], None, 25));
                    write_tuning(&mut env, &p.spec.tuning);
                    load_built(env, "tuning", AWKWARD_LINE)
                };
                let consumer = loaded.result.map_err(|e| e.to_string());
                if operator.is_ok() != consumer.is_ok() {
                    mismatches.push(format!(
                        "batchInitial {b_initial:?}, batchMin {b_min:?}, batchMax {b_max:?}, lingerMs {l:?}, grace {grace}: operator {operator:?}, consumer {consumer:?}"
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} tunings generated");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} tunings disagree, e.g.:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(8)].join("\n")
    );
}

/// Worker bounds and targets the CRD admits (its rules keep `min <= initial <= max`):
/// the consumer accepts every environment the operator accepts.
#[test]
fn every_worker_bound_and_target_the_operator_accepts_loads_in_the_consumer() {
    let (w_lo, w_hi) = schema_range(&["workers", "min"]);
    let counts = [w_lo, w_lo + 1, 8, w_hi - 1, w_hi];
    let mut checked = 0;
    for min in counts {
        for max in counts.iter().copied().filter(|m| *m >= min) {
            for initial in [None, Some(min), Some(max), Some((min + max) / 2)] {
                for (latency, lag) in [(1.0, 0.1), (250.0, 10.0), (3_600_000.0, 86_400.0)] {
                    let mut p = pipeline("", "");
                    p.spec.workers.min = min as i32;
                    p.spec.workers.max = max as i32;
                    p.spec.workers.initial = initial.map(|v| v as i32);
                    p.spec.autoscaling.targets.latency_ms = latency;
                    p.spec.autoscaling.targets.lag_seconds = lag;
                    if validate(&p).is_ok() {
                        let loaded = load(&p, "workers");
                        if let Err(e) = &loaded.result {
                            panic!(
                                "workers {min}..{max} (initial {initial:?}), latency {latency} ms, lag {lag} s: the consumer refused: {e}"
                            );
                        }
                        loaded.assert_every_variable_is_read();
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} accepted specs checked");
}
