//! The librdkafka client context of spate's Kafka clients: OAUTHBEARER tokens from their
//! source, and authentication, TLS and reachability failures handed to a sink once
//! classified, instead of a log line at every retry.

use std::error::Error;
use std::sync::Arc;

use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use tracing::{debug, error, info, warn};

use super::certificate::not_after;
use super::client_errors::{Classified, ClientErrorKind, classify, normalize_detail};
use super::kafka::KafkaSecurity;
use super::oauth::TokenSource;

/// Where a client's connection problems go (the consumer's readiness, the loadgen's
/// progress output).
pub trait ProblemSink: Send + Sync {
    /// librdkafka reported a problem of `kind`; `reason` is its text (never a secret).
    fn report(&self, kind: ClientErrorKind, reason: &str);
    /// A broker accepted the client: earlier problems are over.
    fn connected(&self);
}

/// The context of every spate Kafka client.
#[derive(Clone, Default)]
pub struct SecureContext {
    token: Option<TokenSource>,
    sink: Option<Arc<dyn ProblemSink>>,
    /// Said with every TLS problem: the client certificate has expired (the broker only
    /// answers "certificate unknown").
    tls_hint: Option<String>,
}

impl std::fmt::Debug for SecureContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureContext")
            .field("oauthbearer", &self.token.is_some())
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// "the client certificate ... expired at ..." when the configured one has.
fn expired_certificate(security: &KafkaSecurity) -> Option<String> {
    let path = security
        .ssl_cert_file
        .as_ref()
        .filter(|_| security.protocol.tls())?;
    let end = not_after(&std::fs::read_to_string(path).ok()?)?;
    let now = chrono::Utc::now().timestamp();
    (end < now).then(|| {
        let at = chrono::DateTime::from_timestamp(end, 0)
            .map_or_else(|| end.to_string(), |t| t.to_rfc3339());
        format!("the client certificate {} expired at {at}", path.display())
    })
}

/// The error code librdkafka gave, if any.
fn code(error: &KafkaError) -> Option<rdkafka::types::RDKafkaErrorCode> {
    error.rdkafka_error_code()
}

impl SecureContext {
    /// The context of a client connecting with `security`, reporting to `sink`.
    pub fn new(security: &KafkaSecurity, sink: Option<Arc<dyn ProblemSink>>) -> Self {
        SecureContext {
            token: security.token_source(),
            sink,
            tls_hint: expired_certificate(security),
        }
    }

    /// Takes a librdkafka error; false when it is none of the known problems (the
    /// caller logs it).
    pub fn on_error(&self, error: &KafkaError, reason: &str) -> bool {
        match (classify(code(error), reason), &self.sink) {
            (Classified::Problem(kind), Some(sink)) => {
                match (&self.tls_hint, kind) {
                    (Some(hint), ClientErrorKind::Tls) => {
                        sink.report(kind, &format!("{}; {hint}", normalize_detail(reason)))
                    }
                    _ => sink.report(kind, reason),
                }
                true
            }
            (Classified::Derived, Some(_)) => {
                debug!(%error, reason, "Kafka client error");
                true
            }
            _ => false,
        }
    }

    /// Whether a consumer's poll error is a connection failure the sink has already
    /// been told of (librdkafka hands each error to [`Self::on_error`] first, with
    /// its reason, then to the poll without it).
    pub fn reported(&self, error: &KafkaError) -> bool {
        use rdkafka::types::RDKafkaErrorCode as C;
        self.sink.is_some()
            && matches!(
                code(error),
                Some(
                    C::Authentication
                        | C::SaslAuthenticationFailed
                        | C::SSL
                        | C::BrokerTransportFailure
                        | C::AllBrokersDown
                        | C::Resolve
                )
            )
    }

    /// A statistics report: a broker in state UP means the client was accepted.
    pub fn on_stats(&self, stats: &Statistics) {
        let up = stats
            .brokers
            .values()
            .any(|b| b.state == "UP" && matches!(b.source.as_str(), "learned" | "configured"));
        if up && let Some(sink) = &self.sink {
            sink.connected();
        }
    }

    /// The client was accepted (an assignment arrived, an admin call answered).
    pub fn on_connected(&self) {
        if let Some(sink) = &self.sink {
            sink.connected();
        }
    }

    /// librdkafka's log lines; those that repeat a reported problem at every retry are
    /// left to the sink, which says it once.
    pub fn on_log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if self.sink.is_some() && !matches!(classify(None, message), Classified::Other) {
            debug!(target: "librdkafka", fac, message, "Kafka client log");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => error!(target: "librdkafka", "librdkafka: {fac} {message}"),
            RDKafkaLogLevel::Warning => warn!(target: "librdkafka", "librdkafka: {fac} {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                info!(target: "librdkafka", "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Debug => debug!(target: "librdkafka", "librdkafka: {fac} {message}"),
        }
    }

    /// A fresh OAUTHBEARER token (the file is read again at every refresh).
    pub fn oauth_token(&self) -> Result<OAuthToken, Box<dyn Error>> {
        match &self.token {
            Some(source) => Ok(source.token()?),
            None => Err("no OAUTHBEARER token is configured".into()),
        }
    }
}

impl ClientContext for SecureContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.on_log(level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        self.on_stats(&statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if !self.on_error(&error, reason) {
            error!("librdkafka: {error}: {reason}");
        }
    }

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn Error>> {
        self.oauth_token()
    }
}
