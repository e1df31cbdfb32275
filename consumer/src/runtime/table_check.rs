//! Whether an existing table can take spate's rows without losing or merging trades
//! (pure): WAL with deduplication, the designated timestamp, every column with a type
//! ILP can write into, and exactly the upsert keys that identify a trade. Names compare
//! case-insensitively, as QuestDB's do.

use std::fmt;

use crate::codec::encode::columns;

/// What QuestDB reports about a table (`tables()` and `table_columns()`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableSchema {
    pub name: String,
    pub wal: bool,
    pub dedup: bool,
    /// `None` when the server does not report it.
    pub suspended: Option<bool>,
    pub columns: Vec<ColumnInfo>,
}

/// One column of `table_columns()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: String,
    pub designated: bool,
    pub upsert_key: bool,
}

/// One way the table differs from what spate needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    NotWal,
    NoDedup,
    Suspended,
    DesignatedTimestamp {
        found: Option<String>,
    },
    MissingColumn {
        column: &'static str,
    },
    ColumnType {
        column: &'static str,
        found: String,
        expected: &'static [&'static str],
    },
    MissingUpsertKey {
        column: &'static str,
    },
    ExtraUpsertKey {
        column: String,
    },
    ExtraColumn {
        column: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NotWal => write!(
                f,
                "not a WAL table (a replay after a crash would duplicate rows)"
            ),
            Mismatch::NoDedup => write!(
                f,
                "no DEDUP UPSERT KEYS (a replay after a crash would duplicate rows)"
            ),
            Mismatch::Suspended => {
                write!(f, "the WAL table is suspended (rows would not be applied)")
            }
            Mismatch::DesignatedTimestamp { found } => write!(
                f,
                "designated timestamp is {}, expected `{}`",
                found
                    .as_deref()
                    .map_or("missing".to_owned(), |c| format!("`{c}`")),
                columns::TIMESTAMP
            ),
            Mismatch::MissingColumn { column } => write!(f, "column `{column}` is missing"),
            Mismatch::ColumnType {
                column,
                found,
                expected,
            } => write!(
                f,
                "column `{column}` is {found}, expected {} (every row would be refused)",
                expected.join(" or ")
            ),
            Mismatch::MissingUpsertKey { column } => write!(
                f,
                "`{column}` is not an upsert key (distinct trades with the same remaining keys would overwrite each other)"
            ),
            Mismatch::ExtraUpsertKey { column } => write!(
                f,
                "`{column}` is an upsert key spate does not expect (set questdb.table_allow_extra to accept it)"
            ),
            Mismatch::ExtraColumn { column } => write!(
                f,
                "column `{column}` is not one spate writes (set questdb.table_allow_extra to accept it)"
            ),
        }
    }
}

/// The QuestDB types a column of spate's may have: the one spate creates, and those
/// ILP writes the same values into.
fn accepted_types(column: &str) -> &'static [&'static str] {
    match column {
        columns::TRADE_ID => &["VARCHAR", "STRING"],
        columns::TIMESTAMP => &["TIMESTAMP", "TIMESTAMP_NS"],
        _ => match columns::ALL.iter().find(|(name, _)| *name == column) {
            Some((_, "SYMBOL")) => &["SYMBOL"],
            Some((_, "DOUBLE")) => &["DOUBLE"],
            Some((_, "LONG")) => &["LONG"],
            _ => &[],
        },
    }
}

/// Every mismatch between `schema` and the table spate writes; empty when it fits.
/// `allow_extra` accepts columns and upsert keys beyond spate's (keys that are
/// missing are never accepted).
pub fn check_schema(schema: &TableSchema, allow_extra: bool) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if !schema.wal {
        out.push(Mismatch::NotWal);
    }
    if !schema.dedup {
        out.push(Mismatch::NoDedup);
    }
    if schema.suspended == Some(true) {
        out.push(Mismatch::Suspended);
    }
    let find = |name: &str| {
        schema
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    };
    let designated = schema.columns.iter().find(|c| c.designated);
    if !designated.is_some_and(|c| c.name.eq_ignore_ascii_case(columns::TIMESTAMP)) {
        out.push(Mismatch::DesignatedTimestamp {
            found: designated.map(|c| c.name.clone()),
        });
    }
    for (name, _) in columns::ALL {
        let Some(col) = find(name) else {
            out.push(Mismatch::MissingColumn { column: name });
            continue;
        };
        let expected = accepted_types(name);
        if !expected.iter().any(|t| col.kind.eq_ignore_ascii_case(t)) {
            out.push(Mismatch::ColumnType {
                column: name,
                found: col.kind.clone(),
                expected,
            });
        }
    }
    if schema.dedup {
        for key in columns::UPSERT_KEYS {
            if !find(key).is_some_and(|c| c.upsert_key) {
                out.push(Mismatch::MissingUpsertKey { column: key });
            }
        }
    }
    if !allow_extra {
        let ours = |c: &ColumnInfo| {
            columns::ALL
                .iter()
                .any(|(n, _)| c.name.eq_ignore_ascii_case(n))
        };
        let key = |c: &ColumnInfo| {
            columns::UPSERT_KEYS
                .iter()
                .any(|n| c.name.eq_ignore_ascii_case(n))
        };
        for c in &schema.columns {
            if !ours(c) {
                out.push(Mismatch::ExtraColumn {
                    column: c.name.clone(),
                });
            }
            if c.upsert_key && !key(c) {
                out.push(Mismatch::ExtraUpsertKey {
                    column: c.name.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table `trades_table_ddl` creates, as QuestDB reports it.
    fn created() -> TableSchema {
        TableSchema {
            name: "trades".into(),
            wal: true,
            dedup: true,
            suspended: Some(false),
            columns: columns::ALL
                .iter()
                .map(|(name, kind)| ColumnInfo {
                    name: (*name).into(),
                    kind: (*kind).into(),
                    designated: *name == columns::TIMESTAMP,
                    upsert_key: columns::UPSERT_KEYS.contains(name),
                })
                .collect(),
        }
    }

    fn column<'a>(s: &'a mut TableSchema, name: &str) -> &'a mut ColumnInfo {
        s.columns.iter_mut().find(|c| c.name == name).expect(name)
    }

    #[test]
    fn the_table_spate_creates_fits() {
        assert_eq!(check_schema(&created(), false), vec![]);
    }

    #[test]
    fn names_compare_without_case() {
        let mut s = created();
        for c in &mut s.columns {
            c.name = c.name.to_uppercase();
        }
        column(&mut s, "PRICE").kind = "double".into();
        assert_eq!(check_schema(&s, false), vec![]);
    }

    #[test]
    fn a_table_deduplicated_on_the_timestamp_alone_is_refused() {
        let mut s = created();
        for c in &mut s.columns {
            c.upsert_key = c.name == columns::TIMESTAMP;
        }
        assert_eq!(
            check_schema(&s, true),
            vec![
                Mismatch::MissingUpsertKey { column: "exchange" },
                Mismatch::MissingUpsertKey { column: "symbol" },
                Mismatch::MissingUpsertKey { column: "trade_id" },
            ]
        );
    }

    #[test]
    fn a_column_of_another_type_is_refused() {
        let mut s = created();
        column(&mut s, "price").kind = "INT".into();
        let found = check_schema(&s, true);
        assert_eq!(
            found,
            vec![Mismatch::ColumnType {
                column: "price",
                found: "INT".into(),
                expected: &["DOUBLE"],
            }]
        );
        assert!(
            found[0]
                .to_string()
                .contains("`price` is INT, expected DOUBLE")
        );
    }

    #[test]
    fn wal_dedup_and_the_designated_timestamp_are_required() {
        let mut s = created();
        s.wal = false;
        s.dedup = false;
        s.suspended = Some(true);
        column(&mut s, "timestamp").designated = false;
        assert_eq!(
            check_schema(&s, false),
            vec![
                Mismatch::NotWal,
                Mismatch::NoDedup,
                Mismatch::Suspended,
                Mismatch::DesignatedTimestamp { found: None },
            ]
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let mut s = created();
        s.columns.retain(|c| c.name != "side");
        assert_eq!(
            check_schema(&s, false),
            vec![Mismatch::MissingColumn { column: "side" }]
        );
    }

    #[test]
    fn extra_columns_and_keys_need_the_opt_in() {
        let mut s = created();
        s.columns.push(ColumnInfo {
            name: "venue".into(),
            kind: "SYMBOL".into(),
            designated: false,
            upsert_key: true,
        });
        assert_eq!(
            check_schema(&s, false),
            vec![
                Mismatch::ExtraColumn {
                    column: "venue".into()
                },
                Mismatch::ExtraUpsertKey {
                    column: "venue".into()
                },
            ]
        );
        assert_eq!(check_schema(&s, true), vec![]);
    }

    #[test]
    fn string_trade_ids_and_nanosecond_timestamps_are_accepted() {
        let mut s = created();
        column(&mut s, "trade_id").kind = "STRING".into();
        column(&mut s, "timestamp").kind = "TIMESTAMP_NS".into();
        assert_eq!(check_schema(&s, false), vec![]);
    }
}
