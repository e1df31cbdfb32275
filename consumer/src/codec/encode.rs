//! ILP encoding of trades (into spate's [`IlpBuffer`] or a questdb-rs [`Buffer`]), and
//! the table's DDL: the column list lives here once so rows and table never disagree.

use questdb::ingress::{Buffer, ColumnName, TableName, TimestampNanos};

use crate::codec::trade::Trade;
use crate::ilp::{self, IlpBuffer, RowBuffer};

/// Column names, in ILP order (symbols first).
pub mod columns {
    pub const EXCHANGE: &str = "exchange";
    pub const SYMBOL: &str = "symbol";
    pub const SIDE: &str = "side";
    pub const TRADE_ID: &str = "trade_id";
    pub const PRICE: &str = "price";
    pub const SIZE: &str = "size";
    pub const SEQUENCE: &str = "sequence";
    pub const QUALITY_SCORE: &str = "quality_score";
    /// The designated timestamp (ILP's default designated column name).
    pub const TIMESTAMP: &str = "timestamp";

    /// Every column with its QuestDB type, in table order.
    pub const ALL: [(&str, &str); 9] = [
        (EXCHANGE, "SYMBOL"),
        (SYMBOL, "SYMBOL"),
        (SIDE, "SYMBOL"),
        (TRADE_ID, "VARCHAR"),
        (PRICE, "DOUBLE"),
        (SIZE, "DOUBLE"),
        (SEQUENCE, "LONG"),
        (QUALITY_SCORE, "DOUBLE"),
        (TIMESTAMP, "TIMESTAMP"),
    ];

    /// The deduplication keys: the designated timestamp and the trade's identity.
    pub const UPSERT_KEYS: [&str; 4] = [TIMESTAMP, EXCHANGE, SYMBOL, TRADE_ID];
}

/// A table name spate refuses: it must be an identifier (`[A-Za-z_][A-Za-z0-9_]*`, at
/// most 127 bytes) so it is valid both in ILP and unquoted in SQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid table name {name:?}: {reason}")]
pub struct InvalidTableName {
    pub name: String,
    pub reason: String,
}

/// Checks a table name once, at configuration time.
pub fn check_table_name(name: &str) -> Result<(), InvalidTableName> {
    let bad = |reason: &str| InvalidTableName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(bad("empty")),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(bad("must start with a letter or '_'"));
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad("only letters, digits and '_' are allowed"));
    }
    if name.len() > 127 {
        return Err(bad("longer than 127 bytes"));
    }
    TableName::new(name).map_err(|e| bad(e.msg()))?;
    Ok(())
}

/// `CREATE TABLE IF NOT EXISTS` for the trades table: WAL, partitioned by day, and
/// deduplicated on the trade's identity so replays leave no duplicate.
pub fn trades_table_ddl(table: &str) -> String {
    let cols: Vec<String> = columns::ALL
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({}) TIMESTAMP({}) PARTITION BY DAY WAL \
         DEDUP UPSERT KEYS({})",
        cols.join(", "),
        columns::TIMESTAMP,
        columns::UPSERT_KEYS.join(", "),
    )
}

/// Writes trades as ILP rows of one table; names are checked once in [`TradeEncoder::new`].
///
/// Two row targets: spate's [`IlpBuffer`], whose keys are escaped here once, and
/// questdb-rs's `Buffer` (used when the client library carries the connection: TLS,
/// TCP). Both produce the same bytes.
#[derive(Debug, Clone)]
pub struct TradeEncoder {
    table: String,
    keys: Keys,
}

/// Pre-escaped row pieces: `table,exchange=`, `,symbol=`, … in ILP order.
#[derive(Debug, Clone)]
struct Keys {
    table_exchange: Vec<u8>,
    symbol: Vec<u8>,
    side: Vec<u8>,
    trade_id: Vec<u8>,
    price: Vec<u8>,
    size: Vec<u8>,
    sequence: Vec<u8>,
    quality_score: Vec<u8>,
}

impl Keys {
    fn new(table: &str) -> Self {
        let key = |sep: u8, name: &str| {
            let mut k = vec![sep];
            ilp::write_unquoted(&mut k, name);
            k.push(b'=');
            k
        };
        let mut table_exchange = Vec::new();
        ilp::write_unquoted(&mut table_exchange, table);
        table_exchange.extend_from_slice(&key(b',', columns::EXCHANGE));
        Keys {
            table_exchange,
            symbol: key(b',', columns::SYMBOL),
            side: key(b',', columns::SIDE),
            // The first non-symbol column follows a space.
            trade_id: key(b' ', columns::TRADE_ID),
            price: key(b',', columns::PRICE),
            size: key(b',', columns::SIZE),
            sequence: key(b',', columns::SEQUENCE),
            quality_score: key(b',', columns::QUALITY_SCORE),
        }
    }
}

/// A row the ILP buffer could not take (only a negative timestamp, which validation
/// refuses long before).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {0} ns is negative, ILP cannot carry it")]
pub struct NegativeTimestamp(pub i64);

impl TradeEncoder {
    pub fn new(table: &str) -> Result<Self, InvalidTableName> {
        check_table_name(table)?;
        for (name, _) in columns::ALL {
            debug_assert!(ColumnName::new(name).is_ok(), "{name}");
        }
        Ok(TradeEncoder {
            table: table.to_owned(),
            keys: Keys::new(table),
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Appends one row to spate's buffer. On error nothing of the row is counted and
    /// the bytes may be half written: callers rewind (see [`crate::codec::RecordCodec`]).
    #[inline]
    pub fn encode_ilp(&self, t: &Trade<'_>, buf: &mut IlpBuffer) -> Result<(), NegativeTimestamp> {
        let version = buf.version();
        let k = &self.keys;
        let out = buf.bytes_mut();
        out.reserve(
            96 + t.exchange.len() + t.symbol.len() + t.trade_id.len() + k.table_exchange.len(),
        );
        out.extend_from_slice(&k.table_exchange);
        ilp::write_unquoted(out, &t.exchange);
        out.extend_from_slice(&k.symbol);
        ilp::write_unquoted(out, &t.symbol);
        out.extend_from_slice(&k.side);
        out.extend_from_slice(t.side.as_str().as_bytes());
        out.extend_from_slice(&k.trade_id);
        ilp::write_quoted(out, &t.trade_id);
        out.extend_from_slice(&k.price);
        ilp::write_f64(out, version, t.price);
        out.extend_from_slice(&k.size);
        ilp::write_f64(out, version, t.size);
        if let Some(seq) = t.sequence {
            out.extend_from_slice(&k.sequence);
            ilp::write_i64(out, seq);
        }
        if let Some(q) = t.quality_score {
            out.extend_from_slice(&k.quality_score);
            ilp::write_f64(out, version, q);
        }
        if !ilp::write_designated_ns(out, version, t.timestamp_ns) {
            return Err(NegativeTimestamp(t.timestamp_ns));
        }
        buf.row_written();
        Ok(())
    }

    /// Appends one row to a questdb-rs `Buffer`. On error the row may be half
    /// written: callers rewind (see [`crate::codec::RecordCodec`]).
    #[inline]
    pub fn encode(&self, t: &Trade<'_>, buf: &mut Buffer) -> questdb::Result<()> {
        // Names were validated in `new` (table) and by the unit tests (columns).
        let col = ColumnName::new_unchecked;
        buf.table(TableName::new_unchecked(&self.table))?
            .symbol(col(columns::EXCHANGE), &t.exchange)?
            .symbol(col(columns::SYMBOL), &t.symbol)?
            .symbol(col(columns::SIDE), t.side.as_str())?
            .column_str(col(columns::TRADE_ID), &t.trade_id)?
            .column_f64(col(columns::PRICE), t.price)?
            .column_f64(col(columns::SIZE), t.size)?;
        if let Some(seq) = t.sequence {
            buf.column_i64(col(columns::SEQUENCE), seq)?;
        }
        if let Some(q) = t.quality_score {
            buf.column_f64(col(columns::QUALITY_SCORE), q)?;
        }
        buf.at(TimestampNanos::new(t.timestamp_ns))
    }
}

/// Where a record's rows go: all or nothing per record.
pub trait TradeRows {
    /// Starts a record (remembers where it began).
    fn begin_record(&mut self) -> Result<(), String>;
    /// Appends one trade of the current record.
    fn push_trade(&mut self, encoder: &TradeEncoder, trade: &Trade<'_>) -> Result<(), String>;
    /// Ends the record: keeps its rows, or takes them all back.
    fn end_record(&mut self, keep: bool);
}

impl TradeRows for IlpBuffer {
    #[inline]
    fn begin_record(&mut self) -> Result<(), String> {
        self.set_marker();
        Ok(())
    }

    #[inline]
    fn push_trade(&mut self, encoder: &TradeEncoder, trade: &Trade<'_>) -> Result<(), String> {
        encoder.encode_ilp(trade, self).map_err(|e| e.to_string())
    }

    #[inline]
    fn end_record(&mut self, keep: bool) {
        if keep {
            self.clear_marker();
        } else {
            self.rewind_to_marker();
        }
    }
}

impl TradeRows for Buffer {
    fn begin_record(&mut self) -> Result<(), String> {
        self.set_marker().map_err(|e| e.msg().to_owned())
    }

    fn push_trade(&mut self, encoder: &TradeEncoder, trade: &Trade<'_>) -> Result<(), String> {
        encoder.encode(trade, self).map_err(|e| e.msg().to_owned())
    }

    fn end_record(&mut self, keep: bool) {
        if keep {
            self.clear_marker();
        } else {
            // The marker was set in `begin_record`, so rewinding cannot fail.
            let _ = self.rewind_to_marker();
        }
    }
}

impl TradeRows for RowBuffer {
    #[inline]
    fn begin_record(&mut self) -> Result<(), String> {
        match self {
            RowBuffer::Spate(b) => b.begin_record(),
            RowBuffer::Client(b) => b.begin_record(),
        }
    }

    #[inline]
    fn push_trade(&mut self, encoder: &TradeEncoder, trade: &Trade<'_>) -> Result<(), String> {
        match self {
            RowBuffer::Spate(b) => b.push_trade(encoder, trade),
            RowBuffer::Client(b) => b.push_trade(encoder, trade),
        }
    }

    #[inline]
    fn end_record(&mut self, keep: bool) {
        match self {
            RowBuffer::Spate(b) => b.end_record(keep),
            RowBuffer::Client(b) => b.end_record(keep),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use questdb::ingress::ProtocolVersion;

    use super::*;
    use crate::codec::trade::Side;
    use crate::ilp::IlpVersion;

    #[test]
    fn column_names_are_valid_ilp_names() {
        for (name, _) in columns::ALL {
            assert!(ColumnName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn table_names_must_be_identifiers() {
        assert!(check_table_name("trades").is_ok());
        assert!(check_table_name("_t2").is_ok());
        for bad in [
            "",
            "2t",
            "my trades",
            "t;drop",
            "t.x",
            "é",
            &"x".repeat(128),
        ] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ddl_declares_every_column_and_dedup_keys() {
        let ddl = trades_table_ddl("trades");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS trades (exchange SYMBOL, symbol SYMBOL, side SYMBOL, trade_id VARCHAR, price DOUBLE, size DOUBLE, sequence LONG, quality_score DOUBLE, timestamp TIMESTAMP)"));
        assert!(ddl.ends_with("TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, exchange, symbol, trade_id)"));
    }

    #[test]
    fn encodes_one_ilp_line_per_trade() {
        let enc = TradeEncoder::new("trades").unwrap();
        let mut buf = Buffer::new(ProtocolVersion::V1);
        let t = Trade {
            exchange: Cow::Borrowed("coinbase"),
            symbol: Cow::Borrowed("BTC-USD"),
            side: Side::Sell,
            trade_id: Cow::Borrowed("a b"),
            price: 400.23,
            size: 5.5,
            sequence: Some(50),
            quality_score: None,
            timestamp_ns: 1_415_348_367_028_459_000,
        };
        enc.encode(&t, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(buf.as_bytes()).unwrap(),
            "trades,exchange=coinbase,symbol=BTC-USD,side=sell trade_id=\"a b\",price=400.23,size=5.5,sequence=50i 1415348367028459000\n"
        );
        assert_eq!(buf.row_count(), 1);
    }

    /// A string of characters ILP treats specially, mixed with ordinary and non-ASCII ones.
    fn awkward(rng: &mut impl rand::Rng) -> String {
        const PIECES: [&str; 12] = [
            "a", "Z", "9", " ", ",", "=", "\\", "\"", "\n", "\r", "é", "-",
        ];
        let n = rng.random_range(0..12);
        (0..n)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect()
    }

    #[test]
    fn spate_buffer_writes_the_same_bytes_as_questdb_rs() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (table, version, ours) in [
            ("trades", ProtocolVersion::V1, IlpVersion::V1),
            ("trades", ProtocolVersion::V2, IlpVersion::V2),
            ("t_2", ProtocolVersion::V2, IlpVersion::V2),
        ] {
            let enc = TradeEncoder::new(table).unwrap();
            let mut theirs = Buffer::new(version);
            let mut mine = IlpBuffer::new(ours);
            for i in 0..5_000 {
                let (exchange, symbol, trade_id) = if i % 4 == 0 {
                    (awkward(&mut rng), awkward(&mut rng), awkward(&mut rng))
                } else {
                    (
                        "coinbase".into(),
                        "BTC-USD".into(),
                        rng.random::<u32>().to_string(),
                    )
                };
                let x = |rng: &mut rand::rngs::StdRng| match rng.random_range(0..6) {
                    0 => rng.random::<f64>() * 1e-9,
                    1 => rng.random::<f64>() * 1e18,
                    2 => (rng.random_range(1..10_000_000) as f64) / 100.0,
                    3 => f64::from_bits(rng.random::<u64>() >> 2),
                    _ => rng.random::<f64>() * 70_000.0,
                };
                let t = Trade {
                    exchange: Cow::Owned(exchange),
                    symbol: Cow::Owned(symbol),
                    side: if rng.random() { Side::Buy } else { Side::Sell },
                    trade_id: Cow::Owned(trade_id),
                    price: x(&mut rng),
                    size: x(&mut rng),
                    sequence: rng.random_bool(0.7).then(|| rng.random::<i64>()),
                    quality_score: rng.random_bool(0.5).then(|| x(&mut rng)),
                    timestamp_ns: rng.random_range(0..i64::MAX),
                };
                enc.encode(&t, &mut theirs).unwrap();
                enc.encode_ilp(&t, &mut mine).unwrap();
            }
            assert_eq!(mine.row_count(), theirs.row_count());
            assert!(
                mine.as_bytes() == theirs.as_bytes(),
                "{table} {ours:?}: first difference at byte {:?}",
                mine.as_bytes()
                    .iter()
                    .zip(theirs.as_bytes())
                    .position(|(a, b)| a != b)
            );
        }
    }

    #[test]
    fn spate_buffer_refuses_negative_timestamps_like_questdb_rs() {
        let enc = TradeEncoder::new("trades").unwrap();
        let t = Trade {
            exchange: Cow::Borrowed("x"),
            symbol: Cow::Borrowed("y"),
            side: Side::Buy,
            trade_id: Cow::Borrowed("1"),
            price: 1.0,
            size: 1.0,
            sequence: None,
            quality_score: None,
            timestamp_ns: -5,
        };
        let mut mine = IlpBuffer::new(IlpVersion::V2);
        assert_eq!(enc.encode_ilp(&t, &mut mine), Err(NegativeTimestamp(-5)));
        assert_eq!(mine.row_count(), 0);
        let mut theirs = Buffer::new(ProtocolVersion::V2);
        assert!(enc.encode(&t, &mut theirs).is_err());
    }
}
