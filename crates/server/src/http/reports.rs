//! Shift reports' API (admins only: a report names people's addresses): the reports emailed at
//! the end of each shift, day or week (docs/ALERTS.md, "Shift reports").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{Admin, ApiJson, ApiPath, parse_id};
use crate::AppState;
use crate::alerts;
use crate::domain::TenantId;
use crate::error::{ApiError, Result, not_found_as};
use crate::reports;
use crate::reports::config::{Report, ReportBody};
use crate::store::{AlertDoc, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, add_report))
        .routes(routes!(update_report, delete_report))
}

/// A report's body checked against the tenant's machines and calendar.
async fn checked(
    state: &AppState,
    tenant: TenantId,
    body: ReportBody,
    created_at: i64,
) -> Result<Report> {
    let asset_ids: Vec<_> = state
        .store
        .assets(tenant)
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    let shifts = !state.store.shifts(tenant).await?.is_empty();
    let smtp = state.alerts.mailer.is_some();
    Ok(Report::check(body, &asset_ids, shifts, smtp, created_at)?)
}

/// Tells the schedule here at once (a leader elsewhere sees the change at its next look, within
/// 30 s) and the tenant's dashboards by the live hub.
fn changed(state: &AppState, tenant: TenantId) {
    state.alerts.reports.notify_one();
    alerts::config_changed(state, tenant);
}

/// The tenant's reports, each with the end of the last period sent.
#[utoipa::path(
    get,
    path = "/api/v1/reports",
    tag = "reports",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The reports", body = Vec<Report>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list_reports(
    State(state): State<AppState>,
    Admin(user): Admin,
) -> Result<Json<Vec<Report>>> {
    Ok(Json(
        reports::reports(&state.store, user.tenant_id()).await?,
    ))
}

/// Adds a report. Its first email covers the first period that ends after now (a shift under
/// way is reported whole at its end).
#[utoipa::path(
    post,
    path = "/api/v1/reports",
    tag = "reports",
    security(("user_token" = [])),
    request_body = ReportBody,
    responses(
        (status = 201, description = "The report", body = Report),
        (status = 400, description = "Invalid, no shift calendar for a shift report, or no SMTP server", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn add_report(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<Report>)> {
    let tenant = user.tenant_id();
    let mut report = checked(&state, tenant, body, now_ms()).await?;
    report.id = state
        .store
        .add_alert_doc(tenant, AlertDoc::Report, report.to_stored())
        .await?;
    changed(&state, tenant);
    Ok((StatusCode::CREATED, Json(report)))
}

/// Replaces a report; the periods sent stay sent. With another schedule, its first period is
/// the first that ends after the change.
#[utoipa::path(
    put,
    path = "/api/v1/reports/{id}",
    tag = "reports",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The report's id")),
    request_body = ReportBody,
    responses(
        (status = 200, description = "The report", body = Report),
        (status = 400, description = "Invalid", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such report", body = ErrorBody),
    )
)]
async fn update_report(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<Json<Report>> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "report")?;
    let old = reports::reports(&state.store, tenant)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found("report"))?;
    // A new schedule starts from now: switching a daily report to shifts at noon does not
    // send the shifts that ended this morning.
    let since = if body.schedule == Some(old.schedule) {
        old.created_at
    } else {
        now_ms()
    };
    let mut report = checked(&state, tenant, body, since).await?;
    report.id = id;
    state
        .store
        .update_alert_doc(tenant, AlertDoc::Report, id, report.to_stored())
        .await
        .map_err(not_found_as("report"))?;
    report.last_period_end = old.last_period_end;
    changed(&state, tenant);
    Ok(Json(report))
}

/// Deletes a report; an email of it still in the outbox is sent.
#[utoipa::path(
    delete,
    path = "/api/v1/reports/{id}",
    tag = "reports",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The report's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such report", body = ErrorBody),
    )
)]
async fn delete_report(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "report")?;
    state
        .store
        .delete_alert_doc(tenant, AlertDoc::Report, id)
        .await
        .map_err(not_found_as("report"))?;
    changed(&state, tenant);
    Ok(StatusCode::NO_CONTENT)
}
