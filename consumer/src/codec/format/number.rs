//! Numbers as exchanges send them: JSON numbers or decimal strings, parsed without
//! allocating in one strict pass (so `inf`, `NaN`, `+1` or `1.` never pass): short
//! decimals exactly on a fast path, the rest by the standard library's parser.

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

/// Exact powers of ten representable as `f64` (10^0..=10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Largest integer every smaller one of which an `f64` holds exactly.
const MAX_EXACT_INT: u64 = 1 << 53;

/// Parses a JSON number (`None` unless `text` follows the grammar) in one pass.
#[inline]
pub(crate) fn parse_json_f64(text: &str) -> Option<f64> {
    match scan_json_f64(text, 0) {
        Some((v, end)) if end == text.len() => Some(v),
        _ => None,
    }
}

/// The value of the ASCII digit at `b[i]`, if there is one.
#[inline(always)]
fn digit_at(b: &[u8], i: usize) -> Option<u64> {
    let d = b.get(i)?.wrapping_sub(b'0');
    (d < 10).then_some(u64::from(d))
}

/// Parses the JSON number that starts at byte `start` of `text`, returning its value
/// and the index just past it; `None` unless a number following the grammar starts
/// there. The number ends at the first byte that cannot continue it, as in a JSON
/// document (what follows is the caller's business).
///
/// Decimals of at most 19 digits whose significand is at most 2^53 and whose decimal
/// exponent is within ±22 (prices and sizes as exchanges send them) are computed as
/// one exactly rounded IEEE multiplication or division of two exact values (Clinger's
/// fast path), which gives the same bits as `str::parse::<f64>`; anything else is
/// handed to `str::parse`.
#[inline(always)]
pub(crate) fn scan_json_f64(text: &str, start: usize) -> Option<(f64, usize)> {
    let b = text.as_bytes();
    let neg = b.get(start) == Some(&b'-');
    let int_start = start + usize::from(neg);
    let mut i = int_start;
    let mut mant: u64 = 0;
    while let Some(d) = digit_at(b, i) {
        mant = mant.wrapping_mul(10).wrapping_add(d);
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut digits = int_len;
    let mut exp10: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while let Some(d) = digit_at(b, i) {
            mant = mant.wrapping_mul(10).wrapping_add(d);
            i += 1;
        }
        let frac_len = i - frac_start;
        if frac_len == 0 {
            return None;
        }
        digits += frac_len;
        exp10 = -(frac_len.min(10_000) as i32);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        let mut e: i32 = 0;
        while let Some(d) = digit_at(b, i) {
            e = (e * 10 + d as i32).min(100_000);
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        exp10 += if exp_neg { -e } else { e };
    }
    // At most 19 digits means `mant` (below 10^19) did not wrap.
    if digits <= 19 && mant <= MAX_EXACT_INT && (-22..=22).contains(&exp10) {
        let m = mant as f64;
        let v = if exp10 < 0 {
            m / POW10[exp10.unsigned_abs() as usize]
        } else {
            m * POW10[exp10 as usize]
        };
        return Some((if neg { -v } else { v }, i));
    }
    let v = text.get(start..i)?.parse::<f64>().ok()?;
    Some((v, i))
}

/// Parses a decimal whose grammar is already known to be a JSON number.
#[inline]
pub(crate) fn parse_checked_f64(text: &str) -> Option<f64> {
    parse_json_f64(text)
}

/// Parses a decimal string such as `"400.23"`; `None` unless it is a JSON number.
#[inline]
pub(crate) fn parse_decimal_str(text: &str) -> Option<f64> {
    parse_json_f64(text)
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

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_decimal(rng: &mut Rng) -> String {
        let mut s = String::new();
        if rng.below(4) == 0 {
            s.push('-');
        }
        let int_digits = rng.below(12);
        if int_digits == 0 {
            s.push('0');
        } else {
            s.push(char::from(b'1' + rng.below(9) as u8));
            for _ in 1..int_digits {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
        }
        let frac_digits = rng.below(14);
        if frac_digits > 0 {
            s.push('.');
            for _ in 0..frac_digits {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
        }
        if rng.below(5) == 0 {
            s.push(if rng.below(2) == 0 { 'e' } else { 'E' });
            match rng.below(3) {
                0 => s.push('-'),
                1 => s.push('+'),
                _ => {}
            }
            s.push_str(&rng.below(40).to_string());
        }
        s
    }

    #[test]
    fn random_decimals_parse_bit_identical_to_std() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300_000 {
            let text = random_decimal(&mut rng);
            let expected = text.parse::<f64>().unwrap();
            let got = parse_json_f64(&text).unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
    }

    #[test]
    fn random_prices_with_printed_precision_round_trip() {
        let mut rng = Rng(42);
        for _ in 0..200_000 {
            let v = rng.below(1_000_000_000_000) as f64 / POW10[rng.below(12) as usize];
            for text in [format!("{v}"), format!("{v:.2}"), format!("{v:.8}")] {
                let expected = text.parse::<f64>().unwrap();
                assert_eq!(
                    parse_json_f64(&text).unwrap().to_bits(),
                    expected.to_bits(),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn edge_decimals_match_std() {
        for text in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "9007199254740992",
            "9007199254740993",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "0.1",
            "0.30000000000000004",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "123456789012345678901234567890",
            "0.000000000000000000000000000001",
            "2.2250738585072014e-308",
            "4.9e-324",
            "1.7976931348623157e308",
            "1e308",
            "1e-400",
            "0e999999",
            "1e999999",
        ] {
            let expected = text.parse::<f64>().unwrap();
            assert_eq!(
                parse_json_f64(text).map(f64::to_bits),
                Some(expected.to_bits()),
                "{text}"
            );
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
