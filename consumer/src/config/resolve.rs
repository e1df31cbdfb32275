//! Turns raw setting texts into the typed [`Config`], recording every problem.

mod security;

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::sources::{Origin, Sources};
use super::*;
use crate::control_auth::TokenPolicy;
use crate::security::kafka::is_secret_option;
use crate::security::questdb::secret_conf_keys;

struct Resolver<'s, E> {
    sources: &'s Sources<E>,
    errors: &'s mut Vec<ConfigError>,
}

impl<E: Fn(&str) -> Option<String>> Resolver<'_, E> {
    /// The parsed value, or the table's default when absent; a parse error is recorded
    /// (and the default returned so resolution can go on and find the other errors).
    fn get<T>(&mut self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> T {
        match self.opt(key, &parse) {
            Some(v) => v,
            None => default(key, parse),
        }
    }

    /// A count of at least the table's minimum.
    fn count(&mut self, key: &str) -> usize {
        self.get(key, count(min(key) as usize))
    }

    /// As [`Self::count`], `None` when absent (a default derived elsewhere).
    fn count_opt(&mut self, key: &str) -> Option<usize> {
        self.opt(key, count(min(key) as usize))
    }

    /// Seconds, at least the table's minimum.
    fn secs(&mut self, key: &str) -> Duration {
        self.get(key, secs(min(key)))
    }

    /// Milliseconds, at least the table's minimum.
    fn millis(&mut self, key: &str) -> Duration {
        self.get(key, millis(min(key)))
    }

    /// Records that a required setting is missing.
    fn require(&mut self, key: &str) {
        let s = setting(key);
        if self.sources.raw(s).is_none() {
            self.fail(key, format!("required (set {} or --{})", s.env, s.flag()));
        }
    }

    fn opt<T>(&mut self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let s = setting(key);
        let (origin, text) = self.sources.raw(s)?;
        match parse(text.trim()) {
            Ok(v) => Some(v),
            Err(reason) => {
                // A value that may hold a secret is never quoted.
                let reason = if s.redact {
                    reason
                } else {
                    format!("{reason} (got {text:?})")
                };
                self.errors.push(ConfigError::new(key, origin, reason));
                None
            }
        }
    }

    fn origin(&self, key: &str) -> Origin {
        self.sources
            .raw(setting(key))
            .map_or(Origin::Default, |(o, _)| o)
    }

    fn fail(&mut self, key: &str, reason: impl Into<String>) {
        let origin = self.origin(key);
        self.errors
            .push(ConfigError::new(key, origin, reason.into()));
    }
}

/// The table's default of `key`, parsed.
fn default<T>(key: &str, parse: impl Fn(&str) -> Result<T, String>) -> T {
    let text = setting(key)
        .default
        .value()
        .unwrap_or_else(|| unreachable!("{key} has no default value"));
    parse(text).unwrap_or_else(|e| unreachable!("the default of {key} is invalid: {e}"))
}

/// The table's minimum of `key` (0 when it has none).
fn min(key: &str) -> u64 {
    setting(key).min.unwrap_or(0)
}

fn nonempty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_owned())
    }
}

fn count(min: usize) -> impl Fn(&str) -> Result<usize, String> {
    move |s| match s.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        Ok(_) => Err(format!("must be at least {min}")),
        Err(_) => Err("must be a non-negative integer".into()),
    }
}

fn millis(min: u64) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| count(min as usize)(s).map(|v| Duration::from_millis(v as u64))
}

fn secs(min: u64) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| count(min as usize)(s).map(|v| Duration::from_secs(v as u64))
}

/// A positive number of `unit` (e.g. 1000 for milliseconds) as a duration.
fn positive(unit: f64) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| match s.parse::<f64>() {
        Ok(v) if v > 0.0 && (v / unit).is_finite() && v / unit < 1e9 => {
            Ok(Duration::from_secs_f64(v / unit))
        }
        _ => Err("must be a positive number".into()),
    }
}

fn boolean(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

fn list(s: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    if items.is_empty() {
        Err("must name at least one topic".into())
    } else {
        Ok(items)
    }
}

/// `k=v,k=v` librdkafka properties. Errors name keys, never values, and properties that
/// carry secrets are refused: each has a setting of its own.
fn options(s: &str) -> Result<Vec<(String, String)>, String> {
    let items: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|kv| !kv.is_empty())
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for (i, kv) in items.iter().enumerate() {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.push((k.trim().to_owned(), v.trim().to_owned()))
            }
            _ => {
                return Err(format!(
                    "item {} of {} is not key=value (items are separated by commas)",
                    i + 1,
                    items.len()
                ));
            }
        }
    }
    if let Some((k, _)) = out.iter().find(|(k, _)| is_secret_option(k)) {
        return Err(format!(
            "holds {k}, a secret: give it in its own setting (kafka.sasl_username, kafka.sasl_password, \
             kafka.oauthbearer_token, kafka.ssl_key_file; each also as a file)"
        ));
    }
    Ok(out)
}

fn one_of<T: Copy>(choices: &'static [(&'static str, T)]) -> impl Fn(&str) -> Result<T, String> {
    move |s| {
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                format!("must be one of {}", names.join(", "))
            })
    }
}

/// The scheme and `addr` of a questdb-rs configuration string, checked by questdb-rs.
fn client_conf(s: &str) -> Result<(Transport, bool, String), String> {
    // Never quote the text: it may hold a password.
    questdb_confstr::parse_conf_str(s).map_err(|e| {
        format!(
            "is not a configuration string such as http::addr=host:9000; (error at byte {})",
            e.position()
        )
    })?;
    if let Some(key) = secret_conf_keys(s).first() {
        let name = key.to_ascii_uppercase();
        return Err(format!(
            "holds {key}=, a secret: give it in SPATE_QDB_{name} or SPATE_QDB_{name}_FILE instead"
        ));
    }
    questdb::ingress::SenderBuilder::from_conf(s).map_err(|e| e.msg().to_owned())?;
    let (scheme, params) = s
        .split_once("::")
        .ok_or("must start with a scheme such as http::")?;
    let (transport, tls) = match scheme {
        "http" => (Transport::Http, false),
        "https" => (Transport::Http, true),
        "tcp" => (Transport::Tcp, false),
        "tcps" => (Transport::Tcp, true),
        other => {
            return Err(format!(
                "unsupported scheme {other:?}, expected http, https, tcp or tcps"
            ));
        }
    };
    let addr = params
        .replace(";;", "\u{0}")
        .split(';')
        .find_map(|kv| kv.strip_prefix("addr=").map(|a| a.replace('\u{0}', ";")))
        .ok_or("has no addr=")?;
    Ok((transport, tls, addr))
}

pub(super) fn resolve<E: Fn(&str) -> Option<String>>(
    sources: &Sources<E>,
    errors: &mut Vec<ConfigError>,
) -> Config {
    let mut r = Resolver { sources, errors };

    // Kafka.
    let brokers = r.opt("kafka.brokers", nonempty);
    r.require("kafka.brokers");
    let topics = r.opt("kafka.topics", list);
    r.require("kafka.topics");
    let topics = topics.unwrap_or_default();
    let default_dlq = topics
        .first()
        .map(|t| format!("{t}.dlq"))
        .unwrap_or_default();
    let dead_letter_topic = r
        .opt("kafka.dead_letter_topic", nonempty)
        .unwrap_or(default_dlq);
    if topics.contains(&dead_letter_topic) {
        r.fail(
            "kafka.dead_letter_topic",
            "must differ from every input topic",
        );
    }
    let kafka_options = r.opt("kafka.options", options).unwrap_or_default();
    let kafka = KafkaConfig {
        brokers: brokers.unwrap_or_default(),
        group_id: r.get("kafka.group_id", nonempty),
        topics,
        security: security::kafka_security(&mut r, &kafka_options),
        options: kafka_options,
        dead_letter_topic,
        group_protocol: r.get(
            "kafka.group_protocol",
            one_of(&[
                ("consumer", GroupProtocol::Consumer),
                ("classic", GroupProtocol::Classic),
            ]),
        ),
    };

    // QuestDB.
    let host = r.get("questdb.host", nonempty);
    let port = r.get("questdb.ilp_port", |s| {
        s.parse::<u16>()
            .ok()
            .filter(|p| u64::from(*p) >= min("questdb.ilp_port"))
            .ok_or_else(|| "must be a port number 1-65535".to_owned())
    });
    let (client_conf, (transport, tls, addr)) = r
        .opt("questdb.client_conf", |s| {
            client_conf(s).map(|parsed| (s.to_owned(), parsed))
        })
        .unwrap_or_else(|| {
            (
                format!("http::addr={host}:{port};"),
                (Transport::Http, false, format!("{host}:{port}")),
            )
        });
    let allow_lossy_tcp = r.get("questdb.allow_lossy_tcp", boolean);
    let ilp_writer = r.get(
        "questdb.ilp_writer",
        one_of(&[
            ("spate", IlpWriter::Spate),
            ("questdb-rs", IlpWriter::QuestdbRs),
        ]),
    );
    if transport == Transport::Tcp && !allow_lossy_tcp {
        r.fail(
            "questdb.client_conf",
            "ILP over TCP acknowledges nothing and can lose rows; set questdb.allow_lossy_tcp=true (SPATE_ALLOW_LOSSY_TCP) to accept that",
        );
    }
    let http_url = match r.opt("questdb.http_url", |s| {
        if s.starts_with("http://") || s.starts_with("https://") {
            Ok(s.trim_end_matches('/').to_owned())
        } else {
            Err("must start with http:// or https://".to_owned())
        }
    }) {
        Some(url) => url,
        None if transport == Transport::Http => {
            format!("{}://{addr}", if tls { "https" } else { "http" })
        }
        None => {
            if r.sources.raw(setting("questdb.http_url")).is_none() {
                r.fail(
                    "questdb.http_url",
                    "required when questdb.client_conf uses tcp (DDL goes over HTTP)",
                );
            }
            String::new()
        }
    };
    let questdb = QuestdbConfig {
        client_conf,
        transport,
        allow_lossy_tcp,
        ilp_writer,
        http_url,
        table: r.get("questdb.table", check_table),
        table_allow_extra: r.get("questdb.table_allow_extra", boolean),
        stall_after: r.secs("questdb.stall_secs"),
        hold_retry: r.secs("questdb.hold_retry_secs"),
        auth: security::questdb_auth(&mut r),
    };

    // Batching, workers, backpressure.
    let batch = BatchConfig {
        initial: r.count("batch.initial"),
        min: r.count("batch.min"),
        max: r.count("batch.max"),
        linger: r.millis("batch.linger_ms"),
        max_bytes: r.count_opt("batch.max_bytes"),
    };
    if !(batch.min <= batch.initial && batch.initial <= batch.max) {
        r.fail(
            "batch.initial",
            format!(
                "must satisfy batch.min ({}) <= batch.initial ({}) <= batch.max ({})",
                batch.min, batch.initial, batch.max
            ),
        );
    }
    let workers = WorkersConfig {
        initial: r.count("workers.initial"),
        max: r.count("workers.max"),
    };
    if workers.initial > workers.max {
        r.fail(
            "workers.initial",
            format!(
                "must be at most workers.max ({}), got {}",
                workers.max, workers.initial
            ),
        );
    }
    let backpressure = BackpressureConfig {
        high_watermark: r.count("backpressure.high_watermark"),
        low_watermark: r.count("backpressure.low_watermark"),
        queue_capacity: r.count("backpressure.queue_capacity"),
        high_watermark_bytes: r.count_opt("backpressure.high_watermark_bytes"),
        low_watermark_bytes: r.count_opt("backpressure.low_watermark_bytes"),
        queue_capacity_bytes: r.count_opt("backpressure.queue_capacity_bytes"),
    };
    if let (Some(high), Some(low)) = (
        backpressure.high_watermark_bytes,
        backpressure.low_watermark_bytes,
    ) && low >= high
    {
        r.fail(
            "backpressure.low_watermark_bytes",
            format!("must be below backpressure.high_watermark_bytes ({high}), got {low}"),
        );
    }
    if backpressure.low_watermark >= backpressure.high_watermark {
        r.fail(
            "backpressure.low_watermark",
            format!(
                "must be below backpressure.high_watermark ({}), got {}",
                backpressure.high_watermark, backpressure.low_watermark
            ),
        );
    }

    let input_format = r.get("input_format", |s| {
        InputFormat::from_str(s).map_err(|e| e.to_string())
    });
    let validation = ValidationConfig {
        max_past: r.secs("validation.max_past_secs"),
        max_future: r.secs("validation.max_future_secs"),
        max_message_bytes: r.count("validation.max_message_bytes"),
    };

    // Server.
    let listen = r.get("server.listen", |s| {
        s.parse::<SocketAddr>()
            .map_err(|_| "must be an address such as 0.0.0.0:9464".to_owned())
    });
    let token = r.opt("server.control_token", nonempty);
    let token_file = r.opt("server.control_token_file", |path| {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        nonempty(text.trim()).map_err(|_| "file is empty".to_owned())
    });
    if token.is_some() && token_file.is_some() {
        r.fail(
            "server.control_token",
            "set either server.control_token or server.control_token_file, not both",
        );
    }
    let control = match (token.or(token_file), r.opt("server.control_jwks", nonempty)) {
        (None, None) => ControlAuth::Closed,
        (Some(token), None) => ControlAuth::Static(token),
        (Some(_), Some(_)) => {
            r.fail(
                "server.control_jwks",
                "set either a static control token or ServiceAccount tokens (control_jwks), not both",
            );
            ControlAuth::Closed
        }
        (None, Some(jwks)) => {
            let issuer = r.opt("server.control_issuer", nonempty);
            let audience = r.get("server.control_audience", nonempty);
            let subjects = r.opt("server.control_subjects", |s| {
                let all: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect();
                if all.is_empty() {
                    Err("must name at least one subject".to_owned())
                } else {
                    Ok(all)
                }
            });
            match (issuer, subjects) {
                (Some(issuer), Some(subjects)) => {
                    match TokenPolicy::new(&jwks, &issuer, &audience, subjects) {
                        Ok(policy) => ControlAuth::Tokens(policy),
                        Err(e) => {
                            r.fail("server.control_jwks", e.to_string());
                            ControlAuth::Closed
                        }
                    }
                }
                _ => {
                    r.fail(
                        "server.control_jwks",
                        "needs server.control_issuer and server.control_subjects",
                    );
                    ControlAuth::Closed
                }
            }
        }
    };
    let server = ServerConfig { listen, control };

    let targets = TargetsConfig {
        latency: r.get("targets.latency_ms", positive(1000.0)),
        lag: r.get("targets.lag_seconds", positive(1.0)),
    };

    Config {
        kafka,
        questdb,
        batch,
        workers,
        backpressure,
        input_format,
        validation,
        server,
        targets,
        shutdown_grace: r.secs("shutdown_grace_secs"),
        commit_interval: r.millis("commit_interval_ms"),
        log_format: r.get(
            "log_format",
            one_of(&[("text", LogFormat::Text), ("json", LogFormat::Json)]),
        ),
    }
}
