//! Where the consumer's Kafka clients report connection problems: `/readyz`, the
//! `spate_kafka_client_errors_total{kind}` counter, and one log line per change (not
//! one per retry).

use std::sync::Arc;

use tracing::{info, warn};

use super::health::Health;
use crate::metrics::Metrics;
use crate::security::client_errors::normalize_detail;
use crate::security::{ClientErrorKind, ProblemSink};

/// The consumer's [`ProblemSink`].
pub struct ClientHealth {
    health: Arc<Health>,
    metrics: Metrics,
}

impl ClientHealth {
    pub fn new(health: Arc<Health>, metrics: Metrics) -> Arc<Self> {
        Arc::new(ClientHealth { health, metrics })
    }
}

impl ProblemSink for ClientHealth {
    fn report(&self, kind: ClientErrorKind, reason: &str) {
        self.metrics.kafka_client_error(kind).inc();
        if self.health.report_kafka(kind, reason) {
            let code = kind.as_str();
            let detail = normalize_detail(reason);
            warn!(
                code,
                %detail,
                "{code}: {detail} (unready; librdkafka keeps retrying)"
            );
        }
    }

    fn connected(&self) {
        for kind in self.health.kafka_connected() {
            info!(
                code = kind.as_str(),
                "{}: over, a broker accepted the client",
                kind.as_str()
            );
        }
    }
}
