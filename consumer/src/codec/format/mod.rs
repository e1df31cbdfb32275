//! Input formats: detection per message and decoding into [`Trade`]s that borrow from
//! the payload. One file per format; `json` is the shared scanner. `fast` decodes the
//! normalised trade in its usual layout in one pass and leaves everything else (and
//! every rejection) to the generic member walk.

mod coinbase_match;
pub(crate) mod fast;
mod fields;
mod json;
mod market_trades;
mod normalized;
pub(crate) mod number;
pub mod time;

use std::fmt;
use std::str::FromStr;

use crate::codec::reject::Rejection;
use crate::codec::trade::Trade;
use fields::Fields;
pub(crate) use fields::is_blank;
use json::Scanner;

/// How payloads are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InputFormat {
    /// Per message: a `channel` member means Advanced Trade, a `type` member means
    /// Coinbase Exchange, anything else the normalised trade.
    #[default]
    Auto,
    /// The normalised trade: `{exchange, symbol, side, trade_id, price, size, sequence,
    /// quality_score, timestamp}`.
    Normalized,
    /// Coinbase Exchange websocket `match` / `last_match`.
    CoinbaseMatch,
    /// Coinbase Advanced Trade `market_trades` channel (several trades per message).
    CoinbaseMarketTrades,
}

impl InputFormat {
    pub const ALL: [InputFormat; 4] = [
        InputFormat::Auto,
        InputFormat::Normalized,
        InputFormat::CoinbaseMatch,
        InputFormat::CoinbaseMarketTrades,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Normalized => "normalized",
            InputFormat::CoinbaseMatch => "coinbase-match",
            InputFormat::CoinbaseMarketTrades => "coinbase-market-trades",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown input format {0:?}, expected auto, normalized, coinbase-match or coinbase-market-trades"
)]
pub struct ParseInputFormatError(pub String);

impl FromStr for InputFormat {
    type Err = ParseInputFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseInputFormatError(s.to_owned()))
    }
}

/// Decodes one message, handing each trade to `sink` in order; returns how many
/// trades the message held (a `market_trades` message may hold none). The first
/// error from decoding or from `sink` stops decoding and is returned.
///
/// With `Auto` or `Normalized`, the usual normalised layout is tried first; the
/// result is the same either way (`fast`'s tests check this on generated input).
pub fn decode<'a, F>(text: &'a str, format: InputFormat, mut sink: F) -> Result<usize, Rejection>
where
    F: FnMut(Trade<'a>) -> Result<(), Rejection>,
{
    if matches!(format, InputFormat::Auto | InputFormat::Normalized)
        && let Some(trade) = fast::normalized(text)
    {
        return sink(trade).map(|()| 1);
    }
    decode_generic(text, format, sink)
}

/// [`decode`] by the generic member walk, for any layout of any format.
pub(crate) fn decode_generic<'a, F>(
    text: &'a str,
    format: InputFormat,
    mut sink: F,
) -> Result<usize, Rejection>
where
    F: FnMut(Trade<'a>) -> Result<(), Rejection>,
{
    let mut scanner = Scanner::new(text);
    let mut fields = Fields::default();
    fields.read_into(&mut scanner)?;
    scanner.finish()?;
    let format = match format {
        InputFormat::Auto if fields.channel.is_some() => InputFormat::CoinbaseMarketTrades,
        InputFormat::Auto if fields.kind.is_some() => InputFormat::CoinbaseMatch,
        InputFormat::Auto => InputFormat::Normalized,
        fixed => fixed,
    };
    match format {
        InputFormat::CoinbaseMarketTrades => market_trades::decode(&mut fields, sink),
        InputFormat::CoinbaseMatch => sink(coinbase_match::decode(&mut fields)?).map(|()| 1),
        _ => sink(normalized::decode(&mut fields)?).map(|()| 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::reject::RejectReason;

    fn all(text: &str, format: InputFormat) -> Result<Vec<Trade<'_>>, Rejection> {
        let mut out = Vec::new();
        decode(text, format, |t| {
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn format_names_round_trip() {
        for f in InputFormat::ALL {
            assert_eq!(f.as_str().parse::<InputFormat>(), Ok(f));
        }
        assert!("json".parse::<InputFormat>().is_err());
    }

    #[test]
    fn auto_detects_each_format() {
        let n = r#"{"exchange":"kraken","symbol":"BTC-USD","side":"buy","trade_id":"1","price":1,"size":1,"timestamp":1700000000}"#;
        let m = r#"{"type":"match","trade_id":10,"sequence":50,"time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;
        let t = r#"{"channel":"market_trades","sequence_num":3,"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#;
        assert_eq!(all(n, InputFormat::Auto).unwrap()[0].exchange, "kraken");
        assert_eq!(all(m, InputFormat::Auto).unwrap()[0].exchange, "coinbase");
        assert_eq!(
            all(t, InputFormat::Auto).unwrap()[0].exchange,
            "coinbase-advanced"
        );
    }

    #[test]
    fn sink_errors_stop_decoding() {
        let t = r#"{"channel":"market_trades","events":[{"type":"update","trades":[
            {"trade_id":"1","product_id":"ETH-USD","price":"1","size":"1","side":"BUY","time":"2019-08-14T20:42:27.265Z"},
            {"trade_id":"2","product_id":"ETH-USD","price":"1","size":"1","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#;
        let mut seen = 0;
        let err = decode(t, InputFormat::Auto, |_| {
            seen += 1;
            Err(Rejection::new(RejectReason::NonPositive, "stop"))
        })
        .unwrap_err();
        assert_eq!((seen, err.reason), (1, RejectReason::NonPositive));
    }

    #[test]
    fn other_top_level_values_are_malformed() {
        for bad in ["[]", "1", "\"x\"", "null", "{} {}"] {
            assert_eq!(
                all(bad, InputFormat::Auto).unwrap_err().reason,
                RejectReason::Malformed
            );
        }
    }
}
