//! The properties the fuzz targets check (`consumer/fuzz/`), callable on any bytes: each
//! panics when spate's decoders, timestamp parsers or ILP writer break one. The corpus
//! test replays the committed corpora through them on the stable toolchain.

use std::borrow::Cow;

use questdb::ingress::{Buffer, ProtocolVersion};

use crate::codec::RecordCodec;
use crate::codec::encode::TradeEncoder;
use crate::codec::format::time::{format_rfc3339, parse_epoch, parse_rfc3339, parse_usual};
use crate::codec::format::{InputFormat, decode, decode_generic, fast};
use crate::codec::reject::RejectReason;
use crate::codec::trade::{Side, Trade};
use crate::codec::validate::Validator;
use crate::ilp::{IlpBuffer, IlpVersion};

/// The instant validation runs against in the targets (2025-06-12).
pub(crate) const NOW: i64 = 1_749_690_123_000_000_000;

/// A decode result with everything observable: floats by their bits, strings with
/// whether they borrow from the payload; or the rejection's reason and detail.
type Seen = Result<Vec<String>, (RejectReason, String)>;

fn show(t: &Trade<'_>) -> String {
    let cow = |c: &Cow<'_, str>| format!("{c:?}/{}", matches!(c, Cow::Borrowed(_)));
    format!(
        "{} {} {:?} {} {:x} {:x} {:?} {:?} {}",
        cow(&t.exchange),
        cow(&t.symbol),
        t.side,
        cow(&t.trade_id),
        t.price.to_bits(),
        t.size.to_bits(),
        t.sequence,
        t.quality_score.map(f64::to_bits),
        t.timestamp_ns
    )
}

fn seen(text: &str, format: InputFormat, generic: bool) -> Seen {
    let validator = Validator::new(
        std::time::Duration::from_secs(400 * 86_400),
        std::time::Duration::from_secs(300),
        1 << 20,
    );
    let mut out = Vec::new();
    let sink = |t: Trade<'_>| {
        let shown = show(&t);
        validator.check_trade(&t, NOW)?;
        out.push(shown);
        Ok(())
    };
    let n = if generic {
        decode_generic(text, format, sink)
    } else {
        decode(text, format, sink)
    }
    .map_err(|r| (r.reason, r.detail))?;
    assert_eq!(
        n,
        out.len(),
        "trades counted and handed over differ: {text:?}"
    );
    Ok(out)
}

/// Every input format's decoder on `data`: no panic; the fast path and the generic
/// walk give the same trades or the same rejection, reason and detail; the fast path
/// only yields what the generic walk decodes; the whole codec (size, UTF-8, decode,
/// validation, ILP) leaves its buffer untouched when it refuses.
pub fn decoders(data: &[u8]) {
    let codec = RecordCodec::new(
        InputFormat::Auto,
        "trades",
        Validator::new(
            std::time::Duration::from_secs(400 * 86_400),
            std::time::Duration::from_secs(300),
            1 << 20,
        ),
    )
    .expect("codec");
    let mut buf = IlpBuffer::new(IlpVersion::V2);
    let before = buf.as_bytes().len();
    match codec.encode_record_at(data, &mut buf, NOW) {
        Ok(rows) => assert_eq!(rows, buf.row_count()),
        Err(_) => assert_eq!(
            (buf.as_bytes().len(), buf.row_count()),
            (before, 0),
            "a refused record left bytes behind"
        ),
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    paths_agree(text);
    for format in [
        InputFormat::CoinbaseMatch,
        InputFormat::CoinbaseMarketTrades,
    ] {
        let _ = seen(text, format, false);
    }
}

/// The normalised fast path and the generic walk agree on `text`: the same trades or
/// the same rejection, and the fast path yields only what the generic walk decodes.
pub(crate) fn paths_agree(text: &str) {
    for format in [InputFormat::Auto, InputFormat::Normalized] {
        assert_eq!(
            seen(text, format, false),
            seen(text, format, true),
            "{format}: fast and generic paths differ on {text:?}"
        );
    }
    if let Some(t) = fast::normalized(text)
        && let Ok(generic) = seen(text, InputFormat::Normalized, true)
    {
        assert_eq!(generic, vec![show(&t)], "fast path trade differs: {text:?}");
    }
    for format in [
        InputFormat::CoinbaseMatch,
        InputFormat::CoinbaseMarketTrades,
    ] {
        let _ = seen(text, format, false);
    }
}

/// The timestamp parsers on `data`: no panic; the usual-layout parser agrees with the
/// general one wherever it decides; a parsed RFC 3339 time formats back to the same
/// instant; an epoch number parses as exact arithmetic says, or is refused when that
/// leaves i64 nanoseconds.
pub fn timestamps(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_rfc3339(text);
    if let Ok(usual) = <&[u8; 27]>::try_from(data)
        && let Some(ns) = parse_usual(usual)
    {
        assert_eq!(parsed, Some(ns), "usual layout disagrees: {text:?}");
    }
    if let Some(ns) = parsed
        && (0..253_402_300_800_000_000_000_i128).contains(&i128::from(ns))
    {
        assert_eq!(parse_rfc3339(&format_rfc3339(ns, 9)), Some(ns), "{text:?}");
    }
    assert_eq!(parse_epoch(text), reference_epoch(text), "epoch {text:?}");
}

/// `parse_epoch`'s rule in 128-bit arithmetic.
fn reference_epoch(text: &str) -> Option<i64> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (rest, ""),
    };
    if int.is_empty()
        || int.len() > 19
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i128 = int.parse().ok()?;
    if int > i128::from(i64::MAX) {
        return None;
    }
    let unit: i128 = match int {
        i if i < 100_000_000_000 => 1_000_000_000,
        i if i < 100_000_000_000_000 => 1_000_000,
        i if i < 100_000_000_000_000_000 => 1_000,
        _ => 1,
    };
    let digits = unit.ilog10() as usize;
    let kept: String = frac.chars().take(digits).collect();
    let frac_ns = if kept.is_empty() {
        0
    } else {
        kept.parse::<i128>().ok()? * 10i128.pow((digits - kept.len()) as u32)
    };
    let ns = i64::try_from(int * unit + frac_ns).ok()?;
    Some(if neg { -ns } else { ns })
}

/// Reads the fields of a trade from fuzz bytes, without failing.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }
    fn u64(&mut self) -> u64 {
        let mut w = [0u8; 8];
        let b = self.take(8);
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    }
    fn text(&mut self) -> Cow<'a, str> {
        let n = usize::from(self.byte() % 24);
        String::from_utf8_lossy(self.take(n))
    }
}

/// spate's ILP writer on a trade made of `data`: it writes exactly the bytes
/// questdb-rs's `Buffer` writes for it, in both protocol versions, or refuses it
/// when questdb-rs does.
pub fn ilp_writer(data: &[u8]) {
    let mut b = Bytes(data);
    let flags = b.byte();
    let trade = Trade {
        exchange: b.text(),
        symbol: b.text(),
        side: if flags & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        },
        trade_id: b.text(),
        price: f64::from_bits(b.u64()),
        size: f64::from_bits(b.u64()),
        sequence: (flags & 2 != 0).then(|| b.u64() as i64),
        quality_score: (flags & 4 != 0).then(|| f64::from_bits(b.u64())),
        timestamp_ns: b.u64() as i64,
    };
    let table = if flags & 8 == 0 { "trades" } else { "t_2" };
    let enc = TradeEncoder::new(table).expect("table name");
    for (version, ours) in [
        (ProtocolVersion::V1, IlpVersion::V1),
        (ProtocolVersion::V2, IlpVersion::V2),
    ] {
        let mut theirs = Buffer::new(version);
        let mut mine = IlpBuffer::new(ours);
        let their_result = enc.encode(&trade, &mut theirs);
        let my_result = enc.encode_ilp(&trade, &mut mine);
        assert_eq!(
            my_result.is_ok(),
            their_result.is_ok(),
            "{ours:?}: spate {my_result:?}, questdb-rs {their_result:?} for {trade:?}"
        );
        if my_result.is_ok() {
            assert_eq!(mine.row_count(), theirs.row_count());
            assert!(
                mine.as_bytes() == theirs.as_bytes(),
                "{ours:?}: bytes differ for {trade:?}:\n{:?}\n{:?}",
                String::from_utf8_lossy(mine.as_bytes()),
                String::from_utf8_lossy(theirs.as_bytes())
            );
        }
    }
}

/// A fuzz target: checks its properties on any bytes, panicking on a violation.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as the corpus directories are named.
pub const TARGETS: [(&str, Target); 3] = [
    ("decoders", decoders),
    ("timestamps", timestamps),
    ("ilp_writer", ilp_writer),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_reference_follows_the_documented_rule() {
        assert_eq!(
            reference_epoch("1700000000.5"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            reference_epoch("1700000000123"),
            Some(1_700_000_000_123_000_000)
        );
        assert_eq!(reference_epoch("-5"), Some(-5_000_000_000));
        assert_eq!(reference_epoch("9223372036.9"), None);
        assert_eq!(reference_epoch("1."), None);
        assert_eq!(reference_epoch("1e9"), None);
    }

    #[test]
    fn the_properties_hold_on_ordinary_input() {
        decoders(br#"{"exchange":"coinbase","symbol":"BTC-USD","side":"sell","trade_id":"7","price":60000.00,"size":0.0001,"sequence":9,"quality_score":1.0,"timestamp":"2025-06-12T01:02:03.123456Z"}"#);
        timestamps(b"2025-06-12T01:02:03.123456Z");
        timestamps(b"1749690123.123456789");
        ilp_writer(&[
            7, 3, b'a', b',', b'b', 0, 1, b'x', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
        ]);
    }
}
