//! The normalised trade exactly as producers write it, decoded in one forward pass:
//! the nine members in their usual order (`exchange, symbol, side, trade_id, price,
//! size, sequence, quality_score, timestamp`), no whitespace (but after the object),
//! no escapes, nothing else in the object. Member names are matched as byte prefixes at the cursor and
//! numbers are parsed while they are scanned.
//!
//! Anything unexpected (other order, whitespace, an escape, a missing or extra
//! member, a value of another type, a value the generic decoder would refuse) gives
//! `None`, and the caller decodes the message with the generic member walk, which
//! also produces every rejection. So this path only ever yields trades, and only for
//! input that the generic walk decodes into the very same trade: it uses the same
//! string, number and timestamp readers on the same bytes.

use std::borrow::Cow;

use super::fields::{is_blank, timestamp_str};
use super::json::{find_string_special, number_end};
use super::number::{parse_i64, parse_json_f64, scan_json_f64};
use super::time::{parse_epoch, parse_usual};
use crate::codec::trade::{Side, Trade};

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Consumes `lit` if the input continues with it.
    #[inline(always)]
    fn lit<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        let got: &[u8; N] = self.bytes().get(self.pos..self.pos + N)?.try_into().ok()?;
        if got == lit {
            self.pos += N;
            Some(())
        } else {
            None
        }
    }

    /// A string without escapes whose opening quote was consumed; consumes the
    /// closing quote.
    #[inline(always)]
    fn plain_str(&mut self) -> Option<&'a str> {
        let end = find_string_special(self.bytes(), self.pos);
        if self.bytes().get(end) != Some(&b'"') {
            return None;
        }
        let s = self.text.get(self.pos..end)?;
        self.pos = end + 1;
        Some(s)
    }

    /// A JSON number's text, grammar-checked.
    #[inline(always)]
    fn number_text(&mut self) -> Option<&'a str> {
        let end = number_end(self.bytes(), self.pos)?;
        let n = self.text.get(self.pos..end)?;
        self.pos = end;
        Some(n)
    }

    /// A decimal as `fields::decimal` reads it: a JSON number or a decimal string.
    #[inline(always)]
    fn decimal(&mut self) -> Option<f64> {
        if self.peek()? == b'"' {
            self.pos += 1;
            parse_json_f64(self.plain_str()?)
        } else {
            let (v, end) = scan_json_f64(self.text, self.pos)?;
            self.pos = end;
            Some(v)
        }
    }

    /// An optional decimal as `fields::decimal_opt` reads it.
    #[inline(always)]
    fn decimal_opt(&mut self) -> Option<Option<f64>> {
        if self.lit(b"null").is_some() {
            return Some(None);
        }
        self.decimal().map(Some)
    }

    /// A JSON number that is an integer of at most 18 digits (so it fits in an
    /// `i64` whatever the digits), with its text. `None` for anything else, longer
    /// integers included: `parse_i64` on the number's text decides those.
    #[inline(always)]
    fn short_integer(&mut self) -> Option<(i64, &'a str)> {
        let b = self.bytes();
        let start = self.pos;
        let neg = b.get(start) == Some(&b'-');
        let digits_start = start + usize::from(neg);
        let mut i = digits_start;
        let mut v: i64 = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if i - digits_start == 18 {
                return None;
            }
            v = v * 10 + i64::from(d);
            i += 1;
        }
        let len = i - digits_start;
        // No digits, a leading zero, or a fraction or exponent following: not a
        // plain JSON integer.
        if len == 0
            || (len > 1 && b[digits_start] == b'0')
            || matches!(b.get(i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let text = self.text.get(start..i)?;
        self.pos = i;
        Some((if neg { -v } else { v }, text))
    }

    /// An optional integer as `fields::integer_opt` reads it.
    #[inline(always)]
    fn integer_opt(&mut self) -> Option<Option<i64>> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                parse_i64(self.plain_str()?).map(Some)
            }
            b'n' => self.lit(b"null").map(|()| None),
            _ => self.short_integer().map(|(v, _)| Some(v)),
        }
    }

    /// A trade id as `fields::trade_id` accepts it.
    #[inline(always)]
    fn trade_id(&mut self) -> Option<&'a str> {
        if self.peek()? == b'"' {
            self.pos += 1;
            let s = self.plain_str()?;
            (!is_blank(s)).then_some(s)
        } else {
            self.short_integer().map(|(_, text)| text)
        }
    }

    /// A timestamp as `fields::timestamp` accepts it.
    #[inline(always)]
    fn timestamp(&mut self) -> Option<i64> {
        if self.peek()? == b'"' {
            self.pos += 1;
            // The usual `YYYY-MM-DDTHH:MM:SS.ffffffZ` right before the closing quote:
            // `parse_usual` accepts only digits and `-:.TZ`, so no byte of it can end
            // or escape the string, and `timestamp_str` would parse it the same way.
            if let Some(usual) = self.bytes().get(self.pos..self.pos + 28)
                && usual[27] == b'"'
                && let Some(ns) = parse_usual(usual[..27].try_into().ok()?)
            {
                self.pos += 28;
                return Some(ns);
            }
            timestamp_str(self.plain_str()?)
        } else {
            parse_epoch(self.number_text()?)
        }
    }

    /// A side as `fields::side` accepts it, `buy` and `sell` matched first.
    #[inline(always)]
    fn side(&mut self) -> Option<Side> {
        if self.lit(b"buy\"").is_some() {
            return Some(Side::Buy);
        }
        if self.lit(b"sell\"").is_some() {
            return Some(Side::Sell);
        }
        Side::parse(self.plain_str()?)
    }

    /// A non-blank string.
    #[inline(always)]
    fn name(&mut self) -> Option<&'a str> {
        let s = self.plain_str()?;
        (!is_blank(s)).then_some(s)
    }
}

/// Decodes `text` if it is a normalised trade in the usual layout that decodes
/// without rejection; `None` means "use the generic decoder".
#[inline]
pub(crate) fn normalized(text: &str) -> Option<Trade<'_>> {
    let mut c = Cursor { text, pos: 0 };
    c.lit(b"{\"exchange\":\"")?;
    let exchange = c.name()?;
    c.lit(b",\"symbol\":\"")?;
    let symbol = c.name()?;
    c.lit(b",\"side\":\"")?;
    let side = c.side()?;
    c.lit(b",\"trade_id\":")?;
    let trade_id = c.trade_id()?;
    c.lit(b",\"price\":")?;
    let price = c.decimal()?;
    c.lit(b",\"size\":")?;
    let size = c.decimal()?;
    c.lit(b",\"sequence\":")?;
    let sequence = c.integer_opt()?;
    c.lit(b",\"quality_")?;
    c.lit(b"score\":")?;
    let quality_score = c.decimal_opt()?;
    c.lit(b",\"timestamp\":")?;
    let timestamp_ns = c.timestamp()?;
    c.lit(b"}")?;
    // Only whitespace may follow, as `Scanner::finish` requires (a trailing newline
    // is common).
    if !text.as_bytes()[c.pos..]
        .iter()
        .all(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        return None;
    }
    Some(Trade {
        exchange: Cow::Borrowed(exchange),
        symbol: Cow::Borrowed(symbol),
        side,
        trade_id: Cow::Borrowed(trade_id),
        price,
        size,
        sequence,
        quality_score,
        timestamp_ns,
    })
}

#[cfg(test)]
mod tests {
    //! Differential tests: on any input, `decode` (fast path first) must give exactly
    //! what the generic member walk gives, trades and rejections alike.

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::codec::format::time::format_rfc3339;
    use crate::fuzzing::NOW;

    /// Asserts both paths agree on `text` (part of the `decoders` fuzz property);
    /// returns whether the fast path decided it.
    fn agree(text: &str) -> bool {
        crate::fuzzing::paths_agree(text);
        normalized(text).is_some()
    }

    fn pick<'s>(rng: &mut StdRng, items: &[&'s str]) -> &'s str {
        items[rng.random_range(0..items.len())]
    }

    fn digits(rng: &mut StdRng, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    }

    fn decimal(rng: &mut StdRng) -> String {
        match rng.random_range(0..10) {
            0 => pick(
                rng,
                &[
                    "0",
                    "-0",
                    "0.0",
                    "1e400",
                    "-1.5",
                    "1E-2",
                    "01",
                    "1.",
                    ".5",
                    "-",
                    "1e",
                    "9007199254740993",
                    "123456789012345678901234",
                    "0.000000000000000000001",
                    "1e22",
                    "1e23",
                    "2.5e+3",
                    "NaN",
                    "true",
                    "null",
                    "\"1.5\"",
                    "\"x\"",
                ],
            )
            .to_owned(),
            1 => {
                let (int, frac) = (rng.random_range(0..100_000u64), rng.random_range(1..22));
                format!("{int}.{}", digits(rng, frac))
            }
            2 => format!(
                "{}e{}",
                rng.random_range(1..1000u64),
                rng.random_range(-30..30i32)
            ),
            3 => format!("\"{}\"", rng.random_range(1..1_000_000u64) as f64 / 1000.0),
            _ => {
                let v = rng.random_range(1..10_000_000_000_000u64) as f64
                    / 10f64.powi(rng.random_range(0..13));
                match rng.random_range(0..3) {
                    0 => format!("{v}"),
                    1 => format!("{v:.2}"),
                    _ => format!("{v:.8}"),
                }
            }
        }
    }

    fn integer(rng: &mut StdRng) -> String {
        match rng.random_range(0..8) {
            0 => pick(
                rng,
                &[
                    "null",
                    "0",
                    "-1",
                    "4.2",
                    "1e3",
                    "01",
                    "\"42\"",
                    "\"x\"",
                    "\"\"",
                    "9223372036854775807",
                    "9223372036854775808",
                    "-9223372036854775808",
                    "999999999999999999",
                    "-999999999999999999",
                    "1000000000000000000",
                    "-0",
                    "true",
                    "nul",
                    "[]",
                    "{}",
                ],
            )
            .to_owned(),
            _ => rng.random_range(0..20_000_000_000u64).to_string(),
        }
    }

    fn timestamp(rng: &mut StdRng) -> String {
        let ns = NOW + rng.random_range(-2_000_000_000_000_000..2_000_000_000_000_000i64);
        match rng.random_range(0..12) {
            0 => pick(
                rng,
                &[
                    "\"2025-02-30T01:02:03Z\"",
                    "\"2024-02-29T23:59:60.5Z\"",
                    "\"2025-06-12T01:02:03.123456789123Z\"",
                    "\"2025-06-12t01:02:03z\"",
                    "\"2025-06-12 01:02:03.1+05:30\"",
                    "\"2025-06-12T01:02:03-00:00\"",
                    "\"2025-06-12T01:02:03.Z\"",
                    "\"2025-06-12T01:02:03\"",
                    "\"2025-06-12T24:02:03Z\"",
                    "\"2025-13-12T01:02:03Z\"",
                    "\"1749690123\"",
                    "\"1749690123.5\"",
                    "1749690123123",
                    "1749690123123456",
                    "1749690123123456789",
                    "99999999999999999999",
                    "1.7e9",
                    "-5",
                    "null",
                    "\"\"",
                ],
            )
            .to_owned(),
            1 => (ns / 1_000_000_000).to_string(),
            2 => format!("\"{}\"", ns / 1_000_000),
            _ => {
                let digits = if rng.random_bool(0.5) {
                    6
                } else {
                    rng.random_range(0..10)
                };
                let mut s = format_rfc3339(ns, digits);
                if rng.random_bool(0.2) {
                    // Poke one byte of the date or time.
                    let at = rng.random_range(0..s.len());
                    let c = pick(rng, &["0", "9", "3", "-", ":", "T", "x", "Z", "."]);
                    s.replace_range(at..at + 1, c);
                }
                format!("\"{s}\"")
            }
        }
    }

    fn string_value(rng: &mut StdRng, usual: &[&str]) -> String {
        match rng.random_range(0..10) {
            0 => pick(
                rng,
                &[
                    "\"\"",
                    "\" \"",
                    "\"\\u00a0\"",
                    "null",
                    "7",
                    "\"é\"",
                    "\"\u{3000}x\"",
                ],
            )
            .to_owned(),
            1 => format!("\"{}\"", pick(rng, usual).to_lowercase()),
            _ => format!("\"{}\"", pick(rng, usual)),
        }
    }

    /// One normalised trade with random values, as (name, raw JSON value) members.
    fn members(rng: &mut StdRng) -> Vec<(String, String)> {
        let exchange = string_value(rng, &["coinbase", "kraken", "binance", "bïnance", "x y"]);
        let symbol = string_value(rng, &["BTC-USD", "ETH-USD", "DOGE-USD", "a,b=c"]);
        let side = match rng.random_range(0..8) {
            0 => pick(
                rng,
                &["\"BUY\"", "\"Sell\"", "\"hold\"", "\"\"", "1", "null"],
            )
            .to_owned(),
            n if n % 2 == 0 => "\"buy\"".to_owned(),
            _ => "\"sell\"".to_owned(),
        };
        let trade_id = match rng.random_range(0..6) {
            0 => integer(rng),
            1 => pick(rng, &["\"\"", "\" \"", "null", "1.5", "-3", "\"ab-12\""]).to_owned(),
            _ => format!("\"{}\"", rng.random_range(0..10_000_000_000u64)),
        };
        let mut m = vec![
            ("exchange", exchange),
            ("symbol", symbol),
            ("side", side),
            ("trade_id", trade_id),
            ("price", decimal(rng)),
            ("size", decimal(rng)),
            ("sequence", integer(rng)),
            ("quality_score", decimal(rng)),
            ("timestamp", timestamp(rng)),
        ];
        if rng.random_bool(0.1) {
            m[7].1 = "null".to_owned();
        }
        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn render(members: &[(String, String)]) -> String {
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Escapes one character of a string in `text` as `\u00XX`.
    fn escape_one(rng: &mut StdRng, text: &str) -> Option<String> {
        let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
        let at = *quotes.get(rng.random_range(0..quotes.len().max(1)))? + 1;
        let c = text[at..].chars().next()?;
        if !c.is_ascii_alphanumeric() {
            return None;
        }
        Some(format!(
            "{}\\u{:04x}{}",
            &text[..at],
            u32::from(c),
            &text[at + 1..]
        ))
    }

    fn mutate(rng: &mut StdRng, mut m: Vec<(String, String)>) -> String {
        match rng.random_range(0..14) {
            0 => {
                let (a, b) = (rng.random_range(0..m.len()), rng.random_range(0..m.len()));
                m.swap(a, b);
                render(&m)
            }
            1 => {
                m.remove(rng.random_range(0..m.len()));
                render(&m)
            }
            2 => {
                let extra = pick(
                    rng,
                    &[
                        "\"extra\":{\"a\":[1,2]}",
                        "\"type\":\"match\"",
                        "\"channel\":\"market_trades\"",
                        "\"exchange\":\"dup\"",
                        "\"timestamp\":1",
                        "\"product_id\":\"BTC-USD\"",
                        "\"z\":null",
                    ],
                );
                let (k, v) = extra.split_once(':').unwrap();
                let at = rng.random_range(0..=m.len());
                m.insert(at, (k.trim_matches('"').to_owned(), v.to_owned()));
                render(&m)
            }
            3 => {
                // Quote a number, or unquote a string.
                let i = rng.random_range(0..m.len());
                let v = &m[i].1;
                m[i].1 = if v.starts_with('"') {
                    v.trim_matches('"').to_owned()
                } else {
                    format!("\"{v}\"")
                };
                render(&m)
            }
            4 => {
                let text = render(&m);
                let ws = pick(rng, &[" ", "\n", "\t", "\r", "  "]);
                let at = rng.random_range(0..=text.len());
                if text.is_char_boundary(at) {
                    format!("{}{ws}{}", &text[..at], &text[at..])
                } else {
                    text
                }
            }
            5 => {
                let text = render(&m);
                escape_one(rng, &text).unwrap_or(text)
            }
            6 => {
                let text = render(&m);
                let mut at = rng.random_range(0..=text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text[..at].to_owned()
            }
            7 => {
                let text = render(&m);
                let at = rng.random_range(0..text.len());
                if !text.is_char_boundary(at) || !text.is_char_boundary(at + 1) {
                    return text;
                }
                let c = pick(
                    rng,
                    &[
                        "\"", "\\", ",", ":", "{", "}", "[", "0", "9", "-", ".", "e", "x", " ",
                        "\u{1}", "é", "\u{7f}",
                    ],
                );
                format!("{}{c}{}", &text[..at], &text[at + 1..])
            }
            8 => format!(
                "{}{}",
                render(&m),
                pick(rng, &[" ", "\n", "x", "}", "{}", ","])
            ),
            9 => {
                let text = render(&m);
                let at = rng.random_range(0..text.len());
                if text.is_char_boundary(at) {
                    format!("{}{}", &text[..at], &text[at..].replacen(':', ": ", 1))
                } else {
                    text
                }
            }
            _ => render(&m),
        }
    }

    #[test]
    fn fast_path_agrees_with_the_generic_walk_on_generated_input() {
        let mut rng = StdRng::seed_from_u64(0x5eed_f00d);
        let (mut fast, mut total) = (0usize, 0usize);
        for _ in 0..60_000 {
            let m = members(&mut rng);
            let text = mutate(&mut rng, m);
            fast += usize::from(agree(&text));
            total += 1;
        }
        // The generator must reach the fast path often, or this test proves little.
        assert!(fast * 10 > total, "fast path decided {fast} of {total}");
        assert!(fast < total, "fast path decided everything");
    }

    #[test]
    fn fast_path_agrees_on_random_bytes_and_other_formats() {
        let mut rng = StdRng::seed_from_u64(7);
        let alphabet = [
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "0",
            "1",
            "-",
            ".",
            "e",
            "a",
            "\\",
            " ",
            "null",
            "true",
            "é",
            "\"exchange\":",
            "\"symbol\":",
            "\"timestamp\":",
        ];
        for _ in 0..20_000 {
            let n = rng.random_range(0..40);
            let text: String = (0..n).map(|_| pick(&mut rng, &alphabet)).collect();
            agree(&text);
        }
        for text in [
            r#"{"type":"match","trade_id":10,"sequence":50,"time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#,
            r#"{"channel":"market_trades","sequence_num":3,"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#,
            "",
            "{}",
            "{\"exchange\":\"",
        ] {
            assert!(!agree(text), "{text}");
        }
    }

    #[test]
    fn usual_payloads_take_the_fast_path() {
        let text = r#"{"exchange":"coinbase","symbol":"BTC-USD","side":"sell","trade_id":"700000000","price":60000.00,"size":0.00010000,"sequence":9000000000,"quality_score":1.0,"timestamp":"2025-06-12T01:02:03.123456Z"}"#;
        assert!(agree(text));
        let t = normalized(text).unwrap();
        assert_eq!(
            (t.exchange.as_ref(), t.symbol.as_ref(), t.trade_id.as_ref()),
            ("coinbase", "BTC-USD", "700000000")
        );
        assert_eq!((t.side, t.price, t.size), (Side::Sell, 60000.0, 0.0001));
        assert_eq!(
            (t.sequence, t.quality_score),
            (Some(9_000_000_000), Some(1.0))
        );
        assert_eq!(t.timestamp_ns, 1_749_690_123_123_456_000);
        let epoch = text.replace("\"2025-06-12T01:02:03.123456Z\"", "1749690123123456");
        assert_eq!(normalized(&epoch).unwrap().timestamp_ns, t.timestamp_ns);
        for trailing in ["\n", " \r\n\t"] {
            let text = format!("{text}{trailing}");
            assert!(agree(&text));
            assert_eq!(normalized(&text).unwrap().timestamp_ns, t.timestamp_ns);
        }
        let nulls = text.replace("9000000000", "null").replace("1.0", "null");
        let t = normalized(&nulls).unwrap();
        assert_eq!((t.sequence, t.quality_score), (None, None));
    }
}
