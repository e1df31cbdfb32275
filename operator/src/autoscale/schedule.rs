//! Scheduled capacity: the windows of `autoscaling.schedules` on the calendar, and the
//! capacity they hold at a moment. Pure: the caller passes the time.
//!
//! A window opens at each time its cron expression names, read in its time zone, and lasts
//! `durationSeconds`; its capacity is asked for `leadSeconds` before it opens. Nothing about
//! a window is remembered: the capacity held at a moment follows from the spec and the
//! clock alone, so a new leader holds exactly what the old one held.
//!
//! Daylight-saving changes follow the zone, as cron does (the Open Cron Pattern
//! Specification, which the `croner` crate implements): a window whose opening falls in the
//! hour skipped in spring opens at the first minute after the gap; one whose opening falls
//! in the hour repeated in autumn opens once, at the first pass.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::policy::HeldCapacity;
use crate::crd::CapacitySchedule;

/// One schedule of the spec, parsed.
#[derive(Clone, Debug)]
pub struct Window {
    source: CapacitySchedule,
    cron: Cron,
    zone: Tz,
    lead: Duration,
    length: Duration,
    replicas: u32,
    workers: u32,
    surge_factor: f64,
}

/// A window's opening that covers a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    /// When the capacity is asked for (the opening less the lead).
    pub asked: DateTime<Utc>,
    /// When the window opens.
    pub opens: DateTime<Utc>,
    /// When it closes.
    pub closes: DateTime<Utc>,
}

/// Two windows are the same when parsed from the same schedule.
impl PartialEq for Window {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Window {
    /// Parses one schedule; the error names the field and what is wrong with it.
    pub fn parse(s: &CapacitySchedule) -> Result<Window, String> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(&s.cron).map_err(|e| {
            format!(
                "autoscaling.schedules[{}].cron {:?} is not a five-field cron expression: {e}",
                s.name, s.cron
            )
        })?;
        let zone: Tz = s.time_zone.parse().map_err(|_| {
            format!(
                "autoscaling.schedules[{}].timeZone {:?} is not an IANA time zone",
                s.name, s.time_zone
            )
        })?;
        if s.duration_seconds < 1 || s.lead_seconds < 0 {
            return Err(format!(
                "autoscaling.schedules[{}] needs durationSeconds >= 1 and leadSeconds >= 0 (got {} and {})",
                s.name, s.duration_seconds, s.lead_seconds
            ));
        }
        let count = |v: Option<i32>| v.map_or(0, |v| u32::try_from(v).unwrap_or(0));
        Ok(Window {
            source: s.clone(),
            cron,
            zone,
            lead: Duration::seconds(s.lead_seconds.into()),
            length: Duration::seconds(s.duration_seconds.into()),
            replicas: count(s.min_replicas),
            workers: count(s.min_workers),
            surge_factor: s.surge_factor.filter(|f| f.is_finite()).unwrap_or(1.0),
        })
    }

    /// The window's name.
    pub fn name(&self) -> &str {
        &self.source.name
    }

    /// The opening whose capacity is held at `at` (from `lead` before it opens until it
    /// closes), if any: the first opening after `at − duration`, when it is no later than
    /// `at + lead`.
    pub fn covering(&self, at: DateTime<Utc>) -> Option<Opening> {
        let opens = self.next_opening(at - self.length)?;
        (opens - self.lead <= at).then(|| Opening {
            asked: opens - self.lead,
            opens,
            closes: opens + self.length,
        })
    }

    /// The first opening strictly after `after`.
    pub fn next_opening(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Parses every schedule of a spec: the windows, or every problem found.
pub fn parse_all(schedules: &[CapacitySchedule]) -> Result<Vec<Window>, Vec<String>> {
    let mut windows = Vec::new();
    let mut problems = Vec::new();
    for s in schedules {
        match Window::parse(s) {
            Ok(w) => windows.push(w),
            Err(e) => problems.push(e),
        }
    }
    for (i, s) in schedules.iter().enumerate() {
        if schedules[..i].iter().any(|t| t.name == s.name) {
            problems.push(format!(
                "autoscaling.schedules: the name {:?} is used twice",
                s.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(windows)
    } else {
        Err(problems)
    }
}

/// The capacity the windows hold at `at`: the largest of each minimum over the windows
/// that cover it, or `None` when none does.
pub fn held_at(windows: &[Window], at: DateTime<Utc>) -> Option<HeldCapacity> {
    let mut held: Option<HeldCapacity> = None;
    for w in windows {
        let Some(o) = w.covering(at) else { continue };
        let phase = if at < o.opens { "opens" } else { "opened" };
        let closes = if o.closes.date_naive() == o.opens.date_naive() {
            o.closes.format("%H:%MZ")
        } else {
            o.closes.format("%Y-%m-%dT%H:%MZ")
        };
        let about = format!(
            "{} ({phase} {}, closes {closes})",
            w.name(),
            o.opens.format("%Y-%m-%dT%H:%MZ"),
        );
        let h = held.get_or_insert_with(|| HeldCapacity {
            windows: Vec::new(),
            replicas: 0,
            workers: 0,
            surge_factor: 1.0,
        });
        h.windows.push(about);
        h.replicas = h.replicas.max(w.replicas);
        h.workers = h.workers.max(w.workers);
        h.surge_factor = h.surge_factor.max(w.surge_factor);
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str, zone: &str, duration: i32, lead: i32) -> CapacitySchedule {
        CapacitySchedule {
            name: "open".into(),
            cron: cron.into(),
            time_zone: zone.into(),
            duration_seconds: duration,
            lead_seconds: lead,
            min_replicas: Some(4),
            min_workers: Some(8),
            surge_factor: Some(3.0),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn window(cron: &str, zone: &str, duration: i32, lead: i32) -> Window {
        Window::parse(&schedule(cron, zone, duration, lead)).expect("a valid schedule")
    }

    #[test]
    fn a_window_is_held_from_its_lead_until_it_closes() {
        // 09:30 New York in January is 14:30 UTC; 30 minutes long, asked for 2 minutes early.
        let w = window("30 9 * * 1-5", "America/New_York", 1800, 120);
        let day = |h, m, s| utc(2026, 1, 12, h, m, s);
        assert_eq!(w.covering(day(14, 27, 59)), None, "before the lead");
        let o = w.covering(day(14, 28, 0)).expect("held from the lead");
        assert_eq!(
            o,
            Opening {
                asked: day(14, 28, 0),
                opens: day(14, 30, 0),
                closes: day(15, 0, 0)
            }
        );
        assert_eq!(w.covering(day(14, 59, 59)), Some(o), "held until it closes");
        assert_eq!(w.covering(day(15, 0, 0)), None, "the close ends it");
        // Saturday 10 January: no window.
        assert_eq!(w.covering(utc(2026, 1, 10, 14, 45, 0)), None);
    }

    #[test]
    fn the_opening_follows_new_york_across_both_daylight_saving_changes() {
        let w = window("30 9 * * *", "America/New_York", 600, 0);
        // Sunday 8 March 2026 the clocks spring forward: EST (UTC−5) before, EDT (UTC−4) after.
        assert_eq!(
            w.next_opening(utc(2026, 3, 7, 0, 0, 0)),
            Some(utc(2026, 3, 7, 14, 30, 0))
        );
        assert_eq!(
            w.next_opening(utc(2026, 3, 7, 15, 0, 0)),
            Some(utc(2026, 3, 8, 13, 30, 0))
        );
        // Sunday 1 November 2026 they fall back.
        assert_eq!(
            w.next_opening(utc(2026, 10, 31, 0, 0, 0)),
            Some(utc(2026, 10, 31, 13, 30, 0))
        );
        assert_eq!(
            w.next_opening(utc(2026, 10, 31, 14, 0, 0)),
            Some(utc(2026, 11, 1, 14, 30, 0))
        );
        // The window covers the local 09:30–09:40 on both sides.
        assert!(w.covering(utc(2026, 3, 9, 13, 35, 0)).is_some());
        assert!(w.covering(utc(2026, 3, 9, 14, 35, 0)).is_none());
        assert!(w.covering(utc(2026, 11, 2, 14, 35, 0)).is_some());
        assert!(w.covering(utc(2026, 11, 2, 13, 35, 0)).is_none());
    }

    #[test]
    fn an_opening_in_the_skipped_hour_moves_past_the_gap_and_one_in_the_repeated_hour_happens_once()
    {
        // 02:30 does not exist in New York on 8 March 2026 (02:00 EST jumps to 03:00 EDT):
        // the window opens at 03:00 EDT, 07:00 UTC.
        let w = window("30 2 * * *", "America/New_York", 600, 0);
        assert_eq!(
            w.next_opening(utc(2026, 3, 8, 0, 0, 0)),
            Some(utc(2026, 3, 8, 7, 0, 0))
        );
        // 01:30 happens twice on 1 November 2026 (EDT, then EST): one opening, the first.
        let w = window("30 1 * * *", "America/New_York", 600, 0);
        let first = w.next_opening(utc(2026, 11, 1, 0, 0, 0)).unwrap();
        assert_eq!(first, utc(2026, 11, 1, 5, 30, 0), "01:30 EDT");
        assert_eq!(
            w.next_opening(first),
            Some(utc(2026, 11, 2, 6, 30, 0)),
            "not 01:30 EST the same night"
        );
    }

    #[test]
    fn overlapping_windows_hold_the_largest_of_each_minimum() {
        let mut a = schedule("0 14 * * *", "UTC", 3600, 0);
        a.min_replicas = Some(2);
        a.min_workers = Some(16);
        a.surge_factor = None;
        let mut b = schedule("30 14 * * *", "UTC", 600, 60);
        b.name = "release".into();
        b.min_workers = None;
        let windows = parse_all(&[a, b]).expect("valid");
        let only_a = held_at(&windows, utc(2026, 5, 5, 14, 10, 0)).unwrap();
        assert_eq!(
            (only_a.replicas, only_a.workers, only_a.surge_factor),
            (2, 16, 1.0)
        );
        assert_eq!(only_a.windows.len(), 1);
        let both = held_at(&windows, utc(2026, 5, 5, 14, 29, 0)).unwrap();
        assert_eq!(
            (both.replicas, both.workers, both.surge_factor),
            (4, 16, 3.0)
        );
        assert_eq!(both.windows.len(), 2);
        assert!(both.windows[1].starts_with("release (opens"), "{both:?}");
        assert_eq!(held_at(&windows, utc(2026, 5, 5, 15, 0, 0)), None);
    }

    #[test]
    fn the_capacity_held_depends_on_the_clock_alone() {
        // A restarted operator parses the spec again and holds the same thing at the same moment.
        let s = [schedule("30 9 * * 1-5", "America/New_York", 1800, 120)];
        let at = utc(2026, 1, 12, 14, 40, 0);
        let before = held_at(&parse_all(&s).unwrap(), at);
        let after = held_at(&parse_all(&s).unwrap(), at);
        assert!(before.is_some());
        assert_eq!(before, after);
    }

    #[test]
    fn bad_schedules_are_refused_with_the_field_named() {
        let mut s = schedule("30 9 * *", "America/New_York", 60, 0);
        let e = parse_all(std::slice::from_ref(&s)).unwrap_err();
        assert!(e[0].contains("schedules[open].cron"), "{e:?}");
        s.cron = "0 30 9 * * *".into();
        assert!(
            parse_all(std::slice::from_ref(&s)).is_err(),
            "seconds are not cron's"
        );
        s.cron = "61 9 * * *".into();
        assert!(parse_all(std::slice::from_ref(&s)).is_err());
        s.cron = "30 9 * * MON-FRI".into();
        s.time_zone = "America/Gotham".into();
        let e = parse_all(std::slice::from_ref(&s)).unwrap_err();
        assert!(e[0].contains("timeZone \"America/Gotham\""), "{e:?}");
        s.time_zone = "Europe/London".into();
        let twice = parse_all(&[s.clone(), s]).unwrap_err();
        assert!(twice[0].contains("used twice"), "{twice:?}");
    }
}
