//! spate's ILP row buffer: rows of the trades table appended as bytes, with every name
//! escaped once when the encoder is built instead of on every row.
//!
//! The bytes are exactly what questdb-rs's `Buffer` writes for the same calls (the unit
//! tests compare the two on generated trades, for both protocol versions), so QuestDB
//! sees no difference; only the cost per row changes.

/// ILP protocol version of a buffer: 1 writes doubles as text, 2 as 8 binary bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IlpVersion {
    V1,
    V2,
}

/// The type byte that announces a binary double in protocol version 2 (`==` + type).
pub(crate) const BINARY_DOUBLE: u8 = 16;

/// A growing batch of ILP rows, with a marker to take back a half-written record.
#[derive(Debug, Clone)]
pub struct IlpBuffer {
    bytes: Vec<u8>,
    rows: usize,
    version: IlpVersion,
    marker: Option<(usize, usize)>,
}

impl IlpBuffer {
    pub fn new(version: IlpVersion) -> Self {
        Self::with_capacity(version, 64 * 1024)
    }

    pub fn with_capacity(version: IlpVersion, capacity: usize) -> Self {
        IlpBuffer {
            bytes: Vec::with_capacity(capacity),
            rows: 0,
            version,
            marker: None,
        }
    }

    pub fn version(&self) -> IlpVersion {
        self.version
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn row_count(&self) -> usize {
        self.rows
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.rows = 0;
        self.marker = None;
    }

    /// Remembers the current end, to [`Self::rewind_to_marker`] later.
    pub fn set_marker(&mut self) {
        self.marker = Some((self.bytes.len(), self.rows));
    }

    /// Drops everything written since [`Self::set_marker`] (nothing if no marker).
    pub fn rewind_to_marker(&mut self) {
        if let Some((len, rows)) = self.marker.take() {
            self.bytes.truncate(len);
            self.rows = rows;
        }
    }

    pub fn clear_marker(&mut self) {
        self.marker = None;
    }

    /// The byte vector, for the row writer in [`crate::codec::encode`].
    pub(crate) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Counts a row the writer finished.
    pub(crate) fn row_written(&mut self) {
        self.rows += 1;
    }
}

/// Bytes that must be escaped with `\` in names, tags (symbols) and, with `"`, in
/// quoted strings. Index by byte: bit 0 unquoted, bit 1 quoted.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = 1;
    t[b',' as usize] = 1;
    t[b'=' as usize] = 1;
    t[b'\n' as usize] = 3;
    t[b'\r' as usize] = 3;
    t[b'\\' as usize] = 3;
    t[b'"' as usize] = 2;
    t
};

#[inline]
fn escape_into(out: &mut Vec<u8>, s: &[u8], mask: u8) {
    if !s.iter().any(|&b| ESCAPE[b as usize] & mask != 0) {
        out.extend_from_slice(s);
        return;
    }
    escape_slow(out, s, mask);
}

#[cold]
fn escape_slow(out: &mut Vec<u8>, s: &[u8], mask: u8) {
    out.reserve(s.len() * 2);
    for &b in s {
        if ESCAPE[b as usize] & mask != 0 {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends a table or column name, or a symbol value, escaped as ILP requires.
#[inline]
pub fn write_unquoted(out: &mut Vec<u8>, s: &str) {
    escape_into(out, s.as_bytes(), 1);
}

/// Appends a string column value in quotes, escaped as ILP requires.
#[inline]
pub fn write_quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s.as_bytes(), 2);
    out.push(b'"');
}

/// Appends an integer column value (`<n>i`).
#[inline]
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
    out.push(b'i');
}

/// Appends a double column value (after the `=` of its key).
#[inline]
pub fn write_f64(out: &mut Vec<u8>, version: IlpVersion, x: f64) {
    match version {
        IlpVersion::V2 => {
            out.push(b'=');
            out.push(BINARY_DOUBLE);
            out.extend_from_slice(&x.to_le_bytes());
        }
        IlpVersion::V1 => write_f64_text(out, x),
    }
}

fn write_f64_text(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(x).as_bytes());
    } else if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_sign_negative() {
        out.extend_from_slice(b"-Infinity");
    } else {
        out.extend_from_slice(b"Infinity");
    }
}

/// Appends the designated timestamp in nanoseconds and ends the row. `false` (and
/// nothing written) for a negative timestamp, which ILP cannot carry.
#[inline]
pub fn write_designated_ns(out: &mut Vec<u8>, version: IlpVersion, ns: i64) -> bool {
    if ns < 0 {
        return false;
    }
    let mut b = itoa::Buffer::new();
    out.push(b' ');
    out.extend_from_slice(b.format(ns).as_bytes());
    match version {
        IlpVersion::V1 => out.push(b'\n'),
        IlpVersion::V2 => out.extend_from_slice(b"n\n"),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_escapes_separators_and_line_breaks() {
        let mut out = Vec::new();
        write_unquoted(&mut out, "a b,c=d\\e\nf\rg\"h");
        assert_eq!(out, b"a\\ b\\,c\\=d\\\\e\\\nf\\\rg\"h");
    }

    #[test]
    fn quoted_escapes_quotes_and_line_breaks_only() {
        let mut out = Vec::new();
        write_quoted(&mut out, "a b,c=\"d\\\n");
        assert_eq!(out, b"\"a b,c=\\\"d\\\\\\\n\"");
    }

    #[test]
    fn marker_takes_back_rows_and_bytes() {
        let mut b = IlpBuffer::new(IlpVersion::V2);
        b.bytes_mut().extend_from_slice(b"x a=1i 1n\n");
        b.row_written();
        b.set_marker();
        b.bytes_mut().extend_from_slice(b"x a=2i");
        b.rewind_to_marker();
        assert_eq!((b.as_bytes(), b.row_count()), (&b"x a=1i 1n\n"[..], 1));
        // Without a marker, rewinding does nothing.
        b.bytes_mut().push(b'y');
        b.rewind_to_marker();
        assert_eq!(b.len(), 11);
        b.clear();
        assert!(b.is_empty() && b.row_count() == 0);
    }

    #[test]
    fn negative_designated_timestamps_are_refused() {
        let mut out = Vec::new();
        assert!(!write_designated_ns(&mut out, IlpVersion::V2, -1));
        assert!(out.is_empty());
        assert!(write_designated_ns(&mut out, IlpVersion::V1, 7));
        assert_eq!(out, b" 7\n");
    }

    #[test]
    fn text_doubles_match_ilp_spelling() {
        for (x, s) in [
            (1.0, "1.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, IlpVersion::V1, x);
            assert_eq!(out, s.as_bytes());
        }
    }
}
