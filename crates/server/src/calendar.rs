//! Local time for analytics: a tenant's weekly shift calendar, and buckets cut in its time zone.
//!
//! Everything here turns wall-clock rules ("Mon–Fri 22:00–06:00 with a break at 02:00", "each local
//! day") into UTC millisecond spans for a window, so the KPI arithmetic in `assetlog_core::kpi`
//! never sees a time zone. Daylight saving is the time zone database's business: a local time
//! that does not exist (spring forward) moves to the first instant after the gap; one that exists
//! twice (fall back) takes its first occurrence.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::Name;

/// A span of UTC milliseconds, `[start, end)`.
pub type Span = (i64, i64);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u32 = 24 * 60;
const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;

/// One shift of the weekly calendar, as the API takes and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub name: String,
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub breaks: Vec<Break>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Break {
    pub start: String,
    pub end: String,
}

/// A shift checked and reduced to numbers: minutes after local midnight of its start day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedShift {
    pub name: String,
    /// Weekdays the shift starts on, Monday = 0.
    pub days: Vec<u32>,
    /// Start, minutes after midnight.
    pub start: u32,
    /// Length in minutes (a shift crossing midnight ends the next day).
    pub length: u32,
    /// Breaks as (offset from shift start, length), minutes.
    pub breaks: Vec<(u32, u32)>,
}

/// Parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
fn parse_clock(raw: &str) -> Option<u32> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= MINUTES_PER_DAY).then_some(minutes)
}

/// Minutes from `from` forward to `to` on a 24-hour clock (0 when equal).
fn forward(from: u32, to: u32) -> u32 {
    (to + MINUTES_PER_DAY - from) % MINUTES_PER_DAY
}

/// Checks a whole calendar: names, days, times, breaks inside their shift, and no two shift
/// occurrences overlapping anywhere in the week.
pub fn parse_calendar(shifts: &[Shift]) -> Result<Vec<ParsedShift>, String> {
    let mut parsed = Vec::with_capacity(shifts.len());
    for (i, shift) in shifts.iter().enumerate() {
        let at = |message: String| format!("shifts[{i}] ({}): {message}", shift.name);
        let name = Name::parse_max(&shift.name, "name", 50).map_err(|r| at(r.message))?;
        let name = name.as_str();
        if shift.days.is_empty() {
            return Err(at("days is empty".into()));
        }
        let mut days = Vec::new();
        for day in &shift.days {
            let d = DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(day.trim()))
                .ok_or_else(|| {
                    at(format!(
                        "unknown day {day:?}: use mon, tue, wed, thu, fri, sat, sun"
                    ))
                })?;
            if days.contains(&(d as u32)) {
                return Err(at(format!("{day} is listed twice")));
            }
            days.push(d as u32);
        }
        let start = parse_clock(&shift.start).ok_or_else(|| at("start must be HH:MM".into()))?;
        let end = parse_clock(&shift.end).ok_or_else(|| at("end must be HH:MM".into()))?;
        let start = start % MINUTES_PER_DAY;
        let length = match forward(start, end % MINUTES_PER_DAY) {
            0 => return Err(at("a shift cannot start and end at the same time".into())),
            n => n,
        };
        let mut breaks = Vec::new();
        for b in &shift.breaks {
            let bs = parse_clock(&b.start).ok_or_else(|| at("break start must be HH:MM".into()))?;
            let be = parse_clock(&b.end).ok_or_else(|| at("break end must be HH:MM".into()))?;
            let offset = forward(start, bs % MINUTES_PER_DAY);
            let len = forward(bs % MINUTES_PER_DAY, be % MINUTES_PER_DAY);
            if len == 0 || offset + len > length {
                return Err(at(format!(
                    "break {}–{} is not inside the shift",
                    b.start, b.end
                )));
            }
            breaks.push((offset, len));
        }
        breaks.sort_unstable();
        if breaks.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(at("breaks overlap".into()));
        }
        parsed.push(ParsedShift {
            name: name.to_owned(),
            days,
            start,
            length,
            breaks,
        });
    }
    for (i, a) in parsed.iter().enumerate() {
        if parsed[..i]
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(format!("two shifts are named {}", a.name));
        }
    }
    // Every occurrence on the weekly minute circle; any two that overlap are refused.
    let mut occurrences: Vec<(u32, u32, usize)> = Vec::new();
    for (i, s) in parsed.iter().enumerate() {
        for d in &s.days {
            occurrences.push((d * MINUTES_PER_DAY + s.start, s.length, i));
        }
    }
    for (a, &(sa, la, ia)) in occurrences.iter().enumerate() {
        for &(sb, lb, ib) in &occurrences[a + 1..] {
            let overlap = forward_week(sa, sb) < la || forward_week(sb, sa) < lb;
            if overlap {
                return Err(format!(
                    "shifts overlap: {} and {}",
                    parsed[ia].name, parsed[ib].name
                ));
            }
        }
    }
    Ok(parsed)
}

fn forward_week(from: u32, to: u32) -> u32 {
    (to + MINUTES_PER_WEEK - from) % MINUTES_PER_WEEK
}

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

fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

fn at_minutes(date: NaiveDate, minutes: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes))
}

/// One occurrence of a shift: its name, its span, and its working spans (minus breaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub name: String,
    pub span: Span,
    pub working: Vec<Span>,
}

/// The shift occurrences that touch `[from, to)`, in time order (not clipped).
pub fn occurrences(calendar: &[ParsedShift], tz: Tz, from: i64, to: i64) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let (first, last) = (local_date(tz, from) - Duration::days(1), local_date(tz, to));
    let mut date = first;
    while date <= last {
        let weekday = date.weekday().num_days_from_monday();
        for shift in calendar.iter().filter(|s| s.days.contains(&weekday)) {
            let at = |offset: u32| local_to_utc(tz, at_minutes(date, shift.start + offset));
            let span = (at(0), at(shift.length));
            if span.1 <= from || span.0 >= to {
                continue;
            }
            let mut working = Vec::new();
            let mut cursor = 0;
            for &(offset, len) in &shift.breaks {
                working.push((at(cursor), at(offset)));
                cursor = offset + len;
            }
            working.push((at(cursor), at(shift.length)));
            working.retain(|(s, e)| s < e);
            out.push(Occurrence {
                name: shift.name.clone(),
                span,
                working,
            });
        }
        date += Duration::days(1);
    }
    out.sort_by_key(|o| o.span);
    out
}

/// Planned time in `[from, to)`: the calendar's working spans (all of the window when there is
/// no calendar) minus the planned downtime spans. Sorted, merged, clipped to the window.
pub fn planned_spans(
    calendar: &[ParsedShift],
    tz: Tz,
    from: i64,
    to: i64,
    downtime: &[Span],
) -> Vec<Span> {
    let base: Vec<Span> = if calendar.is_empty() {
        vec![(from, to)]
    } else {
        occurrences(calendar, tz, from, to)
            .into_iter()
            .flat_map(|o| o.working)
            .collect()
    };
    let clipped: Vec<Span> = base
        .into_iter()
        .map(|(s, e)| (s.max(from), e.min(to)))
        .filter(|(s, e)| s < e)
        .collect();
    subtract(&merge(clipped), &merge(downtime.to_vec()))
}

/// Sorts and merges overlapping or touching spans.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(s, e)| s < e);
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` minus `b`; both sorted and merged.
pub fn subtract(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &(mut s, e) in a {
        for &(bs, be) in b {
            if be <= s || bs >= e {
                continue;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = s.max(be);
            if s >= e {
                break;
            }
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// How figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
    (midnight(date), midnight(date + Duration::days(1)))
}

/// Weekday of a UTC instant in the zone (for tests and docs).
pub fn weekday(tz: Tz, ms: i64) -> Weekday {
    local_date(tz, ms).weekday()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

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

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn shift(name: &str, days: &[&str], start: &str, end: &str, breaks: &[(&str, &str)]) -> Shift {
        Shift {
            name: name.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            start: start.into(),
            end: end.into(),
            breaks: breaks
                .iter()
                .map(|(s, e)| Break {
                    start: s.to_string(),
                    end: e.to_string(),
                })
                .collect(),
        }
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
    fn a_night_shift_crosses_midnight_and_its_break_is_not_planned() {
        let calendar = parse_calendar(&[shift(
            "Night",
            &["mon"],
            "22:00",
            "06:00",
            &[("02:00", "02:30")],
        )])
        .unwrap();
        assert_eq!(calendar[0].length, 8 * 60);
        // Monday 2026-11-23 22:00 Berlin (UTC+1) → Tuesday 06:00.
        let planned = planned_spans(
            &calendar,
            BERLIN,
            utc("2026-11-23T00:00:00Z"),
            utc("2026-11-25T00:00:00Z"),
            &[],
        );
        assert_eq!(
            planned,
            [
                (utc("2026-11-23T21:00:00Z"), utc("2026-11-24T01:00:00Z")),
                (utc("2026-11-24T01:30:00Z"), utc("2026-11-24T05:00:00Z"))
            ]
        );
        // Planned downtime comes off too.
        let maintenance = [(utc("2026-11-24T04:00:00Z"), utc("2026-11-24T12:00:00Z"))];
        let planned = planned_spans(
            &calendar,
            BERLIN,
            utc("2026-11-23T00:00:00Z"),
            utc("2026-11-25T00:00:00Z"),
            &maintenance,
        );
        assert_eq!(
            planned.last().unwrap(),
            &(utc("2026-11-24T01:30:00Z"), utc("2026-11-24T04:00:00Z"))
        );
    }

    #[test]
    fn a_shift_over_the_spring_forward_gap_is_an_hour_shorter() {
        let calendar = parse_calendar(&[shift("Night", &["sat"], "22:00", "06:00", &[])]).unwrap();
        let occ = occurrences(
            &calendar,
            BERLIN,
            utc("2026-03-28T00:00:00Z"),
            utc("2026-03-30T00:00:00Z"),
        );
        assert_eq!(occ.len(), 1);
        assert_eq!(
            occ[0].span,
            (utc("2026-03-28T21:00:00Z"), utc("2026-03-29T04:00:00Z"))
        );
        assert_eq!(occ[0].span.1 - occ[0].span.0, 7 * 3_600_000);
    }

    #[test]
    fn bad_calendars_are_refused_with_a_reason() {
        let cases = [
            (
                vec![
                    shift("A", &["mon"], "06:00", "14:00", &[]),
                    shift("B", &["mon"], "13:00", "22:00", &[]),
                ],
                "overlap",
            ),
            (
                vec![
                    shift("N", &["sun"], "22:00", "06:00", &[]),
                    shift("E", &["mon"], "05:00", "13:00", &[]),
                ],
                "overlap",
            ),
            (
                vec![shift("A", &["mon"], "06:00", "06:00", &[])],
                "same time",
            ),
            (
                vec![shift("A", &["funday"], "06:00", "14:00", &[])],
                "unknown day",
            ),
            (
                vec![shift("A", &["mon", "mon"], "06:00", "14:00", &[])],
                "twice",
            ),
            (vec![shift("A", &["mon"], "6:00", "14:00", &[])], "HH:MM"),
            (vec![shift("A", &["mon"], "06:00", "25:00", &[])], "HH:MM"),
            (
                vec![shift(
                    "A",
                    &["mon"],
                    "06:00",
                    "14:00",
                    &[("13:00", "15:00")],
                )],
                "not inside",
            ),
            (
                vec![shift(
                    "A",
                    &["mon"],
                    "06:00",
                    "14:00",
                    &[("09:00", "10:00"), ("09:30", "11:00")],
                )],
                "overlap",
            ),
            (vec![shift("", &["mon"], "06:00", "14:00", &[])], "name"),
            (vec![shift("A", &[], "06:00", "14:00", &[])], "days"),
            (
                vec![
                    shift("A", &["mon"], "06:00", "14:00", &[]),
                    shift("a", &["tue"], "06:00", "14:00", &[]),
                ],
                "named",
            ),
        ];
        for (calendar, expected) in cases {
            let err = parse_calendar(&calendar).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        // Back-to-back shifts and a week of nights are fine.
        let ok = [
            shift(
                "Early",
                &["mon", "tue", "wed", "thu", "fri"],
                "06:00",
                "14:00",
                &[("10:00", "10:30")],
            ),
            shift(
                "Late",
                &["mon", "tue", "wed", "thu", "fri"],
                "14:00",
                "22:00",
                &[],
            ),
            shift(
                "Night",
                &["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "22:00",
                "06:00",
                &[("02:00", "02:30")],
            ),
        ];
        assert_eq!(parse_calendar(&ok).unwrap().len(), 3);
    }

    #[test]
    fn spans_merge_and_subtract() {
        assert_eq!(
            merge(vec![(5, 7), (1, 3), (3, 4), (6, 9), (10, 10)]),
            [(1, 4), (5, 9)]
        );
        assert_eq!(
            subtract(&[(0, 10), (20, 30)], &[(2, 3), (8, 22), (29, 40)]),
            [(0, 2), (3, 8), (22, 29)]
        );
        assert_eq!(subtract(&[(0, 10)], &[]), [(0, 10)]);
        assert_eq!(
            today(BERLIN, utc("2026-11-26T16:00:00Z")),
            (utc("2026-11-25T23:00:00Z"), utc("2026-11-26T23:00:00Z"))
        );
    }
}
