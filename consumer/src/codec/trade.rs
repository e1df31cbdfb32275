//! The trade every input format decodes into, borrowing its strings from the payload.

use std::borrow::Cow;
use std::fmt;

/// Which side of the book the aggressor (taker) of a trade was on.
///
/// Formats that report the maker's side (Coinbase Exchange `match`) are inverted at
/// decode time, so every stored row means the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// The value written to the `side` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    /// The other side of the book.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Parses `buy`/`sell` in any ASCII case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Side> {
        if text.eq_ignore_ascii_case("buy") {
            Some(Side::Buy)
        } else if text.eq_ignore_ascii_case("sell") {
            Some(Side::Sell)
        } else {
            None
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One executed trade. Strings are borrowed from the Kafka payload unless the JSON
/// string held escapes (then they are unescaped into an owned string).
#[derive(Debug, Clone, PartialEq)]
pub struct Trade<'a> {
    pub exchange: Cow<'a, str>,
    pub symbol: Cow<'a, str>,
    pub side: Side,
    pub trade_id: Cow<'a, str>,
    pub price: f64,
    pub size: f64,
    pub sequence: Option<i64>,
    pub quality_score: Option<f64>,
    /// Execution time, nanoseconds since the Unix epoch (UTC).
    pub timestamp_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_parses_any_case_and_rejects_others() {
        assert_eq!(Side::parse("buy"), Some(Side::Buy));
        assert_eq!(Side::parse("SELL"), Some(Side::Sell));
        assert_eq!(Side::parse("Sell"), Some(Side::Sell));
        assert_eq!(Side::parse("hold"), None);
        assert_eq!(Side::parse(""), None);
    }

    #[test]
    fn opposite_side_flips() {
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Side::Sell.opposite().as_str(), "buy");
    }
}
