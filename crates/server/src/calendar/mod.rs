//! Local time for analytics: a tenant's weekly shift calendar, and buckets cut in its time zone.
//!
//! Everything here turns wall-clock rules ("Mon–Fri 22:00–06:00 with a break at 02:00", "each local
//! day") into UTC millisecond spans for a window, so the KPI arithmetic in `assetlog_core::kpi`
//! never sees a time zone. Daylight saving is the time zone database's business: a local time
//! that does not exist (spring forward) moves to the first instant after the gap; one that exists
//! twice (fall back) takes its first occurrence.
//!
//! # Layout
//! - here: local time, buckets (hour, day, week, month) and days in a zone, span arithmetic.
//! - [`shifts`]: the weekly shift calendar: checked once, its occurrences, planned time.
//! - [`weekly`]: recurring planned downtime ("every Friday 13:00–14:00"), as a one-shift calendar.
//! - [`dated`]: a tenant's calendars over time, each from its first day on, so a change of the
//!   calendar never rewrites the past.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

mod dated;
mod shifts;
mod weekly;

pub use assetlog_core::kpi::Span;
pub use dated::{Calendars, Dated, DatedShifts, MAX_CALENDARS};
pub use shifts::{
    Break, Calendar, Occurrence, ParsedShift, Shift, occurrences, parse_calendar, planned_spans,
};
pub use weekly::Weekly;

/// The UTC instant of a local wall-clock time; inside a spring-forward gap, the first instant
/// after it; when it exists twice, the first.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> i64 {
    for minutes in 0..=180 {
        if let Some(t) = tz
            .from_local_datetime(&(local + Duration::minutes(minutes)))
            .earliest()
        {
            return t.timestamp_millis();
        }
    }
    // No zone has a gap of three hours; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local).timestamp_millis()
}

pub(crate) fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

pub(crate) fn at_minutes(date: NaiveDate, minutes: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes))
}

/// Sorts and merges overlapping or touching spans.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.start < s.end);
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => out.push(span),
        }
    }
    out
}

/// `a` minus `b`; both sorted and merged.
pub fn subtract(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &Span { mut start, end } in a {
        for cut in b {
            if cut.end <= start || cut.start >= end {
                continue;
            }
            if cut.start > start {
                out.push(Span::new(start, cut.start));
            }
            start = start.max(cut.end);
            if start >= end {
                break;
            }
        }
        if start < end {
            out.push(Span::new(start, end));
        }
    }
    out
}

/// How figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Hour,
    Day,
    Week,
    Month,
    Shift,
}

/// Bucket spans over `[from, to)` for hour/day/week/month, cut at local boundaries (days are
/// local midnight to local midnight, 23 or 25 hours on change days; weeks start on Monday).
/// The first and last bucket are clipped to the window.
pub fn buckets(kind: Bucket, tz: Tz, from: i64, to: i64) -> Vec<(i64, i64)> {
    let start_date = local_date(tz, from);
    let midnight = |d: NaiveDate| local_to_utc(tz, d.and_time(NaiveTime::MIN));
    let mut edges: Vec<i64> = match kind {
        Bucket::Hour => {
            let local = DateTime::from_timestamp_millis(from)
                .unwrap_or_default()
                .with_timezone(&tz);
            let floor = local.timestamp_millis()
                - i64::from(local.minute()) * 60_000
                - i64::from(local.second()) * 1000
                - i64::from(local.timestamp_subsec_millis());
            (0..)
                .map(|i| floor + i * 3_600_000)
                .take_while(|t| *t < to)
                .collect()
        }
        Bucket::Day => date_edges(start_date, |d| d + Duration::days(1), to, midnight),
        Bucket::Week => {
            let monday =
                start_date - Duration::days(i64::from(start_date.weekday().num_days_from_monday()));
            date_edges(monday, |d| d + Duration::days(7), to, midnight)
        }
        Bucket::Month => {
            let first = NaiveDate::from_ymd_opt(start_date.year(), start_date.month(), 1)
                .unwrap_or(start_date);
            date_edges(first, next_month, to, midnight)
        }
        Bucket::Shift => Vec::new(),
    };
    edges.push(to);
    edges
        .windows(2)
        .map(|w| (w[0].max(from), w[1].min(to)))
        .filter(|(s, e)| s < e)
        .collect()
}

/// The local days that `[from, to)` touches, clipped to it: `(start, end, whole)`, where `whole`
/// says the day lies entirely inside the window (local midnight to local midnight).
pub fn days(tz: Tz, from: i64, to: i64) -> Vec<(i64, i64, bool)> {
    let midnight = |d: NaiveDate| local_to_utc(tz, d.and_time(NaiveTime::MIN));
    let first = local_date(tz, from);
    let mut edges = date_edges(first, |d| d + Duration::days(1), to, midnight);
    let last = edges.last().map_or(first, |t| local_date(tz, *t));
    edges.push(midnight(last + Duration::days(1)));
    edges
        .windows(2)
        .map(|w| (w[0].max(from), w[1].min(to), w[0] >= from && w[1] <= to))
        .filter(|(s, e, _)| s < e)
        .collect()
}

fn date_edges(
    first: NaiveDate,
    step: impl Fn(NaiveDate) -> NaiveDate,
    to: i64,
    midnight: impl Fn(NaiveDate) -> i64,
) -> Vec<i64> {
    let mut edges = Vec::new();
    let mut d = first;
    loop {
        let t = midnight(d);
        if t >= to {
            break;
        }
        edges.push(t);
        d = step(d);
    }
    edges
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d + Duration::days(31))
}

/// Local midnight today and tomorrow, in UTC: the default analytics window.
pub fn today(tz: Tz, now: i64) -> Span {
    let date = local_date(tz, now);
    let midnight = |d: NaiveDate| local_to_utc(tz, d.and_time(NaiveTime::MIN));
    Span::new(midnight(date), midnight(date + Duration::days(1)))
}

/// Weekday of a UTC instant in the zone (for tests and docs).
pub fn weekday(tz: Tz, ms: i64) -> Weekday {
    local_date(tz, ms).weekday()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const BERLIN: Tz = chrono_tz::Europe::Berlin;

    pub(crate) fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn days_are_clipped_to_the_window_and_say_whether_they_are_whole() {
        // 2026-10-25 is the fall-back day in Berlin: 25 hours.
        let days = days(
            BERLIN,
            utc("2026-10-24T12:00:00+02:00"),
            utc("2026-10-26T00:00:00+01:00"),
        );
        assert_eq!(
            days,
            [
                (
                    utc("2026-10-24T12:00:00+02:00"),
                    utc("2026-10-25T00:00:00+02:00"),
                    false
                ),
                (
                    utc("2026-10-25T00:00:00+02:00"),
                    utc("2026-10-26T00:00:00+01:00"),
                    true
                ),
            ]
        );
        assert_eq!(days[1].1 - days[1].0, 25 * 3_600_000);
        let inside = super::days(
            BERLIN,
            utc("2026-10-27T01:00:00+01:00"),
            utc("2026-10-27T02:00:00+01:00"),
        );
        assert_eq!(
            inside,
            [(
                utc("2026-10-27T01:00:00+01:00"),
                utc("2026-10-27T02:00:00+01:00"),
                false
            )]
        );
    }

    #[test]
    fn days_are_23_or_25_hours_on_daylight_saving_changes_in_berlin() {
        // 2026-03-29: clocks go 02:00 → 03:00; 2026-10-25: 03:00 → 02:00.
        let spring = buckets(
            Bucket::Day,
            BERLIN,
            utc("2026-03-28T23:00:00Z"),
            utc("2026-03-30T22:00:00Z"),
        );
        assert_eq!(
            spring,
            [
                (utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z")),
                (utc("2026-03-29T22:00:00Z"), utc("2026-03-30T22:00:00Z"))
            ]
        );
        assert_eq!(spring[0].1 - spring[0].0, 23 * 3_600_000);
        let autumn = buckets(
            Bucket::Day,
            BERLIN,
            utc("2026-10-24T22:00:00Z"),
            utc("2026-10-25T23:00:00Z"),
        );
        assert_eq!(
            autumn,
            [(utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"))]
        );
        assert_eq!(autumn[0].1 - autumn[0].0, 25 * 3_600_000);
        let hours = buckets(
            Bucket::Hour,
            BERLIN,
            utc("2026-10-24T22:00:00Z"),
            utc("2026-10-25T23:00:00Z"),
        );
        assert_eq!(hours.len(), 25);
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_local_midnight() {
        let weeks = buckets(
            Bucket::Week,
            BERLIN,
            utc("2026-11-25T12:00:00Z"),
            utc("2026-12-08T00:00:00Z"),
        );
        assert_eq!(
            weeks[0],
            (utc("2026-11-25T12:00:00Z"), utc("2026-11-29T23:00:00Z"))
        );
        assert_eq!(weekday(BERLIN, weeks[1].0), Weekday::Mon);
        let months = buckets(
            Bucket::Month,
            BERLIN,
            utc("2026-01-15T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
        );
        assert_eq!(
            months[1],
            (utc("2026-01-31T23:00:00Z"), utc("2026-02-28T23:00:00Z"))
        );
        assert_eq!(months[2].0, utc("2026-02-28T23:00:00Z"));
        assert_eq!(months.last().unwrap().1, utc("2026-04-01T00:00:00Z"));
    }

    #[test]
    fn spans_merge_and_subtract() {
        let spans = |pairs: &[(i64, i64)]| -> Vec<Span> {
            pairs.iter().map(|&(s, e)| Span::new(s, e)).collect()
        };
        assert_eq!(
            merge(spans(&[(5, 7), (1, 3), (3, 4), (6, 9), (10, 10)])),
            spans(&[(1, 4), (5, 9)])
        );
        assert_eq!(
            subtract(
                &spans(&[(0, 10), (20, 30)]),
                &spans(&[(2, 3), (8, 22), (29, 40)])
            ),
            spans(&[(0, 2), (3, 8), (22, 29)])
        );
        assert_eq!(subtract(&spans(&[(0, 10)]), &[]), spans(&[(0, 10)]));
        assert_eq!(
            today(BERLIN, utc("2026-11-26T16:00:00Z")),
            Span::new(utc("2026-11-25T23:00:00Z"), utc("2026-11-26T23:00:00Z"))
        );
    }
}
