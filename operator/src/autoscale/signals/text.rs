//! A parser for the Prometheus text exposition format, enough for the handful of series the autoscaler reads.

/// One sample: metric name, labels, value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name (with any `_total`, `_sum`, `_count`, `_bucket` suffix).
    pub name: String,
    /// Label pairs in the order written.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an exposition; comment lines and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

/// The sum of every sample named `name` (over all label sets); None when there is none.
pub fn sum(samples: &[Sample], name: &str) -> Option<f64> {
    let mut found = false;
    let total = samples
        .iter()
        .filter(|s| s.name == name)
        .inspect(|_| found = true)
        .map(|s| s.value)
        .sum();
    found.then_some(total)
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` (after the opening brace); returns the labels and what follows.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.push((key, value));
        s = s[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"# HELP trades_processed_total Trades written.
# TYPE trades_processed_total counter
trades_processed_total 12345
spate_queue_depth 17
spate_partition_lag{topic="trades",partition="0"} 5
spate_partition_lag{topic="trades",partition="1"} 7 1700000000000
spate_flush_latency_seconds_bucket{le="+Inf"} 3
spate_dead_letter_total{reason="say \"hi\"\\n"} 1
spate_weird{a="x,y}",b="z"} NaN
broken line without value
"#;

    #[test]
    fn counters_gauges_and_labelled_series_are_read() {
        let s = parse(EXPOSITION);
        assert_eq!(sum(&s, "trades_processed_total"), Some(12345.0));
        assert_eq!(sum(&s, "spate_queue_depth"), Some(17.0));
        assert_eq!(sum(&s, "spate_partition_lag"), Some(12.0));
        assert_eq!(sum(&s, "missing"), None);
    }

    #[test]
    fn label_values_keep_their_escapes_commas_and_braces() {
        let s = parse(EXPOSITION);
        let dlq = s
            .iter()
            .find(|x| x.name == "spate_dead_letter_total")
            .unwrap();
        assert_eq!(dlq.label("reason"), Some("say \"hi\"\\n"));
        let weird = s.iter().find(|x| x.name == "spate_weird").unwrap();
        assert_eq!(weird.label("a"), Some("x,y}"));
        assert_eq!(weird.label("b"), Some("z"));
        assert!(weird.value.is_nan());
        let inf = s
            .iter()
            .find(|x| x.name == "spate_flush_latency_seconds_bucket")
            .unwrap();
        assert_eq!((inf.label("le"), inf.value), (Some("+Inf"), 3.0));
        assert_eq!(
            parse("x +Inf\ny -Inf\n")
                .iter()
                .map(|s| s.value)
                .collect::<Vec<_>>(),
            vec![f64::INFINITY, f64::NEG_INFINITY]
        );
    }

    #[test]
    fn comments_blank_and_broken_lines_are_skipped() {
        assert_eq!(parse(EXPOSITION).len(), 7);
        assert!(parse("# only a comment\n\n").is_empty());
    }
}
