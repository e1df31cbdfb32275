//! Numbers as exchanges send them: JSON numbers or decimal strings, parsed without
//! allocating (the standard library's Eisel-Lemire float parser after a strict
//! grammar check, so `inf`, `NaN`, `+1` or `1.` never pass).

/// True when `text` follows the JSON number grammar
/// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(crate) fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

/// Parses a decimal whose grammar is already known to be a JSON number.
#[inline]
pub(crate) fn parse_checked_f64(text: &str) -> Option<f64> {
    text.parse::<f64>().ok()
}

/// Parses a decimal string such as `"400.23"`; `None` unless it is a JSON number.
#[inline]
pub(crate) fn parse_decimal_str(text: &str) -> Option<f64> {
    if is_json_number(text) {
        parse_checked_f64(text)
    } else {
        None
    }
}

/// Parses an optionally negative integer without fraction or exponent.
#[inline]
pub(crate) fn parse_i64(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let n = (d - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(n)?
        } else {
            v.checked_mul(10)?.checked_add(n)?
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_follow_json_grammar() {
        assert_eq!(parse_decimal_str("400.23"), Some(400.23));
        assert_eq!(parse_decimal_str("0.3"), Some(0.3));
        assert_eq!(parse_decimal_str("-1e3"), Some(-1000.0));
        assert_eq!(parse_decimal_str("1E-2"), Some(0.01));
        for bad in [
            "", "NaN", "inf", "+1", "1.", ".5", "01", "1e", "1,5", " 1", "0x10", "1e+",
        ] {
            assert_eq!(parse_decimal_str(bad), None, "{bad}");
        }
    }

    #[test]
    fn huge_exponent_parses_to_infinity_for_the_validator_to_refuse() {
        assert_eq!(parse_decimal_str("1e400"), Some(f64::INFINITY));
    }

    #[test]
    fn integers_are_checked_for_overflow() {
        assert_eq!(parse_i64("0"), Some(0));
        assert_eq!(parse_i64("-42"), Some(-42));
        assert_eq!(parse_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("1.0"), None);
        assert_eq!(parse_i64("-"), None);
        assert_eq!(parse_i64(""), None);
    }
}
