//! Isolating the records QuestDB rejects: split a rejected batch in halves until each
//! rejected part is a single record, so one bad row never blocks a partition.

use std::ops::Range;

/// The result of writing a range of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<E> {
    Written,
    /// The server rejected something in the range, with its message.
    Rejected(String),
    /// Writing must stop (shutdown); nothing is decided about the range.
    Abort(E),
}

/// Writes `0..n` through `write`, bisecting rejected ranges. Returns the indices of the
/// records rejected on their own, with the server's message, in order; or the abort.
pub fn isolate_rejected<E>(
    n: usize,
    mut write: impl FnMut(Range<usize>) -> Attempt<E>,
) -> Result<Vec<(usize, String)>, E> {
    let mut rejected = Vec::new();
    // Depth-first, left half first, so records are written in offset order.
    let mut stack: Vec<Range<usize>> = Vec::new();
    stack.push(0..n);
    while let Some(range) = stack.pop() {
        if range.is_empty() {
            continue;
        }
        match write(range.clone()) {
            Attempt::Written => {}
            Attempt::Abort(e) => return Err(e),
            Attempt::Rejected(msg) if range.len() == 1 => rejected.push((range.start, msg)),
            Attempt::Rejected(_) => {
                let mid = range.start + range.len() / 2;
                stack.push(mid..range.end);
                stack.push(range.start..mid);
            }
        }
    }
    Ok(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize, bad: &[usize]) -> (Vec<(usize, String)>, usize) {
        let mut calls = 0;
        let out = isolate_rejected::<()>(n, |r| {
            calls += 1;
            match bad.iter().find(|b| r.contains(b)) {
                Some(b) => Attempt::Rejected(format!("bad {b}")),
                None => Attempt::Written,
            }
        })
        .expect("no abort");
        (out, calls)
    }

    #[test]
    fn finds_every_bad_record_and_writes_the_rest() {
        let (out, _) = run(100, &[3, 4, 77]);
        let idx: Vec<_> = out.iter().map(|r| r.0).collect();
        assert_eq!(idx, vec![3, 4, 77]);
        assert_eq!(out[2].1, "bad 77");
    }

    #[test]
    fn a_single_bad_record_costs_logarithmic_attempts() {
        let (out, calls) = run(1024, &[500]);
        assert_eq!(out.len(), 1);
        assert!(calls <= 2 * 11, "{calls} attempts");
    }

    #[test]
    fn an_abort_stops_the_search() {
        let out = isolate_rejected(8, |r| {
            if r.len() == 4 {
                Attempt::Abort("stop")
            } else {
                Attempt::Rejected("x".into())
            }
        });
        assert_eq!(out, Err("stop"));
    }

    #[test]
    fn nothing_to_write_is_fine() {
        let (out, calls) = run(0, &[]);
        assert!(out.is_empty());
        assert_eq!(calls, 0);
    }
}
