//! The members of one JSON object that any supported format reads, collected in a
//! single pass (order-independent, duplicates refused), and their typed readers.

use std::borrow::Cow;

use super::json::{Scanner, Value};
use super::number::{is_json_number, parse_checked_f64, parse_decimal_str, parse_i64};
use super::time::{parse_epoch, parse_rfc3339};
use crate::codec::reject::{RejectReason, Rejection};
use crate::codec::trade::Side;

/// Known members, by name. Unknown members are validated and skipped.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub exchange: Option<Value<'a>>,
    pub symbol: Option<Value<'a>>,
    pub side: Option<Value<'a>>,
    pub trade_id: Option<Value<'a>>,
    pub price: Option<Value<'a>>,
    pub size: Option<Value<'a>>,
    pub sequence: Option<Value<'a>>,
    pub quality_score: Option<Value<'a>>,
    pub timestamp: Option<Value<'a>>,
    pub kind: Option<Value<'a>>,
    pub product_id: Option<Value<'a>>,
    pub time: Option<Value<'a>>,
    pub channel: Option<Value<'a>>,
    pub events: Option<Value<'a>>,
    pub trades: Option<Value<'a>>,
    pub sequence_num: Option<Value<'a>>,
}

impl<'a> Fields<'a> {
    /// Reads the object at the scanner's position.
    #[inline]
    pub(crate) fn read(scanner: &mut Scanner<'a>) -> Result<Self, Rejection> {
        let mut f = Fields::default();
        f.read_into(scanner)?;
        Ok(f)
    }

    /// Reads the object at the scanner's position into `self` (which must be empty).
    #[inline]
    pub(crate) fn read_into(&mut self, scanner: &mut Scanner<'a>) -> Result<(), Rejection> {
        scanner.object(|key, value| {
            let Some(slot) = self.slot(key.as_bytes()) else {
                return Ok(());
            };
            if slot.is_some() {
                return Err(Rejection::new(
                    RejectReason::Malformed,
                    format!("duplicate field `{key}`"),
                ));
            }
            *slot = Some(value);
            Ok(())
        })
    }

    /// The slot of a known member name: dispatch on length and first byte, then one
    /// comparison.
    #[inline]
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<Value<'a>>> {
        let (name, slot): (&[u8], _) = match (key.len(), key.first()?) {
            (8, b'e') => (b"exchange", &mut self.exchange),
            (6, b's') => (b"symbol", &mut self.symbol),
            (4, b's') => match key[2] {
                b'd' => (b"side", &mut self.side),
                _ => (b"size", &mut self.size),
            },
            (8, b't') => (b"trade_id", &mut self.trade_id),
            (5, b'p') => (b"price", &mut self.price),
            (8, b's') => (b"sequence", &mut self.sequence),
            (13, b'q') => (b"quality_score", &mut self.quality_score),
            (9, b't') => (b"timestamp", &mut self.timestamp),
            (4, b't') => match key[1] {
                b'y' => (b"type", &mut self.kind),
                _ => (b"time", &mut self.time),
            },
            (10, b'p') => (b"product_id", &mut self.product_id),
            (7, b'c') => (b"channel", &mut self.channel),
            (6, b'e') => (b"events", &mut self.events),
            (6, b't') => (b"trades", &mut self.trades),
            (12, b's') => (b"sequence_num", &mut self.sequence_num),
            _ => return None,
        };
        (key == name).then_some(slot)
    }
}

fn missing(name: &str) -> Rejection {
    Rejection::new(
        RejectReason::MissingField,
        format!("missing field `{name}`"),
    )
}

fn wrong_type(name: &str, v: &Value<'_>, expected: &str) -> Rejection {
    Rejection::new(
        RejectReason::Malformed,
        format!("field `{name}` must be {expected}, got {}", v.kind()),
    )
}

/// A required string.
#[inline]
pub(crate) fn string<'a>(v: Option<Value<'a>>, name: &str) -> Result<Cow<'a, str>, Rejection> {
    match v {
        Some(Value::Str(s)) => Ok(s),
        None | Some(Value::Null) => Err(missing(name)),
        Some(other) => Err(wrong_type(name, &other, "a string")),
    }
}

/// A required non-empty symbol.
#[inline]
pub(crate) fn symbol<'a>(v: Option<Value<'a>>, name: &str) -> Result<Cow<'a, str>, Rejection> {
    let s = string(v, name)?;
    if is_blank(&s) {
        return Err(Rejection::new(
            RejectReason::EmptySymbol,
            format!("field `{name}` is empty"),
        ));
    }
    Ok(s)
}

/// A trade id: a non-empty string, or an integer kept as its text.
#[inline]
pub(crate) fn trade_id<'a>(v: Option<Value<'a>>, name: &str) -> Result<Cow<'a, str>, Rejection> {
    match v {
        Some(Value::Str(s)) if !is_blank(&s) => Ok(s),
        Some(Value::Num(n)) if parse_i64(n).is_some() => Ok(Cow::Borrowed(n)),
        Some(Value::Num(_)) => Err(Rejection::new(
            RejectReason::InvalidNumber,
            format!("field `{name}` is not an integer"),
        )),
        None | Some(Value::Null) | Some(Value::Str(_)) => Err(Rejection::new(
            RejectReason::MissingTradeId,
            format!("field `{name}` is missing or empty"),
        )),
        Some(other) => Err(wrong_type(name, &other, "a string or an integer")),
    }
}

/// A side, `buy`/`sell` in any case.
#[inline]
pub(crate) fn side(v: Option<Value<'_>>, name: &str) -> Result<Side, Rejection> {
    let s = string(v, name)?;
    Side::parse(&s).ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownSide,
            format!("field `{name}` is {:?}, expected buy or sell", truncate(&s)),
        )
    })
}

/// A required decimal: JSON number or decimal string.
#[inline]
pub(crate) fn decimal(v: Option<Value<'_>>, name: &str) -> Result<f64, Rejection> {
    let parsed = match &v {
        Some(Value::Num(n)) => parse_checked_f64(n),
        Some(Value::Str(s)) => parse_decimal_str(s),
        None | Some(Value::Null) => return Err(missing(name)),
        Some(other) => return Err(wrong_type(name, other, "a number or a decimal string")),
    };
    parsed.ok_or_else(|| invalid_number(name, &v))
}

/// An optional decimal; `null` or absent is `None`.
#[inline]
pub(crate) fn decimal_opt(v: Option<Value<'_>>, name: &str) -> Result<Option<f64>, Rejection> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => decimal(v, name).map(Some),
    }
}

/// An optional integer (JSON integer or integer string); `null` or absent is `None`.
#[inline]
pub(crate) fn integer_opt(v: Option<Value<'_>>, name: &str) -> Result<Option<i64>, Rejection> {
    let parsed = match &v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Num(n)) => parse_i64(n),
        Some(Value::Str(s)) => parse_i64(s),
        Some(other) => return Err(wrong_type(name, other, "an integer")),
    };
    parsed.map(Some).ok_or_else(|| invalid_number(name, &v))
}

/// A timestamp: RFC 3339 string, or epoch seconds/ms/µs/ns as number or numeric string.
#[inline]
pub(crate) fn timestamp(v: Option<Value<'_>>, name: &str) -> Result<i64, Rejection> {
    let parsed = match &v {
        Some(Value::Str(s)) => timestamp_str(s),
        Some(Value::Num(n)) => parse_epoch(n),
        None | Some(Value::Null) => return Err(missing(name)),
        Some(other) => return Err(wrong_type(name, other, "a timestamp")),
    };
    parsed.ok_or_else(|| {
        let reason = match &v {
            // A well-formed epoch number that does not fit in i64 nanoseconds.
            Some(Value::Num(n)) if is_json_number(n) && !n.contains(['e', 'E']) => {
                RejectReason::TimestampOutOfRange
            }
            _ => RejectReason::Malformed,
        };
        Rejection::new(
            reason,
            format!("field `{name}` is not a valid timestamp: {}", shown(&v)),
        )
    })
}

/// A timestamp given as a string: RFC 3339 when it looks like a date, else epoch.
#[inline]
pub(crate) fn timestamp_str(s: &str) -> Option<i64> {
    if s.len() >= 20 && s.as_bytes()[4] == b'-' {
        parse_rfc3339(s)
    } else {
        parse_epoch(s)
    }
}

fn invalid_number(name: &str, v: &Option<Value<'_>>) -> Rejection {
    Rejection::new(
        RejectReason::InvalidNumber,
        format!("field `{name}` is not a valid number: {}", shown(v)),
    )
}

fn shown(v: &Option<Value<'_>>) -> String {
    match v {
        Some(Value::Str(s)) => format!("{:?}", truncate(s)),
        Some(Value::Num(n)) => truncate(n).to_owned(),
        Some(other) => other.kind().to_owned(),
        None => "nothing".to_owned(),
    }
}

/// True when `s` is empty or only whitespace (as `str::trim` sees it); decided by
/// the first byte for the usual text that starts with a visible ASCII character.
#[inline]
pub(crate) fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(&b) if b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r') => false,
        Some(_) => s.trim().is_empty(),
    }
}

/// At most 64 bytes of `s` (on a char boundary), for rejection details.
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= 64 {
        return s;
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_agrees_with_trim() {
        for s in [
            "",
            " ",
            "\t\n\r",
            "\u{b}",
            "\u{c}",
            "\u{a0}",
            "\u{3000}x",
            "x",
            " x",
            "\u{1f}",
            "é",
            "\u{85}",
            "-",
            "0",
        ] {
            assert_eq!(is_blank(s), s.trim().is_empty(), "{s:?}");
        }
    }
}
