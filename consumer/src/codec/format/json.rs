//! A small strict JSON scanner over an already UTF-8-checked payload: objects are
//! walked key by key, strings are borrowed unless they hold escapes, numbers are
//! returned as their raw text, nested values are validated and returned as raw text.

use std::borrow::Cow;

use crate::codec::reject::{RejectReason, Rejection};

/// Deepest nesting accepted inside a skipped value; deeper input is malformed (and
/// never recurses far enough to threaten the stack).
const MAX_DEPTH: usize = 64;

/// One JSON value as the decoders need it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    /// The number's text, grammar-checked (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    Num(&'a str),
    Bool(bool),
    Null,
    /// The raw text of a nested object, braces included, already validated.
    Object(&'a str),
    /// The raw text of a nested array, brackets included, already validated.
    Array(&'a str),
}

impl Value<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Num(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
            Value::Object(_) => "object",
            Value::Array(_) => "array",
        }
    }
}

pub(crate) struct Scanner<'a> {
    src: &'a str,
    pos: usize,
}

fn malformed(what: &str, pos: usize) -> Rejection {
    Rejection::new(RejectReason::Malformed, format!("{what} at byte {pos}"))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The index, from `from`, of the first byte that ends a plain run inside a JSON
/// string (`"`, `\\` or a control character below 0x20), or `bytes.len()`.
/// Eight bytes are tested at a time: a byte is flagged when it equals `"` or `\\`
/// or is below 0x20 (the lowest flag is exact; higher ones may be spurious, so the
/// flagged word is finished byte by byte).
#[inline]
pub(crate) fn find_string_special(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        let flags = flags & HIGHS;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = bytes.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Scanner { src, pos: 0 }
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(&c) = b.get(self.pos) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &str) -> Result<(), Rejection> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(malformed(what, self.pos))
        }
    }

    /// Walks an object, calling `f(key, value)` for each member in order.
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(Cow<'a, str>, Value<'a>) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        self.expect(b'{', "expected '{'")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.expect(b'"', "expected a key")?;
            let key = self.string_body()?;
            self.expect(b':', "expected ':'")?;
            let value = self.value(0)?;
            f(key, value)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(malformed("expected ',' or '}'", self.pos)),
            }
        }
    }

    /// Walks an array, calling `f` with the scanner positioned at each element;
    /// `f` must consume exactly one value.
    pub(crate) fn array(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        self.expect(b'[', "expected '['")?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            f(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(malformed("expected ',' or ']'", self.pos)),
            }
        }
    }

    /// Succeeds when only whitespace remains.
    pub(crate) fn finish(&mut self) -> Result<(), Rejection> {
        self.ws();
        if self.pos == self.src.len() {
            Ok(())
        } else {
            Err(malformed("trailing characters", self.pos))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, Rejection> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::Str(self.string_body()?))
            }
            Some(b'-' | b'0'..=b'9') => Ok(Value::Num(self.number()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'{') => {
                self.skip_container(depth)?;
                Ok(Value::Object(&self.src[start..self.pos]))
            }
            Some(b'[') => {
                self.skip_container(depth)?;
                Ok(Value::Array(&self.src[start..self.pos]))
            }
            None => Err(malformed("unexpected end of input", self.pos)),
            Some(_) => Err(malformed("unexpected character", self.pos)),
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, Rejection> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(malformed("invalid literal", self.pos))
        }
    }

    fn skip_container(&mut self, depth: usize) -> Result<(), Rejection> {
        if depth >= MAX_DEPTH {
            return Err(malformed("nesting too deep", self.pos));
        }
        let close = if self.peek() == Some(b'{') {
            b'}'
        } else {
            b']'
        };
        let is_object = close == b'}';
        self.pos += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if is_object {
                self.expect(b'"', "expected a key")?;
                self.string_body()?;
                self.expect(b':', "expected ':'")?;
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(malformed("expected ',' or a closing bracket", self.pos)),
            }
        }
    }

    /// Reads a string whose opening quote was consumed; borrowed unless escaped.
    #[inline]
    fn string_body(&mut self) -> Result<Cow<'a, str>, Rejection> {
        let bytes = self.bytes();
        let start = self.pos;
        let i = find_string_special(bytes, start);
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                Ok(Cow::Borrowed(&self.src[start..i]))
            }
            Some(b'\\') => self.string_escaped(start, i),
            Some(_) => Err(malformed("control character in string", i)),
            None => Err(malformed("unterminated string", start)),
        }
    }

    #[cold]
    fn string_escaped(
        &mut self,
        start: usize,
        first_escape: usize,
    ) -> Result<Cow<'a, str>, Rejection> {
        let bytes = self.bytes();
        let mut out = String::with_capacity(first_escape - start + 16);
        out.push_str(&self.src[start..first_escape]);
        let mut i = first_escape;
        let mut run = i;
        loop {
            let Some(&c) = bytes.get(i) else {
                return Err(malformed("unterminated string", start));
            };
            match c {
                b'"' => {
                    out.push_str(&self.src[run..i]);
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    out.push_str(&self.src[run..i]);
                    let esc = bytes.get(i + 1).copied();
                    i += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let hi = self.hex4(i)?;
                            i += 4;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                if bytes.get(i) != Some(&b'\\') || bytes.get(i + 1) != Some(&b'u') {
                                    return Err(malformed("unpaired surrogate", i));
                                }
                                let lo = self.hex4(i + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(malformed("invalid low surrogate", i));
                                }
                                i += 6;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(hi)
                            };
                            match ch {
                                Some(ch) => out.push(ch),
                                None => return Err(malformed("invalid \\u escape", i)),
                            }
                        }
                        _ => return Err(malformed("invalid escape", i - 1)),
                    }
                    run = i;
                }
                0..=0x1f => return Err(malformed("control character in string", i)),
                _ => i += 1,
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, Rejection> {
        let digits = self
            .bytes()
            .get(at..at + 4)
            .ok_or_else(|| malformed("truncated \\u escape", at))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| malformed("invalid \\u escape", at))?;
            v = v * 16 + n;
        }
        Ok(v)
    }

    #[inline]
    fn number(&mut self) -> Result<&'a str, Rejection> {
        let start = self.pos;
        match number_end(self.bytes(), start) {
            Some(end) => {
                self.pos = end;
                Ok(&self.src[start..end])
            }
            None => Err(malformed("invalid number", start)),
        }
    }
}

/// The index just past the JSON number
/// (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`) that starts at `start`, or
/// `None` when no valid number starts there. The number ends at the first byte that
/// cannot continue it.
#[inline]
pub(crate) fn number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while matches!(bytes.get(i), Some(b'0'..=b'9')) {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while matches!(bytes.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == frac_start {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while matches!(bytes.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(src: &str) -> Result<Vec<(String, Value<'_>)>, Rejection> {
        let mut out = Vec::new();
        let mut s = Scanner::new(src);
        s.object(|k, v| {
            out.push((k.into_owned(), v));
            Ok(())
        })?;
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn walks_members_and_borrows_plain_strings() {
        let m = members(r#" {"a":"x","b":-1.5e3,"c":true,"d":null,"e":{"f":[1,{"g":2}]},"h":[]} "#)
            .unwrap();
        assert_eq!(m.len(), 6);
        assert!(matches!(&m[0].1, Value::Str(Cow::Borrowed("x"))));
        assert_eq!(m[1].1, Value::Num("-1.5e3"));
        assert_eq!(m[2].1, Value::Bool(true));
        assert_eq!(m[3].1, Value::Null);
        assert_eq!(m[4].1, Value::Object(r#"{"f":[1,{"g":2}]}"#));
        assert_eq!(m[5].1, Value::Array("[]"));
    }

    #[test]
    fn unescapes_strings_with_escapes() {
        let m = members(r#"{"k\"ey":"a\\b\n\u00e9\ud83d\ude00"}"#).unwrap();
        assert_eq!(m[0].0, "k\"ey");
        assert_eq!(
            m[0].1,
            Value::Str(Cow::Owned("a\\b\n\u{e9}\u{1F600}".into()))
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":1} x",
            "[1]",
            "{\"a\":[1,]}",
            "{\"a\":NaN}",
            "{a:1}",
        ] {
            let err = members(bad).expect_err(bad);
            assert_eq!(err.reason, RejectReason::Malformed, "{bad}");
        }
    }

    #[test]
    fn word_at_a_time_search_matches_byte_by_byte() {
        let alphabet: &[u8] = b"ab\"\\\x00\x1f \x7f\xc3\xa9~";
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..40 {
            for _ in 0..2_000 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for from in 0..=len {
                    let expected = (from..len)
                        .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
                        .unwrap_or(len);
                    assert_eq!(
                        find_string_special(&bytes, from),
                        expected,
                        "{bytes:?} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_rejected_not_recursed() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(members(&deep).unwrap_err().reason, RejectReason::Malformed);
    }

    #[test]
    fn arrays_visit_each_element() {
        let mut s = Scanner::new("[ {\"a\":1} , {\"a\":2} ]");
        let mut n = 0;
        s.array(|s| {
            s.object(|_, _| {
                n += 1;
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(n, 2);
    }
}
