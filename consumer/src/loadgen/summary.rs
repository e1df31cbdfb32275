//! The run summary `spate-loadgen` prints as JSON on stdout, for tests to compare with
//! what reached QuestDB and the dead-letter topic.

use std::collections::BTreeMap;

use serde::Serialize;

use super::poison::PoisonKind;
use super::render::{OutputFormat, Rendered};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormatCount {
    pub messages: u64,
    pub trades: u64,
}

/// Counts of what was sent. Good messages count when enqueued; `errors` counts
/// deliveries the broker refused (the run is only comparable when it is 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub produced_messages: u64,
    pub produced_trades: u64,
    pub by_format: BTreeMap<&'static str, FormatCount>,
    pub poison_messages: u64,
    /// Poison records by the reason the consumer should give (`RejectReason::as_str`).
    pub poison_by_reason: BTreeMap<&'static str, u64>,
    pub errors: u64,
    /// Earliest and latest trade timestamps written, ns since the epoch (null if none).
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub elapsed_secs: f64,
    pub trades_per_sec: f64,
}

impl Summary {
    pub fn record(&mut self, r: &Rendered) {
        self.produced_messages += 1;
        self.produced_trades += r.trades as u64;
        let entry = self.by_format.entry(r.format.as_str()).or_default();
        entry.messages += 1;
        entry.trades += r.trades as u64;
        if r.trades > 0 {
            self.first_ts = Some(self.first_ts.map_or(r.first_ts, |t| t.min(r.first_ts)));
            self.last_ts = Some(self.last_ts.map_or(r.last_ts, |t| t.max(r.last_ts)));
        }
    }

    pub fn record_poison(&mut self, kind: PoisonKind) {
        self.poison_messages += 1;
        *self
            .poison_by_reason
            .entry(kind.expected_reason().as_str())
            .or_default() += 1;
    }

    pub fn finish(&mut self, elapsed_secs: f64, errors: u64) {
        self.elapsed_secs = elapsed_secs;
        self.errors = errors;
        self.trades_per_sec = if elapsed_secs > 0.0 {
            self.produced_trades as f64 / elapsed_secs
        } else {
            0.0
        };
        for f in OutputFormat::CONCRETE {
            self.by_format.entry(f.as_str()).or_default();
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_serialises() {
        let mut s = Summary::default();
        let r = |format, trades, ts| Rendered {
            format,
            symbol: 0,
            trades,
            first_ts: ts,
            last_ts: ts,
        };
        s.record(&r(OutputFormat::Normalized, 1, 20));
        s.record(&r(OutputFormat::CoinbaseMarketTrades, 3, 10));
        s.record(&r(OutputFormat::CoinbaseMarketTrades, 0, 5));
        s.record_poison(PoisonKind::NanPrice);
        s.finish(2.0, 0);
        assert_eq!((s.produced_messages, s.produced_trades), (3, 4));
        assert_eq!((s.first_ts, s.last_ts), (Some(10), Some(20)));
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["by_format"]["coinbase-market-trades"]["trades"], 3);
        assert_eq!(json["by_format"]["coinbase-match"]["messages"], 0);
        assert_eq!(json["poison_by_reason"]["invalid_number"], 1);
        assert_eq!(json["trades_per_sec"], 2.0);
        assert_eq!(json["errors"], 0);
    }
}
