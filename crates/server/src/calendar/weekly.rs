//! Recurring planned downtime: "every Friday 13:00–14:00", in the tenant's zone. Checked as a
//! one-shift calendar (the same rules for days and times), and expanded into spans for a window
//! by that calendar's occurrences, so daylight saving and midnight are handled as for shifts.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Calendar, Calendars, Shift, Span, occurrences};

/// A weekly recurring time, as the API takes and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// Weekdays it starts on: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, local time; an end before the start runs past midnight.
    pub start: String,
    pub end: String,
}

impl Weekly {
    /// The rule as a one-shift calendar: checked (days, times), and normalised (lower-case days).
    pub fn calendar(&self) -> Result<Calendar, String> {
        Calendar::parse(vec![Shift {
            name: "Planned downtime".into(),
            days: self.days.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            breaks: Vec::new(),
        }])
        .map_err(|e| {
            // The calendar names its shift; here there is one, and it has no name of its own.
            e.trim_start_matches("shifts[0] (Planned downtime): ")
                .to_owned()
        })
    }

    /// The rule as checked, as it is stored and shown.
    pub fn checked(&self) -> Result<Self, String> {
        let calendar = self.calendar()?;
        let shift = &calendar.shifts()[0];
        Ok(Self {
            days: shift.days.clone(),
            start: shift.start.clone(),
            end: shift.end.clone(),
        })
    }

    /// Its occurrences that overlap `[from, to)`, clipped to it.
    pub fn spans(&self, tz: Tz, from: i64, to: i64) -> Vec<Span> {
        let Ok(calendar) = self.calendar() else {
            return Vec::new();
        };
        occurrences(&Calendars::always(calendar), tz, from, to)
            .into_iter()
            .map(|o| o.span.intersect(Span::new(from, to)))
            .filter(|s| s.start < s.end)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BERLIN, utc};
    use super::*;

    fn weekly(days: &[&str], start: &str, end: &str) -> Weekly {
        Weekly {
            days: days.iter().map(|d| d.to_string()).collect(),
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn every_friday_one_hour_in_the_zone_across_a_clock_change() {
        let w = weekly(&["FRI"], "13:00", "14:00");
        assert_eq!(w.checked().unwrap().days, ["fri"]);
        // Fridays 23 Oct (CEST) and 30 Oct 2026 (CET, after the change on the 25th).
        let spans = w.spans(
            BERLIN,
            utc("2026-10-19T00:00:00Z"),
            utc("2026-11-02T00:00:00Z"),
        );
        assert_eq!(
            spans,
            [
                Span::new(utc("2026-10-23T11:00:00Z"), utc("2026-10-23T12:00:00Z")),
                Span::new(utc("2026-10-30T12:00:00Z"), utc("2026-10-30T13:00:00Z")),
            ]
        );
        // Clipped to the window.
        let clipped = w.spans(
            BERLIN,
            utc("2026-10-23T11:30:00Z"),
            utc("2026-10-24T00:00:00Z"),
        );
        assert_eq!(
            clipped,
            [Span::new(
                utc("2026-10-23T11:30:00Z"),
                utc("2026-10-23T12:00:00Z")
            )]
        );
    }

    #[test]
    fn a_bad_rule_is_refused_in_words() {
        assert_eq!(
            weekly(&["friday"], "13:00", "14:00").checked().unwrap_err(),
            "unknown day \"friday\": use mon, tue, wed, thu, fri, sat, sun"
        );
        assert_eq!(
            weekly(&["fri"], "1pm", "14:00").checked().unwrap_err(),
            "start must be HH:MM"
        );
        assert!(weekly(&[], "13:00", "14:00").checked().is_err());
        assert!(weekly(&["fri"], "13:00", "13:00").checked().is_err());
    }
}
