//! Validation of payloads (size, UTF-8) and of decoded trades (numbers, timestamp
//! window). Pure: the current time is passed in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::format::is_blank;
use crate::codec::format::time::format_rfc3339;
use crate::codec::reject::{RejectReason, Rejection};
use crate::codec::trade::Trade;

/// Nanoseconds since the Unix epoch now, read from the system clock.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The rules a record must pass besides decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validator {
    max_past_ns: i64,
    max_future_ns: i64,
    max_message_bytes: usize,
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Validator {
    /// Trades may be at most `max_past` older and `max_future` newer than now;
    /// payloads at most `max_message_bytes` long.
    pub fn new(max_past: Duration, max_future: Duration, max_message_bytes: usize) -> Self {
        Validator {
            max_past_ns: duration_ns(max_past),
            max_future_ns: duration_ns(max_future),
            max_message_bytes,
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// Checks the payload's size and that it is UTF-8, returning it as text.
    #[inline]
    pub fn check_payload<'a>(&self, payload: &'a [u8]) -> Result<&'a str, Rejection> {
        if payload.len() > self.max_message_bytes {
            return Err(Rejection::new(
                RejectReason::TooLarge,
                format!(
                    "payload is {} bytes, at most {} accepted",
                    payload.len(),
                    self.max_message_bytes
                ),
            ));
        }
        std::str::from_utf8(payload).map_err(|e| {
            Rejection::new(
                RejectReason::InvalidUtf8,
                format!("payload is not UTF-8: {e}"),
            )
        })
    }

    /// Checks a decoded trade against `now_ns` (nanoseconds since the epoch).
    #[inline]
    pub fn check_trade(&self, trade: &Trade<'_>, now_ns: i64) -> Result<(), Rejection> {
        if !(trade.price.is_finite() && trade.price > 0.0) {
            return Err(non_positive("price", trade.price));
        }
        if !(trade.size.is_finite() && trade.size > 0.0) {
            return Err(non_positive("size", trade.size));
        }
        if let Some(q) = trade.quality_score
            && !q.is_finite()
        {
            return Err(Rejection::new(
                RejectReason::InvalidNumber,
                "quality_score is not finite",
            ));
        }
        if is_blank(&trade.symbol) {
            return Err(Rejection::new(RejectReason::EmptySymbol, "symbol is empty"));
        }
        if is_blank(&trade.trade_id) {
            return Err(Rejection::new(
                RejectReason::MissingTradeId,
                "trade id is empty",
            ));
        }
        let earliest = now_ns.saturating_sub(self.max_past_ns).max(0);
        let latest = now_ns.saturating_add(self.max_future_ns);
        if trade.timestamp_ns < earliest || trade.timestamp_ns > latest {
            return Err(Rejection::new(
                RejectReason::TimestampOutOfRange,
                format!(
                    "timestamp {} ({} ns) outside [{}, {}]",
                    format_rfc3339(trade.timestamp_ns, 9),
                    trade.timestamp_ns,
                    format_rfc3339(earliest, 0),
                    format_rfc3339(latest, 0)
                ),
            ));
        }
        Ok(())
    }
}

#[cold]
fn non_positive(name: &str, v: f64) -> Rejection {
    let reason = if v.is_finite() {
        RejectReason::NonPositive
    } else {
        RejectReason::InvalidNumber
    };
    Rejection::new(
        reason,
        format!("{name} must be a finite positive number, got {v}"),
    )
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::codec::trade::Side;

    const NOW: i64 = 1_750_000_000_000_000_000;
    const SEC: i64 = 1_000_000_000;

    fn validator() -> Validator {
        Validator::new(Duration::from_secs(3600), Duration::from_secs(60), 100)
    }

    fn trade() -> Trade<'static> {
        Trade {
            exchange: Cow::Borrowed("coinbase"),
            symbol: Cow::Borrowed("BTC-USD"),
            side: Side::Buy,
            trade_id: Cow::Borrowed("1"),
            price: 1.5,
            size: 2.0,
            sequence: None,
            quality_score: Some(1.0),
            timestamp_ns: NOW,
        }
    }

    fn reason(t: Trade<'_>) -> Option<RejectReason> {
        validator().check_trade(&t, NOW).err().map(|r| r.reason)
    }

    #[test]
    fn a_sane_trade_passes() {
        assert_eq!(reason(trade()), None);
    }

    #[test]
    fn prices_and_sizes_must_be_finite_and_positive() {
        assert_eq!(
            reason(Trade {
                price: 0.0,
                ..trade()
            }),
            Some(RejectReason::NonPositive)
        );
        assert_eq!(
            reason(Trade {
                size: -1.0,
                ..trade()
            }),
            Some(RejectReason::NonPositive)
        );
        assert_eq!(
            reason(Trade {
                price: f64::NAN,
                ..trade()
            }),
            Some(RejectReason::InvalidNumber)
        );
        assert_eq!(
            reason(Trade {
                size: f64::INFINITY,
                ..trade()
            }),
            Some(RejectReason::InvalidNumber)
        );
        assert_eq!(
            reason(Trade {
                quality_score: Some(f64::NAN),
                ..trade()
            }),
            Some(RejectReason::InvalidNumber)
        );
    }

    #[test]
    fn symbol_and_trade_id_must_be_present() {
        assert_eq!(
            reason(Trade {
                symbol: Cow::Borrowed(" "),
                ..trade()
            }),
            Some(RejectReason::EmptySymbol)
        );
        assert_eq!(
            reason(Trade {
                trade_id: Cow::Borrowed(""),
                ..trade()
            }),
            Some(RejectReason::MissingTradeId)
        );
    }

    #[test]
    fn timestamp_window_is_inclusive() {
        assert_eq!(
            reason(Trade {
                timestamp_ns: NOW - 3600 * SEC,
                ..trade()
            }),
            None
        );
        assert_eq!(
            reason(Trade {
                timestamp_ns: NOW + 60 * SEC,
                ..trade()
            }),
            None
        );
        assert_eq!(
            reason(Trade {
                timestamp_ns: NOW - 3600 * SEC - 1,
                ..trade()
            }),
            Some(RejectReason::TimestampOutOfRange)
        );
        assert_eq!(
            reason(Trade {
                timestamp_ns: NOW + 60 * SEC + 1,
                ..trade()
            }),
            Some(RejectReason::TimestampOutOfRange)
        );
        assert_eq!(
            reason(Trade {
                timestamp_ns: -1,
                ..trade()
            }),
            Some(RejectReason::TimestampOutOfRange)
        );
    }

    #[test]
    fn payloads_are_bounded_and_utf8() {
        let v = validator();
        assert_eq!(v.check_payload(b"{}"), Ok("{}"));
        assert_eq!(
            v.check_payload(&[b'x'; 101]).unwrap_err().reason,
            RejectReason::TooLarge
        );
        assert_eq!(v.check_payload(&[b'x'; 100]).map(str::len), Ok(100));
        assert_eq!(
            v.check_payload(b"{\"a\":\"\xff\"}").unwrap_err().reason,
            RejectReason::InvalidUtf8
        );
    }
}
