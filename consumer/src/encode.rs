//! ILP encoding of trades into a questdb-rs [`Buffer`], and the table's DDL: the
//! column list lives here once so rows and table never disagree.

use questdb::ingress::{Buffer, ColumnName, TableName, TimestampNanos};

use crate::trade::Trade;

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
        "CREATE TABLE IF NOT EXISTS {table} ({}) TIMESTAMP({ts}) PARTITION BY DAY WAL \
         DEDUP UPSERT KEYS({ts}, {ex}, {sym}, {id})",
        cols.join(", "),
        ts = columns::TIMESTAMP,
        ex = columns::EXCHANGE,
        sym = columns::SYMBOL,
        id = columns::TRADE_ID,
    )
}

/// Writes trades as ILP rows of one table; names are checked once in [`TradeEncoder::new`].
#[derive(Debug, Clone)]
pub struct TradeEncoder {
    table: String,
}

impl TradeEncoder {
    pub fn new(table: &str) -> Result<Self, InvalidTableName> {
        check_table_name(table)?;
        for (name, _) in columns::ALL {
            debug_assert!(ColumnName::new(name).is_ok(), "{name}");
        }
        Ok(TradeEncoder {
            table: table.to_owned(),
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Appends one row. On error the row may be half written: callers rewind
    /// (see [`crate::record::RecordCodec`]).
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use questdb::ingress::ProtocolVersion;

    use super::*;
    use crate::trade::Side;

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
}
