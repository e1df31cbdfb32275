//! Tests of the per-record codec: all-or-nothing encoding and no panic on any input.

use std::time::Duration;

use questdb::ingress::{Buffer, ProtocolVersion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const NOW: i64 = 1_749_690_123_000_000_000;

fn codec(format: InputFormat) -> RecordCodec {
    let v = Validator::new(Duration::from_secs(3600), Duration::from_secs(300), 4096);
    RecordCodec::new(format, "trades", v).unwrap()
}

const NORMALIZED: &str = r#"{"exchange":"coinbase","symbol":"BTC-USD","side":"buy","trade_id":"123","price":64123.5,"size":"0.25","sequence":42,"quality_score":0.98,"timestamp":"2025-06-12T01:02:03.123456789Z"}"#;
const MATCH: &str = r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"a","taker_order_id":"b","time":"2025-06-12T01:02:03.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;
const MARKET_TRADES: &str = r#"{"channel":"market_trades","client_id":"","timestamp":"2025-06-12T01:02:04Z","sequence_num":0,"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2025-06-12T01:02:03.265Z"},{"trade_id":"2","product_id":"ETH-USD","price":"1260.02","size":"0.1","side":"SELL","time":"2025-06-12T01:02:03.266Z"}]}]}"#;

#[test]
fn encodes_each_format_into_rows() {
    let c = codec(InputFormat::Auto);
    let mut buf = Buffer::new(ProtocolVersion::V1);
    assert_eq!(
        c.encode_record_at(NORMALIZED.as_bytes(), &mut buf, NOW),
        Ok(1)
    );
    assert_eq!(c.encode_record_at(MATCH.as_bytes(), &mut buf, NOW), Ok(1));
    assert_eq!(
        c.encode_record_at(MARKET_TRADES.as_bytes(), &mut buf, NOW),
        Ok(2)
    );
    assert_eq!(buf.row_count(), 4);
    let text = std::str::from_utf8(buf.as_bytes()).unwrap();
    assert!(text.starts_with("trades,exchange=coinbase,symbol=BTC-USD,side=buy trade_id=\"123\",price=64123.5,size=0.25,sequence=42i,quality_score=0.98 1749690123123456789\n"));
    assert!(
        text.contains("trades,exchange=coinbase-advanced,symbol=ETH-USD,side=sell trade_id=\"2\"")
    );
    buf.check_can_flush().unwrap();
}

#[test]
fn a_rejected_record_leaves_the_buffer_untouched() {
    let c = codec(InputFormat::Auto);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    c.encode_record_at(NORMALIZED.as_bytes(), &mut buf, NOW)
        .unwrap();
    let before = buf.as_bytes().to_vec();
    // The second trade of the message is bad: the first must not stay in the buffer.
    let bad = MARKET_TRADES.replace(r#""side":"SELL""#, r#""side":"HOLD""#);
    let err = c
        .encode_record_at(bad.as_bytes(), &mut buf, NOW)
        .unwrap_err();
    assert_eq!(err.reason, RejectReason::UnknownSide);
    assert_eq!(buf.as_bytes(), &before[..]);
    assert_eq!(buf.row_count(), 1);
    // And the buffer still takes rows afterwards.
    assert_eq!(c.encode_record_at(MATCH.as_bytes(), &mut buf, NOW), Ok(1));
    buf.check_can_flush().unwrap();
}

#[test]
fn spate_buffer_takes_records_all_or_nothing_like_questdb_rs() {
    let c = codec(InputFormat::Auto);
    let mut theirs = Buffer::new(ProtocolVersion::V2);
    let mut mine = crate::ilp::IlpBuffer::new(crate::ilp::IlpVersion::V2);
    let bad = MARKET_TRADES.replace(r#""side":"SELL""#, r#""side":"HOLD""#);
    for payload in [NORMALIZED, &bad, MATCH, MARKET_TRADES, "{", &bad] {
        let a = c.encode_record_at(payload.as_bytes(), &mut theirs, NOW);
        let b = c.encode_record_at(payload.as_bytes(), &mut mine, NOW);
        assert_eq!(a, b, "{payload}");
    }
    assert_eq!(mine.row_count(), 4);
    assert_eq!(mine.row_count(), theirs.row_count());
    assert_eq!(mine.as_bytes(), theirs.as_bytes());
}

#[test]
fn payload_checks_come_first() {
    let c = codec(InputFormat::Auto);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(5000));
    assert_eq!(
        c.encode_record_at(big.as_bytes(), &mut buf, NOW)
            .unwrap_err()
            .reason,
        RejectReason::TooLarge
    );
    let mut utf8 = NORMALIZED.as_bytes().to_vec();
    utf8[30] = 0xff;
    assert_eq!(
        c.encode_record_at(&utf8, &mut buf, NOW).unwrap_err().reason,
        RejectReason::InvalidUtf8
    );
    assert!(buf.is_empty());
}

#[test]
fn out_of_window_and_non_positive_trades_are_rejected() {
    let c = codec(InputFormat::Normalized);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let late = NOW + 3 * 3600 * 1_000_000_000;
    assert_eq!(
        c.encode_record_at(NORMALIZED.as_bytes(), &mut buf, late)
            .unwrap_err()
            .reason,
        RejectReason::TimestampOutOfRange
    );
    let neg = NORMALIZED.replace(r#""size":"0.25""#, r#""size":"-0.25""#);
    assert_eq!(
        c.encode_record_at(neg.as_bytes(), &mut buf, NOW)
            .unwrap_err()
            .reason,
        RejectReason::NonPositive
    );
    assert!(buf.is_empty());
}

#[test]
fn the_wall_clock_variant_accepts_current_trades() {
    let c = codec(InputFormat::Normalized);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let now = crate::codec::format::time::format_rfc3339(now_ns(), 6);
    let text = NORMALIZED.replace("2025-06-12T01:02:03.123456789Z", &now);
    assert_eq!(c.encode_record(text.as_bytes(), &mut buf), Ok(1));
}

#[test]
fn reasons_have_distinct_snake_case_names() {
    let names: std::collections::HashSet<&str> =
        RejectReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), RejectReason::ALL.len());
    assert!(names.iter().all(|n| {
        n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }));
}

/// Feeds `payload` through every format; the buffer must be unchanged on rejection
/// and complete (flushable) either way.
fn survive(payload: &[u8], buf: &mut Buffer) {
    for format in InputFormat::ALL {
        let before = buf.len();
        match codec(format).encode_record_at(payload, buf, NOW) {
            Ok(_) => {}
            Err(_) => assert_eq!(buf.len(), before),
        }
        buf.check_can_flush().unwrap();
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let alphabet = br#"{}[]":,.-+eE0123456789 abcdefnulltruesymbolpricetype\u"#;
    for _ in 0..20_000 {
        let len = rng.random_range(0..96);
        let bytes: Vec<u8> = if rng.random_bool(0.5) {
            (0..len).map(|_| rng.random()).collect()
        } else {
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        };
        survive(&bytes, &mut buf);
    }
}

#[test]
fn truncations_and_mutations_of_valid_messages_never_panic() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    for msg in [NORMALIZED, MATCH, MARKET_TRADES] {
        let bytes = msg.as_bytes();
        for cut in 0..bytes.len() {
            survive(&bytes[..cut], &mut buf);
            survive(&bytes[cut..], &mut buf);
        }
        for _ in 0..3000 {
            let mut m = bytes.to_vec();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..m.len());
                m[i] = rng.random();
            }
            survive(&m, &mut buf);
        }
    }
}

/// Each kind of poison the codec meets, with the one reason it is refused for.
fn poison_kinds() -> Vec<(&'static str, Vec<u8>, RejectReason)> {
    let n = NORMALIZED.as_bytes();
    let mut truncated_utf8 = NORMALIZED.replace("BTC-USD", "BTC-€").into_bytes();
    let euro = truncated_utf8
        .windows(3)
        .position(|w| w == "€".as_bytes())
        .unwrap();
    truncated_utf8.truncate(euro + 2);
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(n);
    let nested = format!(
        r#"{{"exchange":"x","extra":{}1{},"symbol":"BTC-USD"}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    vec![
        ("truncated UTF-8", truncated_utf8, RejectReason::InvalidUtf8),
        ("deep nesting", nested.into_bytes(), RejectReason::Malformed),
        (
            "huge number",
            NORMALIZED
                .replace("64123.5", &format!("1{}", "0".repeat(400)))
                .into_bytes(),
            RejectReason::InvalidNumber,
        ),
        (
            "huge integer",
            NORMALIZED
                .replace("\"sequence\":42", "\"sequence\":99999999999999999999")
                .into_bytes(),
            RejectReason::InvalidNumber,
        ),
        (
            "duplicate key",
            NORMALIZED
                .replace(r#""side":"buy""#, r#""side":"buy","side":"sell""#)
                .into_bytes(),
            RejectReason::Malformed,
        ),
        ("byte order mark", bom, RejectReason::Malformed),
        (
            "NUL byte in a string",
            NORMALIZED.replace("BTC-USD", "BTC\0USD").into_bytes(),
            RejectReason::Malformed,
        ),
        ("NUL byte alone", b"\0".to_vec(), RejectReason::Malformed),
        (
            "value too large",
            NORMALIZED
                .replace("BTC-USD", &"x".repeat(10 << 20))
                .into_bytes(),
            RejectReason::TooLarge,
        ),
    ]
}

#[test]
fn every_poison_kind_is_refused_for_its_reason_and_leaves_the_buffer_alone() {
    let v = Validator::new(Duration::from_secs(3600), Duration::from_secs(300), 1 << 20);
    let c = RecordCodec::new(InputFormat::Auto, "trades", v).unwrap();
    for (kind, payload, reason) in poison_kinds() {
        let mut buf = Buffer::new(ProtocolVersion::V2);
        let got = c.encode_record_at(&payload, &mut buf, NOW);
        assert_eq!(got.map_err(|r| r.reason), Err(reason), "{kind}");
        assert_eq!(buf.row_count(), 0, "{kind}");
        assert!(buf.as_bytes().is_empty(), "{kind}");
    }
}
