//! Pure. The Kafka client failures that make the consumer unready (authentication, TLS,
//! unreachable brokers), told apart from librdkafka's error code and reason, and the set
//! of current problems, which changes only when one appears, changes or clears.

use std::collections::BTreeMap;

use rdkafka::types::RDKafkaErrorCode;

/// A Kafka client problem: its code is the `/readyz` line's prefix and the
/// `spate_kafka_client_errors_total{kind}` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientErrorKind {
    /// The broker refused the credentials (SASL), or a token could not be had.
    Authentication,
    /// The TLS handshake failed: unknown CA, expired or missing client certificate, a
    /// certificate for another host, TLS spoken to a plaintext listener or the reverse.
    Tls,
    /// No connection: refused, unresolvable, timed out.
    Unreachable,
}

impl ClientErrorKind {
    pub const ALL: [ClientErrorKind; 3] = [
        ClientErrorKind::Authentication,
        ClientErrorKind::Tls,
        ClientErrorKind::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientErrorKind::Authentication => "kafka-authentication",
            ClientErrorKind::Tls => "kafka-tls",
            ClientErrorKind::Unreachable => "kafka-unreachable",
        }
    }
}

/// What a librdkafka error means for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// One of the problems above.
    Problem(ClientErrorKind),
    /// A consequence of per-broker failures already reported ("all brokers are down").
    Derived,
    /// Anything else: logged as it comes.
    Other,
}

/// Sorts a librdkafka error by its code and reason. The reason is librdkafka's text,
/// which never holds a secret.
pub fn classify(code: Option<RDKafkaErrorCode>, reason: &str) -> Classified {
    let text = reason.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if matches!(
        code,
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    ) || has(&[
        "sasl authentication",
        "authentication failed",
        "oauthbearer token",
    ]) {
        return Classified::Problem(ClientErrorKind::Authentication);
    }
    if code == Some(RDKafkaErrorCode::SSL)
        || has(&[
            "ssl handshake",
            "ssl transport",
            "certificate",
            "incorrect security.protocol",
        ])
    {
        return Classified::Problem(ClientErrorKind::Tls);
    }
    if code == Some(RDKafkaErrorCode::AllBrokersDown) || has(&["brokers are down"]) {
        return Classified::Derived;
    }
    if matches!(
        code,
        Some(RDKafkaErrorCode::Resolve | RDKafkaErrorCode::BrokerTransportFailure) | None
    ) && has(&[
        "connect to ",
        "connection refused",
        "failed to resolve",
        "timed out",
        "no route to host",
        "network is unreachable",
    ]) {
        return Classified::Problem(ClientErrorKind::Unreachable);
    }
    Classified::Other
}

/// librdkafka's reason without what changes at every retry: the trailing
/// "(after 5ms in state AUTH_REQ, 3 identical error(s) suppressed)".
pub fn normalize_detail(reason: &str) -> String {
    let reason = reason.trim();
    match reason.rfind(" (after ") {
        Some(i) if reason.ends_with(')') => reason[..i].trim_end().to_owned(),
        _ => reason.to_owned(),
    }
}

/// The current problems, one per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProblems {
    current: BTreeMap<ClientErrorKind, String>,
}

impl ClientProblems {
    /// Records `detail` for `kind`; true when that is news (a kind not current). The
    /// first detail stays until the problem clears: librdkafka words one failure in
    /// several ways from one retry to the next.
    pub fn report(&mut self, kind: ClientErrorKind, detail: &str) -> bool {
        if self.current.contains_key(&kind) {
            return false;
        }
        self.current.insert(kind, normalize_detail(detail));
        true
    }

    /// A broker accepted the client: every problem is over. Returns those that were.
    pub fn clear(&mut self) -> Vec<ClientErrorKind> {
        std::mem::take(&mut self.current).into_keys().collect()
    }

    /// `<code>: <detail>` for each current problem.
    pub fn lines(&self) -> Vec<String> {
        self.current
            .iter()
            .map(|(k, d)| format!("{}: {d}", k.as_str()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClientErrorKind::*;

    #[test]
    fn a_refused_password_is_an_authentication_problem() {
        let reason = "sasl_ssl://10.94.0.1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 5ms in state AUTH_REQ)";
        assert_eq!(
            classify(Some(RDKafkaErrorCode::Authentication), reason),
            Classified::Problem(Authentication)
        );
        assert_eq!(classify(None, reason), Classified::Problem(Authentication));
    }

    #[test]
    fn certificate_failures_are_tls_problems() {
        for reason in [
            "ssl://10.94.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified",
            "ssl://127.0.0.1:40000/bootstrap: SSL transport error: error:0A000415:SSL routines::sslv3 alert certificate expired",
            "10.94.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?)",
        ] {
            assert_eq!(
                classify(Some(RDKafkaErrorCode::BrokerTransportFailure), reason),
                Classified::Problem(Tls),
                "{reason}"
            );
        }
        assert_eq!(
            classify(Some(RDKafkaErrorCode::SSL), "x"),
            Classified::Problem(Tls)
        );
    }

    #[test]
    fn refused_connections_are_unreachable_brokers_and_all_down_is_derived() {
        let refused = "10.94.0.1:1/bootstrap: Connect to ipv4#10.94.0.1:1 failed: Connection refused (after 0ms in state CONNECT)";
        assert_eq!(
            classify(Some(RDKafkaErrorCode::BrokerTransportFailure), refused),
            Classified::Problem(Unreachable)
        );
        assert_eq!(
            classify(
                Some(RDKafkaErrorCode::AllBrokersDown),
                "1/1 brokers are down"
            ),
            Classified::Derived
        );
    }

    #[test]
    fn an_idle_disconnect_is_no_problem() {
        assert_eq!(
            classify(
                Some(RDKafkaErrorCode::BrokerTransportFailure),
                "10.94.0.1:9092/1: Disconnected (after 600000ms in state UP)"
            ),
            Classified::Other
        );
    }

    #[test]
    fn the_detail_drops_what_changes_at_every_retry() {
        assert_eq!(
            normalize_detail(
                "b: SASL authentication error: bad (after 5ms in state AUTH_REQ, 3 identical error(s) suppressed)"
            ),
            "b: SASL authentication error: bad"
        );
        assert_eq!(normalize_detail("plain reason"), "plain reason");
    }

    #[test]
    fn a_problem_is_news_once_per_kind_until_it_clears() {
        let mut p = ClientProblems::default();
        assert!(p.report(Authentication, "b: refused (after 1ms in state AUTH_REQ)"));
        assert!(!p.report(
            Authentication,
            "b: refused (after 9ms in state AUTH_REQ, 2 identical error(s) suppressed)"
        ));
        assert!(
            !p.report(Authentication, "b: worded otherwise"),
            "the first detail stays"
        );
        assert!(p.report(Unreachable, "connect failed"));
        assert_eq!(
            p.lines(),
            vec![
                "kafka-authentication: b: refused",
                "kafka-unreachable: connect failed"
            ]
        );
        assert_eq!(p.clear(), vec![Authentication, Unreachable]);
        assert!(p.is_empty());
        assert!(
            p.report(Authentication, "b: refused"),
            "news again after clearing"
        );
    }
}
