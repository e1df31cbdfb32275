//! Pure: cost–lag points of controller configurations, their Pareto sets, and whether one set covers another.

/// One configuration's outcome on a trace: what it cost and how far behind it fell.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The configuration, for people.
    pub label: String,
    /// Replica-seconds.
    pub cost: f64,
    /// Peak lag (records) or p99 latency (seconds): lower is better.
    pub lag: f64,
}

impl Point {
    /// No more cost and no more lag than `other`.
    pub fn weakly_dominates(&self, other: &Point) -> bool {
        self.cost <= other.cost && self.lag <= other.lag
    }

    /// No more cost and no more lag than `other`, and less of one.
    pub fn dominates(&self, other: &Point) -> bool {
        self.weakly_dominates(other) && (self.cost < other.cost || self.lag < other.lag)
    }
}

/// The points no other point dominates, by cost then lag (equal points all stay).
pub fn pareto(points: &[Point]) -> Vec<Point> {
    let mut front: Vec<Point> = points
        .iter()
        .filter(|p| !points.iter().any(|q| q.dominates(p)))
        .cloned()
        .collect();
    front.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.lag.total_cmp(&b.lag)));
    front
}

/// How one set of configurations fares against another's.
#[derive(Clone, Debug, PartialEq)]
pub struct Cover {
    /// Their points that none of ours matches on both cost and lag.
    pub uncovered: Vec<Point>,
    /// One of ours is strictly better than one of theirs somewhere.
    pub strictly_better: bool,
}

impl Cover {
    /// Ours dominate theirs: every point of theirs is matched by one of ours on both cost and
    /// lag, and one of ours is strictly better somewhere.
    pub fn dominates(&self) -> bool {
        self.uncovered.is_empty() && self.strictly_better
    }
}

/// Whether `ours` covers `theirs` (see [`Cover`]).
pub fn cover(ours: &[Point], theirs: &[Point]) -> Cover {
    Cover {
        uncovered: theirs
            .iter()
            .filter(|t| !ours.iter().any(|o| o.weakly_dominates(t)))
            .cloned()
            .collect(),
        strictly_better: theirs.iter().any(|t| ours.iter().any(|o| o.dominates(t))),
    }
}

/// The point of `points` with `label`, if any.
pub fn find<'a>(points: &'a [Point], label: &str) -> Option<&'a Point> {
    points.iter().find(|p| p.label == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, cost: f64, lag: f64) -> Point {
        Point {
            label: label.into(),
            cost,
            lag,
        }
    }

    #[test]
    fn the_pareto_set_keeps_only_the_points_nothing_beats_on_both() {
        let points = [
            p("a", 1.0, 10.0),
            p("b", 2.0, 5.0),
            p("c", 3.0, 6.0), // b is cheaper and lower
            p("d", 4.0, 1.0),
            p("e", 2.0, 7.0), // b: same cost, lower lag
        ];
        let labels: Vec<_> = pareto(&points).into_iter().map(|x| x.label).collect();
        assert_eq!(labels, ["a", "b", "d"]);
    }

    #[test]
    fn equal_points_both_stay_on_the_frontier_and_an_empty_set_has_none() {
        let points = [p("a", 1.0, 1.0), p("b", 1.0, 1.0)];
        assert_eq!(pareto(&points).len(), 2);
        assert!(pareto(&[]).is_empty());
    }

    #[test]
    fn a_set_dominates_another_when_it_matches_every_point_and_beats_one() {
        let theirs = [p("k1", 2.0, 10.0), p("k2", 5.0, 4.0)];
        let ours = [p("s1", 2.0, 10.0), p("s2", 4.0, 4.0)];
        let c = cover(&ours, &theirs);
        assert!(c.uncovered.is_empty() && c.strictly_better && c.dominates());
        // Matching every point but beating none is not dominance.
        let same = cover(&theirs, &theirs);
        assert!(same.uncovered.is_empty() && !same.dominates());
        // One point unmatched: named, and no dominance.
        let short = [p("s1", 1.5, 10.0), p("s3", 6.0, 3.0)];
        let c = cover(&short, &theirs);
        assert_eq!(c.uncovered, [p("k2", 5.0, 4.0)]);
        assert!(c.strictly_better && !c.dominates());
    }
}
