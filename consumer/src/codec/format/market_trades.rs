//! Coinbase Advanced Trade `market_trades` channel: `events[].trades[]`, several trades
//! per message. `exchange` is `coinbase-advanced`, `symbol` the `product_id`, the
//! side is stored as reported, and `sequence` is the message's `sequence_num`.

use std::borrow::Cow;

use super::fields::{self, Fields, truncate};
use super::json::{Scanner, Value};
use crate::codec::reject::{RejectReason, Rejection};
use crate::codec::trade::Trade;

pub(super) fn decode<'a, F>(f: &mut Fields<'a>, mut sink: F) -> Result<usize, Rejection>
where
    F: FnMut(Trade<'a>) -> Result<(), Rejection>,
{
    let channel = fields::string(f.channel.take(), "channel")?;
    if channel != "market_trades" {
        return Err(Rejection::new(
            RejectReason::UnsupportedMessage,
            format!(
                "Advanced Trade channel {:?} carries no trade",
                truncate(&channel)
            ),
        ));
    }
    let sequence = fields::integer_opt(f.sequence_num.take(), "sequence_num")?;
    let events = match f.events.take() {
        Some(Value::Array(raw)) => raw,
        None | Some(Value::Null) => {
            return Err(Rejection::new(
                RejectReason::MissingField,
                "missing field `events`",
            ));
        }
        Some(other) => {
            return Err(Rejection::new(
                RejectReason::Malformed,
                format!("field `events` must be an array, got {}", other.kind()),
            ));
        }
    };
    let mut count = 0;
    Scanner::new(events).array(|s| {
        let event = Fields::read(s)?;
        let trades = match event.trades {
            Some(Value::Array(raw)) => raw,
            None | Some(Value::Null) => {
                return Err(Rejection::new(
                    RejectReason::MissingField,
                    "missing field `events[].trades`",
                ));
            }
            Some(other) => {
                return Err(Rejection::new(
                    RejectReason::Malformed,
                    format!(
                        "field `events[].trades` must be an array, got {}",
                        other.kind()
                    ),
                ));
            }
        };
        Scanner::new(trades).array(|s| {
            let t = Fields::read(s)?;
            sink(Trade {
                exchange: Cow::Borrowed("coinbase-advanced"),
                symbol: fields::symbol(t.product_id, "product_id")?,
                side: fields::side(t.side, "side")?,
                trade_id: fields::trade_id(t.trade_id, "trade_id")?,
                price: fields::decimal(t.price, "price")?,
                size: fields::decimal(t.size, "size")?,
                sequence,
                quality_score: None,
                timestamp_ns: fields::timestamp(t.time, "time")?,
            })?;
            count += 1;
            Ok(())
        })
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use crate::codec::format::{InputFormat, decode};
    use crate::codec::reject::RejectReason;
    use crate::codec::trade::{Side, Trade};

    const MSG: &str = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":7,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"000000001","product_id":"ETH-USD","price":"1260.02","size":"0.1","side":"SELL","time":"2019-08-14T20:42:27.266Z"}]},{"type":"update","trades":[{"trade_id":"000000002","product_id":"BTC-USD","price":"21000","size":"1","side":"BUY","time":"2019-08-14T20:42:28Z"}]}]}"#;

    fn all(text: &str) -> Result<Vec<Trade<'_>>, crate::codec::reject::Rejection> {
        let mut out = Vec::new();
        decode(text, InputFormat::CoinbaseMarketTrades, |t| {
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn decodes_every_trade_of_every_event() {
        let trades = all(MSG).unwrap();
        assert_eq!(trades.len(), 3);
        assert_eq!(trades[0].trade_id, "000000000");
        assert_eq!(trades[0].side, Side::Buy);
        assert_eq!(trades[1].side, Side::Sell);
        assert_eq!(trades[2].symbol, "BTC-USD");
        assert!(
            trades
                .iter()
                .all(|t| t.exchange == "coinbase-advanced" && t.sequence == Some(7))
        );
        assert_eq!(trades[0].timestamp_ns, 1_565_815_347_265_000_000);
    }

    #[test]
    fn an_empty_update_holds_no_trade() {
        let text = r#"{"channel":"market_trades","events":[{"type":"update","trades":[]}]}"#;
        assert_eq!(all(text).unwrap().len(), 0);
    }

    #[test]
    fn other_channels_and_bad_shapes_are_rejected() {
        let cases = [
            (
                r#"{"channel":"heartbeats","events":[]}"#,
                RejectReason::UnsupportedMessage,
            ),
            (r#"{"channel":"market_trades"}"#, RejectReason::MissingField),
            (
                r#"{"channel":"market_trades","events":{}}"#,
                RejectReason::Malformed,
            ),
            (
                r#"{"channel":"market_trades","events":[{"type":"update"}]}"#,
                RejectReason::MissingField,
            ),
            (
                r#"{"channel":"market_trades","events":[1]}"#,
                RejectReason::Malformed,
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(all(text).unwrap_err().reason, reason, "{text}");
        }
        let bad_trade = MSG.replace(r#""size":"0.1""#, r#""size":"-""#);
        assert_eq!(
            all(&bad_trade).unwrap_err().reason,
            RejectReason::InvalidNumber
        );
    }
}
