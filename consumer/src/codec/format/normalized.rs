//! The normalised trade JSON the original pipeline produced:
//! `{exchange, symbol, side, trade_id, price, size, sequence, quality_score, timestamp}`.
//! `sequence` and `quality_score` are optional (absent or null).

use super::fields::{self, Fields};
use crate::codec::reject::{RejectReason, Rejection};
use crate::codec::trade::Trade;

pub(super) fn decode<'a>(f: &mut Fields<'a>) -> Result<Trade<'a>, Rejection> {
    let exchange = fields::string(f.exchange.take(), "exchange")?;
    if fields::is_blank(&exchange) {
        return Err(Rejection::new(
            RejectReason::MissingField,
            "field `exchange` is empty",
        ));
    }
    Ok(Trade {
        exchange,
        symbol: fields::symbol(f.symbol.take(), "symbol")?,
        side: fields::side(f.side.take(), "side")?,
        trade_id: fields::trade_id(f.trade_id.take(), "trade_id")?,
        price: fields::decimal(f.price.take(), "price")?,
        size: fields::decimal(f.size.take(), "size")?,
        sequence: fields::integer_opt(f.sequence.take(), "sequence")?,
        quality_score: fields::decimal_opt(f.quality_score.take(), "quality_score")?,
        timestamp_ns: fields::timestamp(f.timestamp.take(), "timestamp")?,
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::codec::format::{InputFormat, decode};
    use crate::codec::reject::RejectReason;
    use crate::codec::trade::{Side, Trade};

    fn one(text: &str) -> Result<Trade<'_>, crate::codec::reject::Rejection> {
        let mut out = None;
        decode(text, InputFormat::Normalized, |t| {
            out = Some(t);
            Ok(())
        })?;
        Ok(out.expect("one trade"))
    }

    const GOOD: &str = r#"{"exchange":"coinbase","symbol":"BTC-USD","side":"buy","trade_id":"123","price":64123.5,"size":"0.25","sequence":42,"quality_score":0.98,"timestamp":"2025-06-12T01:02:03.123456789Z"}"#;

    #[test]
    fn decodes_every_field_borrowing_strings() {
        let t = one(GOOD).unwrap();
        assert!(matches!(t.symbol, Cow::Borrowed("BTC-USD")));
        assert!(matches!(t.trade_id, Cow::Borrowed("123")));
        assert_eq!(t.exchange, "coinbase");
        assert_eq!(t.side, Side::Buy);
        assert_eq!((t.price, t.size), (64123.5, 0.25));
        assert_eq!((t.sequence, t.quality_score), (Some(42), Some(0.98)));
        assert_eq!(t.timestamp_ns, 1_749_690_123_123_456_789);
    }

    #[test]
    fn optional_fields_may_be_null_or_absent_and_order_does_not_matter() {
        let t = one(r#"{"timestamp":1749690123,"sequence":null,"size":1,"price":2,"trade_id":7,"side":"SELL","symbol":"ETH-USD","exchange":"x","extra":{"a":[1]}}"#).unwrap();
        assert_eq!((t.sequence, t.quality_score), (None, None));
        assert_eq!(t.trade_id, "7");
        assert_eq!(t.side, Side::Sell);
        assert_eq!(t.timestamp_ns, 1_749_690_123_000_000_000);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let text = GOOD.replace("BTC-USD", "BTC\\u002dUSD");
        let t = one(&text).unwrap();
        assert!(matches!(t.symbol, Cow::Owned(_)));
        assert_eq!(t.symbol, "BTC-USD");
    }

    #[test]
    fn each_bad_field_has_its_reason() {
        let cases = [
            (
                r#""symbol":"BTC-USD""#,
                r#""symbol":"""#,
                RejectReason::EmptySymbol,
            ),
            (r#""symbol":"BTC-USD","#, "", RejectReason::MissingField),
            (
                r#""side":"buy""#,
                r#""side":"hold""#,
                RejectReason::UnknownSide,
            ),
            (
                r#""trade_id":"123""#,
                r#""trade_id":"""#,
                RejectReason::MissingTradeId,
            ),
            (
                r#""trade_id":"123""#,
                r#""trade_id":null"#,
                RejectReason::MissingTradeId,
            ),
            (
                r#""price":64123.5"#,
                r#""price":"NaN""#,
                RejectReason::InvalidNumber,
            ),
            (
                r#""price":64123.5"#,
                r#""price":NaN"#,
                RejectReason::Malformed,
            ),
            (
                r#""price":64123.5"#,
                r#""price":true"#,
                RejectReason::Malformed,
            ),
            (
                r#""size":"0.25""#,
                r#""size":"a lot""#,
                RejectReason::InvalidNumber,
            ),
            (
                r#""sequence":42"#,
                r#""sequence":4.2"#,
                RejectReason::InvalidNumber,
            ),
            (
                r#""timestamp":"2025-06-12T01:02:03.123456789Z""#,
                r#""timestamp":"2025-02-30T01:02:03Z""#,
                RejectReason::Malformed,
            ),
            (
                r#""timestamp":"2025-06-12T01:02:03.123456789Z""#,
                r#""timestamp":99999999999999999999"#,
                RejectReason::TimestampOutOfRange,
            ),
            (
                r#""timestamp":"2025-06-12T01:02:03.123456789Z""#,
                r#""timestamp":9223372036.9"#,
                RejectReason::TimestampOutOfRange,
            ),
            (
                r#""exchange":"coinbase""#,
                r#""exchange":"coinbase","exchange":"x""#,
                RejectReason::Malformed,
            ),
        ];
        for (from, to, reason) in cases {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            assert_eq!(one(&text).unwrap_err().reason, reason, "{text}");
        }
    }
}
