//! Coinbase Exchange websocket `match` / `last_match` messages.
//!
//! Coinbase reports the side of the *maker* order; spate stores the aggressor's
//! (taker's) side, so `"side":"sell"` (a resting sell order was hit) becomes `buy`.
//! `exchange` is `coinbase`, `symbol` the `product_id`, `sequence` the feed sequence.

use std::borrow::Cow;

use super::fields::{self, Fields, truncate};
use crate::codec::reject::{RejectReason, Rejection};
use crate::codec::trade::Trade;

pub(super) fn decode<'a>(f: &mut Fields<'a>) -> Result<Trade<'a>, Rejection> {
    let kind = fields::string(f.kind.take(), "type")?;
    if kind != "match" && kind != "last_match" {
        return Err(Rejection::new(
            RejectReason::UnsupportedMessage,
            format!(
                "Coinbase message type {:?} carries no trade",
                truncate(&kind)
            ),
        ));
    }
    Ok(Trade {
        exchange: Cow::Borrowed("coinbase"),
        symbol: fields::symbol(f.product_id.take(), "product_id")?,
        side: fields::side(f.side.take(), "side")?.opposite(),
        trade_id: fields::trade_id(f.trade_id.take(), "trade_id")?,
        price: fields::decimal(f.price.take(), "price")?,
        size: fields::decimal(f.size.take(), "size")?,
        sequence: fields::integer_opt(f.sequence.take(), "sequence")?,
        quality_score: None,
        timestamp_ns: fields::timestamp(f.time.take(), "time")?,
    })
}

#[cfg(test)]
mod tests {
    use crate::codec::format::{InputFormat, decode};
    use crate::codec::reject::RejectReason;
    use crate::codec::trade::Side;

    const MATCH: &str = r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;

    #[test]
    fn decodes_a_match_storing_the_taker_side() {
        let mut got = Vec::new();
        decode(MATCH, InputFormat::CoinbaseMatch, |t| {
            got.push(t);
            Ok(())
        })
        .unwrap();
        let t = &got[0];
        assert_eq!(
            (t.exchange.as_ref(), t.symbol.as_ref(), t.trade_id.as_ref()),
            ("coinbase", "BTC-USD", "10")
        );
        assert_eq!(t.side, Side::Buy);
        assert_eq!((t.price, t.size, t.sequence), (400.23, 5.23512, Some(50)));
        assert_eq!(t.timestamp_ns, 1_415_348_367_028_459_000);
    }

    #[test]
    fn last_match_is_a_trade_too() {
        let text = MATCH.replace("\"match\"", "\"last_match\"");
        assert_eq!(decode(&text, InputFormat::Auto, |_| Ok(())), Ok(1));
    }

    #[test]
    fn other_message_types_are_unsupported() {
        for text in [
            r#"{"type":"heartbeat","sequence":1}"#,
            r#"{"type":"subscriptions","channels":[]}"#,
        ] {
            let err = decode(text, InputFormat::Auto, |_| Ok(())).unwrap_err();
            assert_eq!(err.reason, RejectReason::UnsupportedMessage);
        }
        let err = decode(r#"{"type":7}"#, InputFormat::CoinbaseMatch, |_| Ok(())).unwrap_err();
        assert_eq!(err.reason, RejectReason::Malformed);
    }
}
