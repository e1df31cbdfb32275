//! Pure. The validity end (`notAfter`) of a PEM certificate, read from its DER without a
//! full X.509 parser: a client certificate that expired is named as the cause of a TLS
//! failure the broker only reports as "certificate unknown".

use base64::Engine as _;

/// A DER element: its tag and contents, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `notAfter` of the first certificate in `pem`, in seconds since the epoch.
pub fn not_after(pem: &str) -> Option<i64> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let (_, certificate, _) = element(&der)?;
    let (_, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    // version [0] (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (_, validity, _) = element(rest)?;
    let (_, _not_before, after) = element(validity)?;
    let (tag, time, _) = element(after)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 0x18).
fn parse_time(tag: u8, text: &str) -> Option<i64> {
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = digits.get(..2)?.parse().ok()?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        0x18 => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client certificate valid from 2020-01-01 to 2021-01-01, made by the local
    /// environment's `openssl ca` (tests/env/kafka/tls.sh).
    const EXPIRED: &str = "-----BEGIN CERTIFICATE-----
MIIBoTCCAUigAwIBAgIRAItq3d7eK0pCcQRmNsy4lMAwCgYIKoZIzj0EAwIwGTEX
MBUGA1UEAwwOc3BhdGUta2Fma2EtY2EwHhcNMjAwMTAxMDAwMDAwWhcNMjEwMTAx
MDAwMDAwWjAYMRYwFAYDVQQDDA1zcGF0ZS1leHBpcmVkMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEKuBehNGrhfDOizFYZ3Okl9ax9j+f/AOo9tsfq7bc0dOzy/9C
Kq5XDxas7n89WiS0ya9R2YVl9oDbDKnA5uYVLaNyMHAwCQYDVR0TBAIwADAOBgNV
HQ8BAf8EBAMCBaAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFKH69sqY
2aU+kF8YykUwDabHLP7xMB8GA1UdIwQYMBaAFHN0jitRO9xmovy0ln7IjFKcg1Aw
MAoGCCqGSM49BAMCA0cAMEQCIH3uIJOuTM4Ew5RbLIH3NdhpcH7cmpSMjmwNmSoF
lAI1AiAJ1mc/SY+J7hwMY6zGXx80TNhOQMlg9VTAl/V96yldwg==
-----END CERTIFICATE-----
";

    #[test]
    fn the_end_of_validity_is_read_from_the_certificate() {
        assert_eq!(
            not_after(EXPIRED),
            Some(1_609_459_200),
            "2021-01-01T00:00:00Z"
        );
    }

    #[test]
    fn both_time_encodings_are_read() {
        assert_eq!(parse_time(0x17, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x18, "20500101000000Z"), Some(2_524_608_000));
        assert_eq!(parse_time(0x17, "700101000000Z"), Some(0));
        assert_eq!(parse_time(0x17, "7001010000"), None);
    }

    #[test]
    fn anything_else_is_no_date() {
        assert_eq!(not_after("not a certificate"), None);
        assert_eq!(
            not_after("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            None
        );
    }
}
