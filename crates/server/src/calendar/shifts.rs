//! The weekly shift calendar: shifts as the API takes them, checked once into numbers
//! ([`ParsedShift`]), and their occurrences in a window as UTC spans.

use chrono::{Datelike, Duration};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::dated::Calendars;
use super::{Span, at_minutes, local_date, local_to_utc, merge, subtract};
use crate::domain::Name;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u32 = 24 * 60;
const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;

/// One shift of the weekly calendar, as the API takes and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub name: String,
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub breaks: Vec<Break>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Break {
    pub start: String,
    pub end: String,
}

/// A shift checked and reduced to numbers: minutes after local midnight of its start day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Shifts one calendar may hold: a plant has a handful, and each shift multiplies the work of
/// every question by shift.
pub const MAX_SHIFTS: usize = 24;
/// Breaks one shift may have.
pub const MAX_BREAKS: usize = 16;

/// Checks a whole calendar: names, days, times, breaks inside their shift, and no two shift
/// occurrences overlapping anywhere in the week.
pub fn parse_calendar(shifts: &[Shift]) -> Result<Vec<ParsedShift>, String> {
    if shifts.len() > MAX_SHIFTS {
        return Err(format!(
            "a calendar holds at most {MAX_SHIFTS} shifts (each on any of the week's days); \
             this one has {}",
            shifts.len()
        ));
    }
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
        if shift.breaks.len() > MAX_BREAKS {
            return Err(at(format!("a shift has at most {MAX_BREAKS} breaks")));
        }
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

/// One occurrence of a shift: its name, its span, and its working spans (minus breaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub name: String,
    pub span: Span,
    pub working: Vec<Span>,
}

/// The shift occurrences that touch `[from, to)`, in time order (not clipped). Each day's
/// shifts are those of the calendar that applies on the day they start.
pub fn occurrences(calendars: &Calendars, tz: Tz, from: i64, to: i64) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let (first, last) = (local_date(tz, from) - Duration::days(1), local_date(tz, to));
    let mut date = first;
    while date <= last {
        let weekday = date.weekday().num_days_from_monday();
        let calendar = calendars.parsed_on(date);
        for shift in calendar.iter().filter(|s| s.days.contains(&weekday)) {
            let at = |offset: u32| local_to_utc(tz, at_minutes(date, shift.start + offset));
            let span = Span::new(at(0), at(shift.length));
            if span.end <= from || span.start >= to {
                continue;
            }
            let mut working = Vec::new();
            let mut cursor = 0;
            for &(offset, len) in &shift.breaks {
                working.push(Span::new(at(cursor), at(offset)));
                cursor = offset + len;
            }
            working.push(Span::new(at(cursor), at(shift.length)));
            working.retain(|w| w.start < w.end);
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

/// Planned time in `[from, to)`: the calendars' working spans (all of a day whose calendar has
/// no shift) minus the planned downtime spans. Sorted, merged, clipped to the window.
pub fn planned_spans(
    calendars: &Calendars,
    tz: Tz,
    from: i64,
    to: i64,
    downtime: &[Span],
) -> Vec<Span> {
    let base: Vec<Span> = if calendars.is_empty() {
        vec![Span::new(from, to)]
    } else {
        let mut base: Vec<Span> = occurrences(calendars, tz, from, to)
            .into_iter()
            .flat_map(|o| o.working)
            .collect();
        for (start, end, _) in super::days(tz, from, to) {
            if calendars.parsed_on(local_date(tz, start)).is_empty() {
                base.push(Span::new(start, end));
            }
        }
        base
    };
    let clipped: Vec<Span> = base
        .into_iter()
        .map(|s| s.intersect(Span::new(from, to)))
        .filter(|s| s.start < s.end)
        .collect();
    subtract(&merge(clipped), &merge(downtime.to_vec()))
}

/// A tenant's weekly calendar, checked once when it is set: the shifts as the API shows them
/// (trimmed names, lower-case days) and the same shifts as numbers, which analytics uses as they
/// are. Only [`Calendar::parse`] makes one, so a stored calendar is always a checked one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    shifts: Vec<Shift>,
    parsed: Vec<ParsedShift>,
}

impl Calendar {
    pub fn parse(shifts: Vec<Shift>) -> Result<Self, String> {
        let parsed = parse_calendar(&shifts)?;
        let shifts = shifts
            .into_iter()
            .map(|s| Shift {
                name: s.name.trim().to_owned(),
                days: s
                    .days
                    .iter()
                    .map(|d| d.trim().to_ascii_lowercase())
                    .collect(),
                ..s
            })
            .collect();
        Ok(Self { shifts, parsed })
    }

    pub fn shifts(&self) -> &[Shift] {
        &self.shifts
    }

    pub fn parsed(&self) -> &[ParsedShift] {
        &self.parsed
    }

    /// A calendar as stored: its checked form, or (as stored before it was kept checked) the
    /// shifts alone, checked now.
    pub fn from_stored(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Checked(Calendar),
            Shifts(Vec<Shift>),
        }
        match serde_json::from_str(json).map_err(|e| e.to_string())? {
            Stored::Checked(calendar) => Ok(calendar),
            Stored::Shifts(shifts) => Self::parse(shifts),
        }
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a calendar serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BERLIN, utc};
    use super::*;

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
    fn a_night_shift_crosses_midnight_and_its_break_is_not_planned() {
        let calendar = Calendar::parse(vec![shift(
            "Night",
            &["mon"],
            "22:00",
            "06:00",
            &[("02:00", "02:30")],
        )])
        .unwrap();
        assert_eq!(calendar.parsed()[0].length, 8 * 60);
        let calendar = Calendars::always(calendar);
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
                Span::new(utc("2026-11-23T21:00:00Z"), utc("2026-11-24T01:00:00Z")),
                Span::new(utc("2026-11-24T01:30:00Z"), utc("2026-11-24T05:00:00Z"))
            ]
        );
        // Planned downtime comes off too.
        let maintenance = [Span::new(
            utc("2026-11-24T04:00:00Z"),
            utc("2026-11-24T12:00:00Z"),
        )];
        let planned = planned_spans(
            &calendar,
            BERLIN,
            utc("2026-11-23T00:00:00Z"),
            utc("2026-11-25T00:00:00Z"),
            &maintenance,
        );
        assert_eq!(
            planned.last().unwrap(),
            &Span::new(utc("2026-11-24T01:30:00Z"), utc("2026-11-24T04:00:00Z"))
        );
    }

    #[test]
    fn each_day_is_planned_by_the_calendar_it_had() {
        // Until Wednesday 2026-11-25 no calendar (every hour planned); from then an early shift;
        // from Friday the 27th a night shift too. Berlin is UTC+1.
        let early = Calendar::parse(vec![shift(
            "Early",
            &["mon", "tue", "wed", "thu", "fri"],
            "06:00",
            "14:00",
            &[],
        )])
        .unwrap();
        let with_night = Calendar::parse(vec![
            shift(
                "Early",
                &["mon", "tue", "wed", "thu", "fri"],
                "06:00",
                "14:00",
                &[],
            ),
            shift("Night", &["fri"], "22:00", "06:00", &[]),
        ])
        .unwrap();
        let calendars = Calendars::default()
            .applying_from("2026-11-25".parse().unwrap(), early)
            .unwrap()
            .applying_from("2026-11-27".parse().unwrap(), with_night)
            .unwrap();
        let planned = planned_spans(
            &calendars,
            BERLIN,
            utc("2026-11-23T23:00:00Z"),
            utc("2026-11-28T23:00:00Z"),
            &[],
        );
        assert_eq!(
            planned,
            [
                // Tuesday, whole.
                Span::new(utc("2026-11-23T23:00:00Z"), utc("2026-11-24T23:00:00Z")),
                // Wednesday and Thursday: the early shift.
                Span::new(utc("2026-11-25T05:00:00Z"), utc("2026-11-25T13:00:00Z")),
                Span::new(utc("2026-11-26T05:00:00Z"), utc("2026-11-26T13:00:00Z")),
                // Friday: early, and the night into Saturday.
                Span::new(utc("2026-11-27T05:00:00Z"), utc("2026-11-27T13:00:00Z")),
                Span::new(utc("2026-11-27T21:00:00Z"), utc("2026-11-28T05:00:00Z")),
            ]
        );
        let names: Vec<String> = occurrences(
            &calendars,
            BERLIN,
            utc("2026-11-23T23:00:00Z"),
            utc("2026-11-28T23:00:00Z"),
        )
        .into_iter()
        .map(|o| o.name)
        .collect();
        assert_eq!(names, ["Early", "Early", "Early", "Night"]);
    }

    #[test]
    fn a_shift_over_the_spring_forward_gap_is_an_hour_shorter() {
        let calendar = Calendars::always(
            Calendar::parse(vec![shift("Night", &["sat"], "22:00", "06:00", &[])]).unwrap(),
        );
        let occ = occurrences(
            &calendar,
            BERLIN,
            utc("2026-03-28T00:00:00Z"),
            utc("2026-03-30T00:00:00Z"),
        );
        assert_eq!(occ.len(), 1);
        assert_eq!(
            occ[0].span,
            Span::new(utc("2026-03-28T21:00:00Z"), utc("2026-03-29T04:00:00Z"))
        );
        assert_eq!(occ[0].span.len_ms(), 7 * 3_600_000);
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
    fn a_calendar_is_stored_checked_and_read_back_without_checking_again() {
        let calendar = Calendar::parse(vec![shift(
            " Early ",
            &["MON", "tue"],
            "06:00",
            "14:00",
            &[],
        )])
        .unwrap();
        assert_eq!(calendar.shifts()[0].name, "Early");
        assert_eq!(calendar.shifts()[0].days, ["mon", "tue"]);
        assert_eq!(calendar.parsed()[0].length, 8 * 60);
        let stored = calendar.to_stored();
        assert_eq!(Calendar::from_stored(&stored).unwrap(), calendar);
        // As calendars were stored before: the shifts alone.
        let old = serde_json::to_string(calendar.shifts()).unwrap();
        assert_eq!(Calendar::from_stored(&old).unwrap(), calendar);
        assert_eq!(Calendar::from_stored("[]").unwrap(), Calendar::default());
        assert!(Calendar::from_stored("{").is_err());
    }
}
