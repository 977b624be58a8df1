//! A tenant's shift calendars over time. Changing the calendar must not rewrite the past: each
//! calendar applies from its first local day on, until the next one's, and the first one also
//! to every day before (it is what the tenant had "always", until it was first changed).
//!
//! A shift belongs to the day it starts on, so a night shift that starts on the last day of one
//! calendar runs to its end the next morning, and the next calendar's shifts start from the new
//! day's own midnight on.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::shifts::{Calendar, ParsedShift, Shift};

/// How many calendars one tenant may keep: plenty for a plant that changes its shifts every
/// week for years, few enough that a script cannot make each question read a huge history.
pub const MAX_CALENDARS: usize = 500;

/// One calendar and the day it applies from (`None`: the first, which also covers every day
/// before the second's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dated {
    pub from: Option<NaiveDate>,
    pub calendar: Calendar,
}

/// The calendars of a tenant, oldest first; never empty (the default is one empty calendar:
/// every hour planned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendars {
    versions: Vec<Dated>,
}

impl Default for Calendars {
    fn default() -> Self {
        Self::always(Calendar::default())
    }
}

impl Calendars {
    /// One calendar for every day.
    pub fn always(calendar: Calendar) -> Self {
        Self {
            versions: vec![Dated {
                from: None,
                calendar,
            }],
        }
    }

    /// The calendar that applies on the local day `date`.
    pub fn on(&self, date: NaiveDate) -> &Calendar {
        let later = self
            .versions
            .partition_point(|v| v.from.is_none_or(|from| from <= date));
        // The first version has no start, so at least one applies.
        &self.versions[later.saturating_sub(1)].calendar
    }

    /// The shifts that start on `date`'s weekday, as the calendar of that day has them.
    pub fn parsed_on(&self, date: NaiveDate) -> &[ParsedShift] {
        self.on(date).parsed()
    }

    /// Whether no calendar has a shift: every hour of every day is planned.
    pub fn is_empty(&self) -> bool {
        self.versions.iter().all(|v| v.calendar.parsed().is_empty())
    }

    pub fn versions(&self) -> &[Dated] {
        &self.versions
    }

    /// These calendars with `calendar` applying from `from` on: the days before keep theirs,
    /// and any calendar that was to apply from `from` or later is replaced. A change that
    /// changes nothing keeps one calendar, not two equal ones in a row.
    pub fn applying_from(&self, from: NaiveDate, calendar: Calendar) -> Result<Self, String> {
        let mut versions: Vec<Dated> = self
            .versions
            .iter()
            .filter(|v| v.from.is_none_or(|f| f < from))
            .cloned()
            .collect();
        // The undated first calendar is always kept, so there is a last one.
        if versions.last().is_none_or(|last| last.calendar != calendar) {
            versions.push(Dated {
                from: Some(from),
                calendar,
            });
        }
        if versions.len() > MAX_CALENDARS {
            return Err(format!(
                "a tenant keeps at most {MAX_CALENDARS} dated calendars; this change would make \
                 {}: apply it from an earlier day, which replaces the calendars from that day on",
                versions.len()
            ));
        }
        Ok(Self { versions })
    }

    /// The calendars as stored: the dated list, or (as stored before calendars had dates) one
    /// calendar, which then applies to every day.
    pub fn from_stored(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Dated(Calendars),
            Single(serde_json::Value),
        }
        match serde_json::from_str(json).map_err(|e| e.to_string())? {
            Stored::Dated(calendars) if !calendars.versions.is_empty() => Ok(calendars),
            Stored::Dated(_) => Ok(Self::default()),
            Stored::Single(raw) => Calendar::from_stored(&raw.to_string()).map(Self::always),
        }
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("calendars serialize")
    }
}

/// One dated calendar as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatedShifts {
    /// The first local day this calendar applies on, `YYYY-MM-DD`; `null` for the first
    /// calendar, which also applies to every day before the next one's.
    #[schema(value_type = Option<String>, example = "2026-12-07")]
    pub from: Option<NaiveDate>,
    pub shifts: Vec<Shift>,
}

impl From<&Dated> for DatedShifts {
    fn from(d: &Dated) -> Self {
        Self {
            from: d.from,
            shifts: d.calendar.shifts().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn calendar(start: &str) -> Calendar {
        Calendar::parse(vec![Shift {
            name: "Early".into(),
            days: vec!["mon".into()],
            start: start.into(),
            end: "14:00".into(),
            breaks: vec![],
        }])
        .unwrap()
    }

    #[test]
    fn a_change_applies_from_its_day_and_the_days_before_keep_theirs() {
        let (a, b, c) = (calendar("06:00"), calendar("07:00"), calendar("08:00"));
        let cals = Calendars::always(a.clone())
            .applying_from(day("2026-12-07"), b.clone())
            .unwrap();
        assert_eq!(cals.on(day("2020-01-01")), &a);
        assert_eq!(cals.on(day("2026-12-06")), &a);
        assert_eq!(cals.on(day("2026-12-07")), &b);
        assert_eq!(cals.on(day("2030-01-01")), &b);
        // A later change; then one from between them replaces the later one.
        let cals = cals.applying_from(day("2026-12-14"), c.clone()).unwrap();
        assert_eq!(cals.on(day("2026-12-13")), &b);
        assert_eq!(cals.on(day("2026-12-14")), &c);
        let cals = cals.applying_from(day("2026-12-10"), a.clone()).unwrap();
        assert_eq!(cals.versions().len(), 3);
        assert_eq!(cals.on(day("2026-12-09")), &b);
        assert_eq!(cals.on(day("2026-12-20")), &a);
        // The same calendar again changes nothing.
        assert_eq!(
            cals.applying_from(day("2026-12-12"), a.clone()).unwrap(),
            cals
        );
        // Before every dated one: the first stays for the days before, the rest is replaced.
        let cals = cals.applying_from(day("2026-01-01"), c.clone()).unwrap();
        assert_eq!(cals.versions().len(), 2);
        assert_eq!(cals.on(day("2025-12-31")), &a);
        assert_eq!(cals.on(day("2026-12-20")), &c);
    }

    #[test]
    fn calendars_are_stored_with_their_days_and_old_single_calendars_still_read() {
        let cals = Calendars::always(calendar("06:00"))
            .applying_from(day("2026-12-07"), Calendar::default())
            .unwrap();
        assert!(!cals.is_empty());
        assert_eq!(Calendars::from_stored(&cals.to_stored()).unwrap(), cals);
        let single = calendar("06:00");
        assert_eq!(
            Calendars::from_stored(&single.to_stored()).unwrap(),
            Calendars::always(single.clone())
        );
        let shifts_only = serde_json::to_string(single.shifts()).unwrap();
        assert_eq!(
            Calendars::from_stored(&shifts_only).unwrap(),
            Calendars::always(single)
        );
        assert_eq!(Calendars::from_stored("[]").unwrap(), Calendars::default());
        assert!(Calendars::default().is_empty());
        assert!(Calendars::from_stored("{").is_err());
    }

    #[test]
    fn the_number_of_calendars_is_bounded() {
        let mut cals = Calendars::default();
        let start = day("2020-01-06");
        for i in 0..MAX_CALENDARS as i64 - 1 {
            let hour = if i % 2 == 0 { "06:00" } else { "07:00" };
            cals = cals
                .applying_from(start + chrono::Duration::days(i), calendar(hour))
                .unwrap();
        }
        assert_eq!(cals.versions().len(), MAX_CALENDARS);
        let refused = cals.applying_from(day("2030-01-01"), Calendar::default());
        assert!(refused.unwrap_err().contains("at most 500"));
    }
}
