//! Shift reports: at the end of each shift, day or week (in the tenant's time zone) the leader
//! makes an email of the period's figures (availability, run and down time, stops, the longest
//! stops, down time by reason) with its analytics and stops attached as CSV, and puts it in the
//! alerts' outbox, which sends and retries it (docs/ALERTS.md, "Shift reports").
//!
//! Exactly once per period: a period becomes a run row whose unique index (report, period
//! start) the database checks in the same transaction that queues the email, so a restart or a
//! second server that makes the same period again stores nothing. A period that ended while no
//! server ran is made when one leads again (up to [`CATCH_UP_MS`] back).
//!
//! # Layout
//! - `config`: a report, checked once, stored as checked JSON.
//! - `period`: the periods of a schedule (pure).
//! - `render`: the email of one period.
//! - this file: [`run`], the leader's schedule; [`reports`], a tenant's reports as stored.

pub mod config;
pub mod period;
pub mod render;

use std::collections::HashMap;
use std::time::Duration;

use crate::AppState;
use crate::analytics::{self, Rules, Scope, StopFilter};
use crate::domain::{AssetId, TenantId};
use crate::store::{AlertDoc, NewDelivery, NewReportRun, Store, StoreError, now_ms};
use config::Report;
use period::Period;

/// How far back a server that starts to lead makes the periods that no server made: a week.
pub const CATCH_UP_MS: i64 = 7 * 86_400_000;

/// The longest wait between two looks at the schedules (reports and calendars changed on
/// another server are seen by then).
const LOOK_EVERY: Duration = Duration::from_secs(30);

/// A tenant's reports, as stored, each with the end of its last period sent.
pub async fn reports(store: &Store, tenant: TenantId) -> Result<Vec<Report>, StoreError> {
    let progress: HashMap<i64, i64> = store
        .report_progress(Some(tenant))
        .await?
        .into_iter()
        .map(|(_, id, end)| (id, end))
        .collect();
    Ok(store
        .alert_docs(tenant, AlertDoc::Report)
        .await?
        .into_iter()
        .filter_map(|(id, body)| Report::from_stored(id, &body))
        .map(|r| Report {
            last_period_end: progress.get(&r.id).copied(),
            ..r
        })
        .collect())
}

/// Makes the reports' periods as they end, while this server leads, until shutdown.
pub async fn run(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut leads = state.leads.clone();
    let delay_ms = i64::try_from(state.config.report_delay_s).unwrap_or(0) * 1000;
    loop {
        let mut wake = tokio::time::Instant::now() + LOOK_EVERY;
        if *leads.borrow_and_update() {
            match due(&state, delay_ms).await {
                Ok(Some(next)) => {
                    let wait = u64::try_from(next - now_ms()).unwrap_or(0);
                    wake = wake.min(tokio::time::Instant::now() + Duration::from_millis(wait));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot make the reports due; trying again"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = state.alerts.reports.notified() => {}
            _ = crate::alerts::lead_changed(&mut leads) => {}
            _ = crate::stopped(&mut shutdown) => return,
        }
    }
}

/// Makes every period that ended `delay_ms` ago or earlier and is not made yet; when the next
/// period of any report is due (epoch ms).
async fn due(state: &AppState, delay_ms: i64) -> anyhow::Result<Option<i64>> {
    let store = &state.store;
    let progress: HashMap<i64, i64> = store
        .report_progress(None)
        .await?
        .into_iter()
        .map(|(_, id, end)| (id, end))
        .collect();
    let mut by_tenant: HashMap<TenantId, Vec<Report>> = HashMap::new();
    for (tenant, id, body) in store.every_alert_doc(AlertDoc::Report).await? {
        if let Some(report) = Report::from_stored(id, &body) {
            by_tenant.entry(tenant).or_default().push(report);
        }
    }
    let mut next: Option<i64> = None;
    for (tenant, reports) in by_tenant {
        let rules = match Rules::load(store, tenant).await {
            Ok(rules) => rules,
            Err(e) => {
                tracing::warn!(tenant = tenant.0, error = %e, "cannot read a tenant's calendar for its reports");
                continue;
            }
        };
        let ready = now_ms() - delay_ms;
        for report in reports {
            let done = progress.get(&report.id).copied();
            let after = report.created_at.max(done.unwrap_or(i64::MIN));
            let periods = period::ended(report.schedule, rules.tz, &rules.calendar, after, ready);
            let oldest = ready - CATCH_UP_MS;
            let skipped = periods.iter().filter(|p| p.end <= oldest).count();
            if skipped > 0 {
                tracing::warn!(
                    report = report.id,
                    skipped,
                    "report periods that ended more than a week ago while no server ran are not sent"
                );
            }
            for p in periods.iter().filter(|p| p.end > oldest) {
                if let Err(e) = make(state, tenant, &report, p).await {
                    // The next look tries this period again (and the others go on meanwhile).
                    tracing::warn!(report = report.id, period = %p.label, error = %e, "cannot make a report");
                    break;
                }
            }
            let last = periods.last().map_or(after, |p| p.end).max(ready);
            if let Some(end) = period::next_end(report.schedule, rules.tz, &rules.calendar, last) {
                let at = end + delay_ms;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
    }
    Ok(next)
}

/// Makes one period's email and stores it as sent for that period, with the email in the
/// outbox; nothing when another server (or an earlier run) made it already.
async fn make(
    state: &AppState,
    tenant: TenantId,
    report: &Report,
    p: &Period,
) -> anyhow::Result<()> {
    let store = &state.store;
    let assets = match &report.asset_ids {
        None => Vec::new(),
        Some(ids) => {
            // A machine deleted with its history since leaves the report; when none is left,
            // there is nothing to report (an empty list would mean all of them).
            let mut kept: Vec<AssetId> = Vec::with_capacity(ids.len());
            for id in ids {
                if store.asset(tenant, *id).await.is_ok() {
                    kept.push(*id);
                }
            }
            if kept.is_empty() {
                tracing::warn!(
                    report = report.id,
                    "a report's machines are all gone: not sent"
                );
                return Ok(());
            }
            kept
        }
    };
    let scope = Scope::new(store, tenant, (Some(p.start), Some(p.end)), &assets).await?;
    let answer = analytics::figures(state, &scope, None).await?;
    let stops = analytics::stops(store, &scope, StopFilter::default(), usize::MAX).await?;
    let reasons = store.reasons(tenant).await?;
    let email = render::email(&render::Summary {
        report,
        period: p,
        tz: scope.rules.tz,
        answer: &answer,
        stops: &stops,
        reasons: &reasons,
    })?;
    let delivery = NewDelivery {
        channel_id: 0,
        channel_name: report.name.clone(),
        event: "report",
        message: serde_json::to_string(&email)?,
        due_at: now_ms(),
    };
    let run = NewReportRun {
        tenant_id: tenant,
        report_id: report.id,
        period_start: p.start,
        period_end: p.end,
    };
    if store.add_report_run(run, delivery).await? {
        tracing::info!(report = report.id, period = %p.label, "report made");
        state.alerts.outbox.notify_one();
    } else {
        tracing::info!(report = report.id, period = %p.label, "report made already (another server)");
    }
    Ok(())
}
