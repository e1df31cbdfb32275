//! Trade timestamps: RFC 3339 text or Unix epoch numbers whose unit is chosen by
//! magnitude, converted to nanoseconds since the epoch without allocating.

/// Parses RFC 3339 (`2014-11-07T08:19:27.028459Z`, `...+02:00`, `t`/`z` and a space
/// separator accepted, up to 9 fractional digits kept, more truncated) into
/// nanoseconds since the Unix epoch. Second 60 (a leap second) counts as the next
/// minute's second 0.
#[inline]
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if let Ok(usual) = <&[u8; 27]>::try_from(b)
        && let Some(ns) = parse_usual(usual)
    {
        return Some(ns);
    }
    parse_any(b)
}

/// The bytes `at..at + 8` as a little-endian word (the first byte lowest).
#[inline(always)]
fn le_word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// What [`digits_match`] adds to each byte of `word ^ template`: 0x76 where the
/// template holds `'0'` (a digit, 0..=9 after the xor, stays below 0x80), 0x7F
/// elsewhere (an exact separator, 0 after the xor, stays below 0x80).
const fn digit_limits(template: u64) -> u64 {
    let mut limits = 0;
    let mut i = 0;
    while i < 8 {
        let byte = (template >> (8 * i)) & 0xFF;
        limits |= (if byte == b'0' as u64 { 0x76 } else { 0x7F }) << (8 * i);
        i += 1;
    }
    limits
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether `word` holds an ASCII digit wherever `template` holds `'0'` and the
/// template's byte everywhere else; when it does, `word ^ template` holds each
/// digit's value in its byte. A byte of `word ^ template` that is 0x80 or more fails
/// by its own high bit, and then a carry it causes into the next byte does not matter.
#[inline(always)]
fn digits_match(word: u64, template: u64) -> bool {
    let v = word ^ template;
    (v | v.wrapping_add(digit_limits(template))) & HIGH_BITS == 0
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, `T` and `Z` upper case), the layout
/// producers usually write, checked eight bytes at a time. `None` for anything else,
/// which [`parse_any`] then decides. On `Some`, every byte of `b` was an ASCII digit
/// or one of `-:.TZ`.
#[inline]
pub(crate) fn parse_usual(b: &[u8; 27]) -> Option<i64> {
    const T0: u64 = u64::from_le_bytes(*b"0000-00-");
    const T1: u64 = u64::from_le_bytes(*b"00T00:00");
    const T2: u64 = u64::from_le_bytes(*b":00.0000");
    let (w0, w1, w2) = (le_word(b, 0), le_word(b, 8), le_word(b, 16));
    let (f4, f5) = (b[24].wrapping_sub(b'0'), b[25].wrapping_sub(b'0'));
    if !(digits_match(w0, T0) & digits_match(w1, T1) & digits_match(w2, T2))
        | (f4 > 9)
        | (f5 > 9)
        | (b[26] != b'Z')
    {
        return None;
    }
    let (v0, v1, v2) = (w0 ^ T0, w1 ^ T1, w2 ^ T2);
    let at = |v: u64, i: u32| ((v >> (8 * i)) & 0xFF) as u32;
    let year = at(v0, 0) * 1000 + at(v0, 1) * 100 + at(v0, 2) * 10 + at(v0, 3);
    let micros = at(v2, 4) * 100_000
        + at(v2, 5) * 10_000
        + at(v2, 6) * 1000
        + at(v2, 7) * 100
        + u32::from(f4) * 10
        + u32::from(f5);
    to_ns(
        i64::from(year),
        at(v0, 5) * 10 + at(v0, 6),
        at(v1, 0) * 10 + at(v1, 1),
        [
            at(v1, 3) * 10 + at(v1, 4),
            at(v1, 6) * 10 + at(v1, 7),
            at(v2, 1) * 10 + at(v2, 2),
        ],
        i64::from(micros) * 1000,
        0,
    )
}

/// Nanoseconds since the epoch of a calendar date, time of day (`[h, m, s]`),
/// nanoseconds and UTC offset; `None` for an impossible date or time, or one out of
/// range.
#[inline(always)]
fn to_ns(
    year: i64,
    month: u32,
    day: u32,
    hms: [u32; 3],
    nanos: i64,
    offset_secs: i64,
) -> Option<i64> {
    let [hour, minute, second] = hms;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64 - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Any RFC 3339 text [`parse_rfc3339`] accepts.
fn parse_any(b: &[u8]) -> Option<i64> {
    let head: &[u8; 20] = b.get(..20)?.try_into().ok()?;
    // Every digit of `YYYY-MM-DDTHH:MM:SS` at its fixed place, checked at once.
    let d = |i: usize| u32::from(head[i].wrapping_sub(b'0'));
    let all_digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        .iter()
        .fold(true, |ok, &i| ok & (d(i) < 10));
    let separators = (head[4] == b'-')
        & (head[7] == b'-')
        & matches!(head[10], b'T' | b't' | b' ')
        & (head[13] == b':')
        & (head[16] == b':');
    if !(all_digits & separators) {
        return None;
    }
    let year = (d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3)) as i64;
    let month = d(5) * 10 + d(6);
    let day = d(8) * 10 + d(9);
    let hour = d(11) * 10 + d(12);
    let minute = d(14) * 10 + d(15);
    let second = d(17) * 10 + d(18);
    let mut i = 19;
    let mut nanos: i64 = 0;
    if head[19] == b'.' {
        i += 1;
        let start = i;
        // The first nine digits count, later ones are truncated.
        let mut frac: u32 = 0;
        while let Some(&c) = b.get(i) {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            if i - start < 9 {
                frac = frac * 10 + u32::from(digit);
            }
            i += 1;
        }
        let kept = (i - start).min(9);
        if kept == 0 {
            return None;
        }
        nanos = i64::from(frac) * POW10_I64[9 - kept];
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)? as i64;
            let om = digits(b, i + 4, 2)? as i64;
            if b.get(i + 3) != Some(&b':') || oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            i += 6;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    to_ns(year, month, day, [hour, minute, second], nanos, offset_secs)
}

/// 10^0..=10^9.
const POW10_I64: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Converts a Unix epoch number (`1700000000`, `1700000000.25`, `1700000000123`, as
/// JSON number or numeric string) to nanoseconds. The unit follows the magnitude of
/// the integer part: below 10^11 seconds, below 10^14 milliseconds, below 10^17
/// microseconds, otherwise nanoseconds (each covers dates up to year 5138).
/// Exponents are refused, and so is a value beyond i64 nanoseconds (`None`).
pub(crate) fn parse_epoch(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let int_len = rest.iter().take_while(|d| d.is_ascii_digit()).count();
    if int_len == 0 || int_len > 19 {
        return None;
    }
    let mut int: i64 = 0;
    for &d in &rest[..int_len] {
        int = int.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    let frac = &rest[int_len..];
    let frac_digits = match frac.first() {
        None => &frac[..0],
        Some(b'.') if frac.len() > 1 && frac[1..].iter().all(u8::is_ascii_digit) => &frac[1..],
        _ => return None,
    };
    let unit_ns: i64 = if int < 100_000_000_000 {
        1_000_000_000
    } else if int < 100_000_000_000_000 {
        1_000_000
    } else if int < 100_000_000_000_000_000 {
        1_000
    } else {
        1
    };
    let mut ns = int.checked_mul(unit_ns)?;
    let mut scale = unit_ns / 10;
    for &d in frac_digits {
        if scale == 0 {
            break;
        }
        ns = ns.checked_add((d - b'0') as i64 * scale)?;
        scale /= 10;
    }
    Some(if neg { -ns } else { ns })
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC with `digits` (0..=9)
/// fractional digits, for renderers of test and load data.
pub fn format_rfc3339(ns: i64, digits: u32) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    );
    if digits > 0 {
        let digits = digits.min(9);
        let frac = sub / 10i64.pow(9 - digits);
        out.push_str(&format!(".{frac:0width$}", width = digits as usize));
    }
    out.push('Z');
    out
}

#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as u32;
    }
    Some(v)
}

#[inline]
fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

#[inline]
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The straightforward field-by-field parser, as the oracle for the one above.
    fn reference_rfc3339(text: &str) -> Option<i64> {
        let b = text.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let year = digits(b, 0, 4)? as i64;
        let month = digits(b, 5, 2)?;
        let day = digits(b, 8, 2)?;
        let hour = digits(b, 11, 2)?;
        let minute = digits(b, 14, 2)?;
        let second = digits(b, 17, 2)?;
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut i = 19;
        let mut nanos: i64 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut scale = 100_000_000;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                nanos += (d - b'0') as i64 * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        let offset_secs: i64 = match b.get(i) {
            Some(b'Z' | b'z') => {
                i += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                let oh = digits(b, i + 1, 2)? as i64;
                let om = digits(b, i + 4, 2)? as i64;
                if b.get(i + 3) != Some(&b':') || oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                i += 6;
                if *sign == b'+' { off } else { -off }
            }
            _ => return None,
        };
        if i != b.len() {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64 - offset_secs;
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)
    }

    #[test]
    fn rfc3339_agrees_with_the_reference_parser() {
        let mut rng = StdRng::seed_from_u64(3339);
        let pokes: &[&str] = &[
            "0", "9", "1", "-", ":", "T", "t", " ", "x", "Z", "z", ".", "+", "\u{e9}",
        ];
        for _ in 0..300_000 {
            let ns: i64 = rng.random();
            let digits = if rng.random_bool(0.5) {
                6
            } else {
                rng.random_range(0..10)
            };
            let mut s = format_rfc3339(ns, digits);
            if rng.random_bool(0.2) {
                s.pop();
                s.push_str(if rng.random_bool(0.5) {
                    "+05:30"
                } else {
                    "-23:59"
                });
            }
            if rng.random_bool(0.2) {
                let extra = rng.random_range(1..6);
                let at = s.len() - 1;
                s.insert_str(at, &"7".repeat(extra));
            }
            for _ in 0..rng.random_range(0..3) {
                let at = rng.random_range(0..s.len());
                if s.is_char_boundary(at) && s.is_char_boundary(at + 1) {
                    s.replace_range(at..at + 1, pokes[rng.random_range(0..pokes.len())]);
                }
            }
            if rng.random_bool(0.05) {
                let at = rng.random_range(0..=s.len());
                if s.is_char_boundary(at) {
                    s.truncate(at);
                }
            }
            assert_eq!(parse_rfc3339(&s), reference_rfc3339(&s), "{s}");
        }
    }

    #[test]
    fn rfc3339_matches_chrono() {
        for text in [
            "2014-11-07T08:19:27.028459Z",
            "2019-08-14T20:42:27.265Z",
            "2024-02-29T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "2025-06-12T10:00:00+09:00",
            "2025-06-12T10:00:00.5-03:30",
        ] {
            let expected = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_nanos_opt();
            assert_eq!(parse_rfc3339(text), expected, "{text}");
        }
        assert_eq!(
            parse_rfc3339("2014-11-07 08:19:27.0284591234z"),
            parse_rfc3339("2014-11-07T08:19:27.028459123Z")
        );
    }

    #[test]
    fn rfc3339_rejects_impossible_dates_and_junk() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:00:00",
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00Zjunk",
            "2023-01-01T00:00:00+0100",
            "yesterday at noon, roughly",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_unit_follows_magnitude() {
        let ns = 1_700_000_000_123_456_789i64;
        assert_eq!(parse_epoch("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_epoch("1700000000.123456789"), Some(ns));
        assert_eq!(
            parse_epoch("1700000000123"),
            Some(1_700_000_000_123_000_000)
        );
        assert_eq!(
            parse_epoch("1700000000123.456"),
            Some(1_700_000_000_123_456_000)
        );
        assert_eq!(
            parse_epoch("1700000000123456"),
            Some(1_700_000_000_123_456_000)
        );
        assert_eq!(parse_epoch("1700000000123456789"), Some(ns));
        assert_eq!(parse_epoch("-5"), Some(-5_000_000_000));
        for bad in ["", "1e9", "1.", "abc", "99999999999999999999", "1.2.3"] {
            assert_eq!(parse_epoch(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_epoch_beyond_the_nanosecond_range_is_refused_not_wrapped() {
        // The integer part fits, the fraction pushes it past i64::MAX nanoseconds.
        assert_eq!(parse_epoch("9223372036.9"), None);
        assert_eq!(parse_epoch("-9223372036.9"), None);
        assert_eq!(parse_epoch("9223372036.854775807"), Some(i64::MAX));
        assert_eq!(parse_epoch("9223372036854775807"), Some(i64::MAX));
    }

    #[test]
    fn formatting_round_trips() {
        let ns = 1_700_000_000_123_456_789i64;
        assert_eq!(format_rfc3339(ns, 9), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(
            parse_rfc3339(&format_rfc3339(ns, 6)),
            Some(ns / 1000 * 1000)
        );
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
    }
}
