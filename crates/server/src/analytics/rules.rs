//! What every figure of a tenant depends on (time zone, short-stop threshold, shift calendar),
//! and the window a question covers.

use crate::domain::TenantId;
use chrono_tz::Tz;

use super::{AnalyticsError, Result};
use crate::calendar::{self, Calendars};
use crate::domain::Refusal;
use crate::store::Store;

/// Longest window one question may cover.
pub const MAX_WINDOW_MS: i64 = 400 * 24 * 3_600_000;

/// What every figure of a tenant depends on.
pub struct Rules {
    pub tz: Tz,
    /// The tenant's short-stop threshold (an asset may have its own).
    pub threshold_ms: i64,
    /// The shift calendars, each from its first day on.
    pub calendar: Calendars,
    /// Days of history the tenant keeps (None: all); shapes no figure, but no day before it is
    /// worth rolling up.
    pub retention_days: Option<i64>,
}

impl Rules {
    /// The tenant's rules as stored (checked when they were saved, and not again).
    pub async fn load(store: &Store, tenant_id: TenantId) -> Result<Self> {
        let settings = store.settings(tenant_id).await?;
        let tz: Tz = settings.timezone.parse().map_err(|_| {
            AnalyticsError::Internal(anyhow::anyhow!(
                "stored time zone {} is invalid",
                settings.timezone
            ))
        })?;
        let calendar = store.shifts(tenant_id).await?;
        Ok(Self {
            tz,
            threshold_ms: settings.short_stop_threshold_s * 1000,
            calendar,
            retention_days: settings.retention_days,
        })
    }
}

/// The window of a request: given, or today in the tenant's zone. Checked.
pub fn window(
    asked: (Option<i64>, Option<i64>),
    rules: &Rules,
    now: i64,
) -> Result<(i64, i64), Refusal> {
    let today = calendar::today(rules.tz, now);
    let (today_from, today_to) = (today.start, today.end);
    let (from, to) = match asked {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, now.max(f + 1)),
        (None, Some(t)) => (t - (today_to - today_from), t),
        (None, None) => (today_from, today_to),
    };
    if from >= to {
        return Err(Refusal::new("invalid_query", "from must be before to"));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(Refusal::new(
            "invalid_query",
            "windows are limited to 400 days",
        ));
    }
    Ok((from, to))
}
