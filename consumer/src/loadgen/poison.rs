//! Poison records: payloads the consumer must dead-letter, each with the reason it
//! should give.

use crate::codec::reject::RejectReason;

/// One kind of bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoisonKind {
    MalformedJson,
    MissingField,
    NanPrice,
    NegativeSize,
    UnknownSide,
    Oversized,
    InvalidUtf8,
}

impl PoisonKind {
    pub const ALL: [PoisonKind; 7] = [
        PoisonKind::MalformedJson,
        PoisonKind::MissingField,
        PoisonKind::NanPrice,
        PoisonKind::NegativeSize,
        PoisonKind::UnknownSide,
        PoisonKind::Oversized,
        PoisonKind::InvalidUtf8,
    ];

    /// The reason the consumer gives for this record.
    pub fn expected_reason(self) -> RejectReason {
        match self {
            PoisonKind::MalformedJson => RejectReason::Malformed,
            PoisonKind::MissingField => RejectReason::MissingField,
            PoisonKind::NanPrice => RejectReason::InvalidNumber,
            PoisonKind::NegativeSize => RejectReason::NonPositive,
            PoisonKind::UnknownSide => RejectReason::UnknownSide,
            PoisonKind::Oversized => RejectReason::TooLarge,
            PoisonKind::InvalidUtf8 => RejectReason::InvalidUtf8,
        }
    }

    /// The n-th poison kind, cycling through all of them.
    pub fn nth(n: u64) -> PoisonKind {
        PoisonKind::ALL[(n % PoisonKind::ALL.len() as u64) as usize]
    }

    /// Writes the payload into `out` (replacing its content). `oversized_bytes` is the
    /// size of the oversized record (it must exceed the consumer's limit).
    pub fn render(self, timestamp: &str, oversized_bytes: usize, out: &mut Vec<u8>) {
        out.clear();
        let good = |side: &str, price: &str, size: &str| {
            format!(
                r#"{{"exchange":"coinbase","symbol":"BTC-USD","side":"{side}","trade_id":"poison","price":{price},"size":{size},"timestamp":"{timestamp}"}}"#
            )
        };
        match self {
            PoisonKind::MalformedJson => out.extend_from_slice(br#"{"exchange":"coinbase","symbol":"BTC-USD","price":1"#),
            PoisonKind::MissingField => out.extend_from_slice(
                format!(r#"{{"exchange":"coinbase","side":"buy","trade_id":"poison","price":1,"size":1,"timestamp":"{timestamp}"}}"#).as_bytes(),
            ),
            PoisonKind::NanPrice => out.extend_from_slice(good("buy", "\"NaN\"", "1").as_bytes()),
            PoisonKind::NegativeSize => out.extend_from_slice(good("sell", "1", "-0.5").as_bytes()),
            PoisonKind::UnknownSide => out.extend_from_slice(good("hold", "1", "1").as_bytes()),
            PoisonKind::Oversized => {
                let head = br#"{"exchange":"coinbase","symbol":"BTC-USD","padding":""#;
                out.extend_from_slice(head);
                out.resize(oversized_bytes.saturating_sub(2).max(head.len()), b'x');
                out.extend_from_slice(b"\"}");
            }
            PoisonKind::InvalidUtf8 => {
                out.extend_from_slice(good("buy", "1", "1").as_bytes());
                let at = out.iter().position(|&b| b == b'B').unwrap_or(0);
                out[at] = 0xff;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use questdb::ingress::{Buffer, ProtocolVersion};

    use super::*;
    use crate::codec::RecordCodec;
    use crate::codec::format::InputFormat;
    use crate::codec::format::time::format_rfc3339;
    use crate::codec::validate::Validator;

    #[test]
    fn each_poison_is_rejected_with_its_reason() {
        let now = 1_750_000_000_000_000_000;
        let codec = RecordCodec::new(
            InputFormat::Auto,
            "trades",
            Validator::new(Duration::from_secs(60), Duration::from_secs(60), 1 << 20),
        )
        .unwrap();
        let mut buf = Buffer::new(ProtocolVersion::V2);
        let mut out = Vec::new();
        for (i, kind) in PoisonKind::ALL.into_iter().enumerate() {
            assert_eq!(PoisonKind::nth(i as u64), kind);
            kind.render(&format_rfc3339(now, 6), (1 << 20) + 1, &mut out);
            let err = codec.encode_record_at(&out, &mut buf, now).unwrap_err();
            assert_eq!(err.reason, kind.expected_reason(), "{kind:?}");
        }
        PoisonKind::Oversized.render("", (1 << 20) + 1, &mut out);
        assert_eq!(out.len(), (1 << 20) + 1);
        assert!(buf.is_empty());
    }
}
