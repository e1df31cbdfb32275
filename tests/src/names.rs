//! Unique names for topics, tables, namespaces and groups, so tests never collide with
//! each other, with parallel test binaries or with earlier runs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this call, made of `[a-z0-9-]` (valid as a Kafka topic, a Kubernetes
/// namespace or object name, a consumer group): `<prefix>-<run>-<n>`, at most 63
/// characters. `prefix` is lower-cased and stripped of other characters.
pub fn unique_name(prefix: &str) -> String {
    build(prefix, '-')
}

/// Like [`unique_name`] with `_` separators, a QuestDB table name usable in SQL without
/// quoting.
pub fn unique_table(prefix: &str) -> String {
    build(prefix, '_')
}

fn build(prefix: &str, sep: char) -> String {
    let clean: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c == '-' || c == '_' { sep } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == sep)
        .take(32)
        .collect();
    let clean = clean.trim_matches(sep);
    let clean = if clean.is_empty() { "t" } else { clean };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{clean}{sep}{}{sep}{n}", run_id())
}

/// This process and this moment, in base 36: distinct across processes and runs.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos % 36u128.pow(5)) as u64 * 100_000 + u64::from(std::process::id() % 100_000);
    base36(mixed)
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_valid_dns_labels() {
        let a = unique_name("Trades_Topic");
        let b = unique_name("Trades_Topic");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 63, "{name}");
            assert!(name.starts_with("trades-topic-"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn table_names_use_underscores() {
        let t = unique_table("ingest-trades");
        assert!(t.starts_with("ingest_trades_"), "{t}");
        assert!(!t.contains('-'), "{t}");
    }

    #[test]
    fn an_unusable_prefix_still_gives_a_name() {
        assert!(unique_name("!!!").starts_with("t-"));
    }

    #[test]
    fn base36_round_numbers() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
