//! Rendering generated trades in every supported input format.

use std::fmt;
use std::io::Write as _;
use std::str::FromStr;

use rand::Rng;

use super::market::Market;
use crate::codec::format::time::format_rfc3339;

/// What the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Normalized,
    CoinbaseMatch,
    CoinbaseMarketTrades,
    /// Each message in one of the three, at random.
    Mixed,
}

impl OutputFormat {
    pub const CONCRETE: [OutputFormat; 3] = [
        OutputFormat::Normalized,
        OutputFormat::CoinbaseMatch,
        OutputFormat::CoinbaseMarketTrades,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Normalized => "normalized",
            OutputFormat::CoinbaseMatch => "coinbase-match",
            OutputFormat::CoinbaseMarketTrades => "coinbase-market-trades",
            OutputFormat::Mixed => "mixed",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [OutputFormat::Mixed]
            .into_iter()
            .chain(OutputFormat::CONCRETE)
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown format {s:?}: normalized, coinbase-match, coinbase-market-trades or mixed")
            })
    }
}

/// One rendered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub format: OutputFormat,
    pub symbol: usize,
    pub trades: usize,
    /// Earliest and latest trade timestamp as written (after truncation to the
    /// format's precision), nanoseconds.
    pub first_ts: i64,
    pub last_ts: i64,
}

/// Renders messages of one output format.
#[derive(Debug, Clone)]
pub struct Renderer {
    format: OutputFormat,
    sequence: u64,
    /// Most trades in one `market_trades` message.
    max_trades_per_message: usize,
}

impl Renderer {
    pub fn new(format: OutputFormat) -> Self {
        Renderer {
            format,
            sequence: 0,
            max_trades_per_message: 4,
        }
    }

    /// Writes one message (replacing `out`'s content) of at most `max_trades` (≥ 1)
    /// trades at `now_ns`.
    pub fn render(
        &mut self,
        market: &mut Market,
        now_ns: i64,
        max_trades: usize,
        out: &mut Vec<u8>,
    ) -> Rendered {
        out.clear();
        let format = match self.format {
            OutputFormat::Mixed => OutputFormat::CONCRETE[market.rng().random_range(0..3)],
            f => f,
        };
        let symbol = market.pick_symbol();
        self.sequence += 1;
        match format {
            OutputFormat::CoinbaseMarketTrades => {
                let n = market
                    .rng()
                    .random_range(1..=self.max_trades_per_message)
                    .min(max_trades.max(1));
                self.market_trades(market, symbol, n, now_ns, out)
            }
            OutputFormat::CoinbaseMatch => self.coinbase_match(market, symbol, now_ns, out),
            _ => normalized(market, symbol, self.sequence, now_ns, out),
        }
    }

    fn coinbase_match(
        &mut self,
        m: &mut Market,
        symbol: usize,
        now_ns: i64,
        out: &mut Vec<u8>,
    ) -> Rendered {
        let ts = now_ns - now_ns.rem_euclid(1000);
        let t = m.next_trade(symbol, 0, ts);
        // Coinbase reports the maker's side: the opposite of the aggressor's.
        let _ = write!(
            out,
            r#"{{"type":"match","trade_id":{},"sequence":{},"maker_order_id":"{:016x}","taker_order_id":"{:016x}","time":"{}","product_id":"{}","size":"{:.8}","price":"{:.prec$}","side":"{}"}}"#,
            t.trade_id,
            self.sequence,
            t.trade_id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            t.trade_id.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
            format_rfc3339(ts, 6),
            m.symbol(symbol),
            t.size,
            t.price,
            t.side.opposite(),
            prec = m.decimals(symbol),
        );
        Rendered {
            format: OutputFormat::CoinbaseMatch,
            symbol,
            trades: 1,
            first_ts: ts,
            last_ts: ts,
        }
    }

    fn market_trades(
        &mut self,
        m: &mut Market,
        symbol: usize,
        n: usize,
        now_ns: i64,
        out: &mut Vec<u8>,
    ) -> Rendered {
        let ts = now_ns - now_ns.rem_euclid(1000);
        let _ = write!(
            out,
            r#"{{"channel":"market_trades","client_id":"","timestamp":"{}","sequence_num":{},"events":[{{"type":"update","trades":["#,
            format_rfc3339(now_ns, 9),
            self.sequence
        );
        for i in 0..n {
            let t = m.next_trade(symbol, 1, ts);
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(
                out,
                r#"{{"trade_id":"{}","product_id":"{}","price":"{:.prec$}","size":"{:.8}","side":"{}","time":"{}"}}"#,
                t.trade_id,
                m.symbol(symbol),
                t.price,
                t.size,
                if t.side == crate::codec::trade::Side::Buy {
                    "BUY"
                } else {
                    "SELL"
                },
                format_rfc3339(ts, 6),
                prec = m.decimals(symbol),
            );
        }
        out.extend_from_slice(b"]}]}");
        Rendered {
            format: OutputFormat::CoinbaseMarketTrades,
            symbol,
            trades: n,
            first_ts: ts,
            last_ts: ts,
        }
    }
}

fn normalized(
    m: &mut Market,
    symbol: usize,
    sequence: u64,
    now_ns: i64,
    out: &mut Vec<u8>,
) -> Rendered {
    let t = m.next_trade(symbol, 0, now_ns);
    let _ = write!(
        out,
        r#"{{"exchange":"coinbase","symbol":"{}","side":"{}","trade_id":"{}","price":{:.prec$},"size":{:.8},"sequence":{},"quality_score":1.0,"timestamp":"{}"}}"#,
        m.symbol(symbol),
        t.side,
        t.trade_id,
        t.price,
        t.size,
        sequence,
        format_rfc3339(now_ns, 9),
        prec = m.decimals(symbol),
    );
    Rendered {
        format: OutputFormat::Normalized,
        symbol,
        trades: 1,
        first_ts: now_ns,
        last_ts: now_ns,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use questdb::ingress::{Buffer, ProtocolVersion};

    use super::*;
    use crate::codec::RecordCodec;
    use crate::codec::format::{InputFormat, decode};
    use crate::codec::validate::Validator;

    const NOW: i64 = 1_750_000_000_123_456_789;

    #[test]
    fn format_names_round_trip() {
        for f in [
            OutputFormat::Mixed,
            OutputFormat::Normalized,
            OutputFormat::CoinbaseMatch,
            OutputFormat::CoinbaseMarketTrades,
        ] {
            assert_eq!(f.as_str().parse::<OutputFormat>(), Ok(f));
        }
        assert!("csv".parse::<OutputFormat>().is_err());
    }

    #[test]
    fn every_rendered_message_decodes_to_what_was_generated() {
        let codec = RecordCodec::new(
            InputFormat::Auto,
            "trades",
            Validator::new(Duration::from_secs(60), Duration::from_secs(60), 1 << 20),
        )
        .unwrap();
        let mut market = Market::new(8, 5000, 3);
        let mut renderer = Renderer::new(OutputFormat::Mixed);
        let mut buf = Buffer::new(ProtocolVersion::V2);
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..3000 {
            let r = renderer.render(&mut market, NOW + i, usize::MAX, &mut out);
            seen.insert(r.format);
            let rows = codec
                .encode_record_at(&out, &mut buf, NOW)
                .unwrap_or_else(|e| {
                    panic!("{e}: {}", String::from_utf8_lossy(&out));
                });
            assert_eq!(rows, r.trades);
            let text = std::str::from_utf8(&out).unwrap();
            decode(text, InputFormat::Auto, |t| {
                assert_eq!(t.symbol, market.symbol(r.symbol));
                assert!(t.timestamp_ns >= r.first_ts && t.timestamp_ns <= r.last_ts);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen.len(), 3, "mixed uses every format");
        let mut one = Renderer::new(OutputFormat::CoinbaseMarketTrades);
        for _ in 0..50 {
            assert_eq!(
                one.render(&mut market, NOW, 1, &mut out).trades,
                1,
                "max_trades is honoured"
            );
        }
    }

    #[test]
    fn coinbase_match_writes_the_makers_side() {
        let mut market = Market::new(1, 0, 4);
        let mut probe = market.clone();
        probe.pick_symbol();
        let expected = probe.next_trade(0, 0, 0).side;
        let mut out = Vec::new();
        Renderer::new(OutputFormat::CoinbaseMatch).render(&mut market, NOW, 1, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!("\"side\":\"{}\"", expected.opposite())),
            "{text}"
        );
        let mut stored = None;
        decode(&text, InputFormat::Auto, |t| {
            stored = Some(t.side);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            stored,
            Some(expected),
            "the consumer stores the aggressor's side"
        );
    }
}
