//! Trade timestamps: RFC 3339 text or Unix epoch numbers whose unit is chosen by
//! magnitude, converted to nanoseconds since the epoch without allocating.

/// Parses RFC 3339 (`2014-11-07T08:19:27.028459Z`, `...+02:00`, `t`/`z` and a space
/// separator accepted, up to 9 fractional digits kept, more truncated) into
/// nanoseconds since the Unix epoch. Second 60 (a leap second) counts as the next
/// minute's second 0.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
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

/// Converts a Unix epoch number (`1700000000`, `1700000000.25`, `1700000000123`, as
/// JSON number or numeric string) to nanoseconds. The unit follows the magnitude of
/// the integer part: below 10^11 seconds, below 10^14 milliseconds, below 10^17
/// microseconds, otherwise nanoseconds (each covers dates up to year 5138).
/// Exponents are refused.
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
        ns += (d - b'0') as i64 * scale;
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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
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
    use super::*;

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
