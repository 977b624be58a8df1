//! A report as an admin sends it, checked once here and kept as the JSON of the checked form
//! (store: `AlertDoc::Report`), as alert rules are.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::alerts::config::{machines, recipients};
use crate::domain::{AssetId, Name, Refusal};

/// When a report is sent: at the end of each period, in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// At the end of each shift of the tenant's calendar.
    EndOfEachShift,
    /// At local midnight, for the day that ended.
    Daily,
    /// At local midnight from Sunday to Monday, for the week that ended.
    Weekly,
}

/// A report as an admin sends it (every field; a change sends the whole report again).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    pub name: Option<String>,
    pub schedule: Option<Schedule>,
    /// The addresses it is sent to.
    pub to: Option<Vec<String>>,
    /// The machines it covers (absent or null: all of the tenant's, also those added later).
    pub asset_ids: Option<Vec<AssetId>>,
}

/// A report as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub schedule: Schedule,
    pub to: Vec<String>,
    pub asset_ids: Option<Vec<AssetId>>,
    /// When it was made (epoch ms): the first period sent is the first that ends after it.
    pub created_at: i64,
    /// The end of the last period sent (epoch ms); None before the first.
    #[serde(default, skip_deserializing)]
    pub last_period_end: Option<i64>,
}

impl Report {
    /// Checks what an admin sent against the tenant's `assets`; `shifts`: whether the tenant
    /// has a shift calendar, `smtp`: whether the server can send email.
    pub fn check(
        body: ReportBody,
        assets: &[AssetId],
        shifts: bool,
        smtp: bool,
        created_at: i64,
    ) -> Result<Self, Refusal> {
        if !smtp {
            return Err(Refusal::new(
                "smtp_not_configured",
                "reports are sent by email: they need the server started with --smtp-url",
            ));
        }
        let name = Name::parse(body.name.as_deref().unwrap_or_default(), "name")?.to_string();
        let schedule = body.schedule.ok_or_else(|| {
            Refusal::new(
                "invalid_report",
                "schedule is required: end_of_each_shift, daily or weekly",
            )
        })?;
        if schedule == Schedule::EndOfEachShift && !shifts {
            return Err(Refusal::new(
                "no_shifts",
                "the tenant has no shift calendar: set the shifts first, or send daily",
            ));
        }
        Ok(Self {
            id: 0,
            name,
            schedule,
            to: recipients(body.to, "invalid_report")?,
            asset_ids: machines(body.asset_ids, assets, "invalid_report")?,
            created_at,
            last_period_end: None,
        })
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&Self {
            last_period_end: None,
            ..self.clone()
        })
        .expect("a report serializes")
    }

    pub fn from_stored(id: i64, json: &str) -> Option<Self> {
        serde_json::from_str(json)
            .map(|r: Self| Self { id, ..r })
            .inspect_err(
                |e| tracing::error!(report = id, error = %e, "a stored report cannot be read"),
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ReportBody {
        ReportBody {
            name: Some("Shift report".into()),
            schedule: Some(Schedule::EndOfEachShift),
            to: Some(vec!["lead@plant.example".into()]),
            asset_ids: Some(vec![AssetId(3)]),
        }
    }

    #[test]
    fn a_report_names_the_tenants_machines_and_real_addresses() {
        let ok = Report::check(body(), &[AssetId(3)], true, true, 5).unwrap();
        assert_eq!((ok.asset_ids, ok.created_at), (Some(vec![AssetId(3)]), 5));
        let other = Report::check(body(), &[AssetId(4)], true, true, 5).unwrap_err();
        assert_eq!(other.code, "invalid_report");
        let mut b = body();
        b.to = Some(vec!["not an address".into()]);
        assert!(Report::check(b, &[AssetId(3)], true, true, 5).is_err());
        let mut b = body();
        b.to = Some(vec![]);
        assert!(Report::check(b, &[AssetId(3)], true, true, 5).is_err());
    }

    #[test]
    fn shift_reports_need_shifts_and_every_report_needs_smtp() {
        let no_shifts = Report::check(body(), &[AssetId(3)], false, true, 5).unwrap_err();
        assert_eq!(no_shifts.code, "no_shifts");
        let mut daily = body();
        daily.schedule = Some(Schedule::Daily);
        assert!(Report::check(daily.clone(), &[AssetId(3)], false, true, 5).is_ok());
        let no_smtp = Report::check(daily, &[AssetId(3)], false, false, 5).unwrap_err();
        assert_eq!(no_smtp.code, "smtp_not_configured");
    }

    #[test]
    fn what_is_stored_reads_back_the_same() {
        let report = Report::check(body(), &[AssetId(3)], true, true, 5).unwrap();
        let shown = Report {
            last_period_end: Some(9),
            ..report.clone()
        };
        assert_eq!(
            Report::from_stored(7, &shown.to_stored()),
            Some(Report { id: 7, ..report })
        );
    }
}
