//! The periods of a schedule, pure: which ended in a stretch of time, and when the next ends.
//! Days run from local midnight to local midnight (23 or 25 hours on the days the clocks
//! change), weeks from Monday 00:00, shifts as the tenant's calendar has them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::config::Schedule;
use crate::calendar::{Calendars, local_date, local_to_utc, occurrences};

/// One period a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: i64,
    pub end: i64,
    /// How a reader names it: "Early, Tue 1 Dec 2026", "Tue 1 Dec 2026", "Week 49 of 2026".
    pub label: String,
}

/// The longest period (a week, plus a day for a change of the clocks and a shift crossing
/// midnight): the periods that end in a stretch begin at most this long before it.
const LONGEST_MS: i64 = 8 * 86_400_000;

/// The periods of `schedule` that end after `after` and at or before `until`, oldest first.
pub fn ended(
    schedule: Schedule,
    tz: Tz,
    calendar: &Calendars,
    after: i64,
    until: i64,
) -> Vec<Period> {
    if until <= after {
        return Vec::new();
    }
    let midnight = |d: NaiveDate| local_to_utc(tz, d.and_time(NaiveTime::MIN));
    let mut out = Vec::new();
    match schedule {
        Schedule::EndOfEachShift => {
            for o in occurrences(calendar, tz, after - LONGEST_MS, until) {
                // A shift inside the spring-forward gap has no time at all: no period.
                if o.span.end > after && o.span.end <= until && o.span.start < o.span.end {
                    let label = format!("{}, {}", o.name, day_label(tz, o.span.start));
                    out.push(Period {
                        start: o.span.start,
                        end: o.span.end,
                        label,
                    });
                }
            }
        }
        Schedule::Daily | Schedule::Weekly => {
            let step = if schedule == Schedule::Daily { 1 } else { 7 };
            let first = local_date(tz, after);
            let mut day = match schedule {
                Schedule::Weekly => {
                    first - Duration::days(i64::from(first.weekday().num_days_from_monday()))
                }
                _ => first,
            };
            loop {
                let next = day + Duration::days(step);
                let (start, end) = (midnight(day), midnight(next));
                if end > until {
                    break;
                }
                if end > after {
                    let label = match schedule {
                        Schedule::Weekly => {
                            let week = day.iso_week();
                            format!("Week {} of {}", week.week(), week.year())
                        }
                        _ => day_label(tz, start),
                    };
                    out.push(Period { start, end, label });
                }
                day = next;
            }
        }
    }
    out
}

/// The end of the first period of `schedule` that ends after `after` (None: a calendar with
/// no shift in the coming week, or no calendar).
pub fn next_end(schedule: Schedule, tz: Tz, calendar: &Calendars, after: i64) -> Option<i64> {
    ended(schedule, tz, calendar, after, after + LONGEST_MS)
        .first()
        .map(|p| p.end)
}

/// "Tue 1 Dec 2026", the local day of an instant.
fn day_label(tz: Tz, ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%a %-d %b %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{Calendar, Calendars, Shift};

    const HOUR: i64 = 3_600_000;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn calendar(shifts: &[(&str, &str, &str)]) -> Calendars {
        Calendars::always(
            Calendar::parse(
                shifts
                    .iter()
                    .map(|(name, start, end)| Shift {
                        name: name.to_string(),
                        days: ["mon", "tue", "wed", "thu", "fri"]
                            .iter()
                            .map(|d| d.to_string())
                            .collect(),
                        start: start.to_string(),
                        end: end.to_string(),
                        breaks: vec![],
                    })
                    .collect(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn shifts_end_where_the_calendar_says_also_across_midnight() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let cal = calendar(&[("Early", "06:00", "14:00"), ("Night", "22:00", "06:00")]);
        // Tuesday 1 Dec 2026, 12:00 local, to Wednesday 12:00 local.
        let periods = ended(
            Schedule::EndOfEachShift,
            tz,
            &cal,
            utc("2026-12-01T11:00:00Z"),
            utc("2026-12-02T11:00:00Z"),
        );
        let spans: Vec<_> = periods.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            spans,
            vec![
                (utc("2026-12-01T05:00:00Z"), utc("2026-12-01T13:00:00Z")),
                (utc("2026-12-01T21:00:00Z"), utc("2026-12-02T05:00:00Z")),
            ]
        );
        assert_eq!(periods[0].label, "Early, Tue 1 Dec 2026");
        assert_eq!(periods[1].label, "Night, Tue 1 Dec 2026");
        // The end itself belongs to the stretch that reaches it, not to the next.
        let at_end = utc("2026-12-01T13:00:00Z");
        assert_eq!(
            ended(Schedule::EndOfEachShift, tz, &cal, at_end - 1, at_end).len(),
            1
        );
        assert!(ended(Schedule::EndOfEachShift, tz, &cal, at_end, at_end + 1).is_empty());
        assert_eq!(
            next_end(Schedule::EndOfEachShift, tz, &cal, at_end),
            Some(utc("2026-12-02T05:00:00Z"))
        );
    }

    #[test]
    fn days_follow_the_clocks_and_weeks_start_on_monday() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // The clocks went back on Sunday 25 Oct 2026: that day had 25 hours.
        let days = ended(
            Schedule::Daily,
            tz,
            &Calendars::default(),
            utc("2026-10-24T12:00:00Z"),
            utc("2026-10-26T12:00:00Z"),
        );
        let lengths: Vec<_> = days.iter().map(|p| (p.end - p.start) / HOUR).collect();
        assert_eq!(lengths, vec![24, 25]);
        assert_eq!(days[1].start, utc("2026-10-24T22:00:00Z"));
        assert_eq!(days[1].label, "Sun 25 Oct 2026");
        let weeks = ended(
            Schedule::Weekly,
            tz,
            &Calendars::default(),
            utc("2026-11-25T00:00:00Z"),
            utc("2026-12-06T00:00:00Z"),
        );
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].start, utc("2026-11-22T23:00:00Z"), "Monday 23 Nov");
        assert_eq!(weeks[0].end, utc("2026-11-29T23:00:00Z"));
        assert_eq!(weeks[0].label, "Week 48 of 2026");
        assert_eq!(
            next_end(
                Schedule::Weekly,
                tz,
                &Calendars::default(),
                utc("2026-12-01T00:00:00Z")
            ),
            Some(utc("2026-12-06T23:00:00Z"))
        );
    }

    #[test]
    fn a_stretch_never_repeats_or_skips_a_period() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let cal = calendar(&[("A", "07:00", "15:00"), ("B", "15:00", "23:00")]);
        for schedule in [Schedule::EndOfEachShift, Schedule::Daily, Schedule::Weekly] {
            let (from, to) = (utc("2026-03-01T00:00:00Z"), utc("2026-04-15T00:00:00Z"));
            let whole = ended(schedule, tz, &cal, from, to);
            // The same stretch cut at every few hours gives the same periods, once each.
            let mut pieces = Vec::new();
            let mut at = from;
            while at < to {
                let next = (at + 7 * HOUR).min(to);
                pieces.extend(ended(schedule, tz, &cal, at, next));
                at = next;
            }
            assert_eq!(pieces, whole, "{schedule:?}");
            assert!(!whole.is_empty());
            assert!(whole.windows(2).all(|w| w[0].end <= w[1].end));
        }
    }

    #[test]
    fn no_calendar_no_shift_periods() {
        let tz: Tz = "UTC".parse().unwrap();
        assert!(
            ended(
                Schedule::EndOfEachShift,
                tz,
                &Calendars::default(),
                0,
                30 * 86_400_000
            )
            .is_empty()
        );
        assert_eq!(
            next_end(Schedule::EndOfEachShift, tz, &Calendars::default(), 0),
            None
        );
    }
}
