//! What shapes the numbers: settings (time zone, short-stop threshold, how long the history is
//! kept), the shift calendar, planned downtime and downtime reasons. Everyone reads; admins
//! change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ErrorBody, TimeSchema};
use super::{Admin, ApiJson, ApiJsonList, ApiPath, ApiQuery, CurrentUser, parse_id};
use crate::AppState;
use crate::analytics::timeline::ShiftStretch;
use crate::calendar::{self, Calendar, DatedShifts, Shift, Weekly};
use crate::domain::{AssetId, Comment, Name};
use crate::error::{ApiError, Result, not_found_as};
use crate::store::{PlannedDowntime, Reason, Settings, SettingsChange};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_settings, update_settings))
        .routes(routes!(show_shifts, update_shifts))
        .routes(routes!(list_calendars))
        .routes(routes!(current_shift))
        .routes(routes!(list_downtime, add_downtime))
        .routes(routes!(delete_downtime))
        .routes(routes!(list_reasons, add_reason))
        .routes(routes!(update_reason, delete_reason))
}

/// A checked IANA time zone name.
pub fn parse_timezone(raw: &str) -> Result<chrono_tz::Tz> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_timezone",
            format!("{raw:?} is not an IANA time zone such as Europe/Berlin"),
        )
    })
}

/// The tenant's time zone, short-stop threshold and retention.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    security(("user_token" = [])),
    responses((status = 200, description = "The settings", body = Settings))
)]
async fn show_settings(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Settings>> {
    Ok(Json(state.store.settings(user.tenant_id()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    /// An IANA time zone such as `Europe/Berlin`.
    timezone: Option<String>,
    #[schema(minimum = 1, maximum = 86400)]
    short_stop_threshold_s: Option<i64>,
    /// Keep this many days of history (1 to 36500); null keeps all of it. Left out, it stays.
    // Read as any JSON value (absent: None; null: Some(Null)), so that every wrong one gets
    // the same message.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    #[serde(default, deserialize_with = "given")]
    retention_days: Option<Value>,
    /// The availability the tenant aims for, more than 0 and at most 1; null: none. Left out,
    /// it stays.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1)]
    #[serde(default, deserialize_with = "given")]
    target_availability: Option<Value>,
}

/// A field that was given, null included (serde reads a null `Option` as absent).
fn given<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?))
}

/// The longest retention, a hundred years: anything longer is "forever", which is null.
const MAX_RETENTION_DAYS: i64 = 36_500;

/// A retention as given: null keeps all (`None`), else a whole number of days in range.
fn retention(raw: &Value) -> Result<Option<i64>> {
    match raw {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => Ok(Some(days)),
            _ => Err(retention_refused()),
        },
        _ => Err(retention_refused()),
    }
}

/// The refusal of a target that is not a number (NaN is refused with the same words).
fn target_refused() -> Result<i64> {
    super::assets::target_bp(f64::NAN, "target_availability")
}

fn retention_refused() -> ApiError {
    ApiError::bad_request(
        "invalid_field",
        format!(
            "retention_days must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null to keep all"
        ),
    )
}

/// Changes the time zone, the short-stop threshold or the retention (admins only).
#[utoipa::path(
    put,
    path = "/api/v1/settings",
    tag = "settings",
    security(("user_token" = [])),
    request_body = SettingsBody,
    responses(
        (status = 200, description = "The settings", body = Settings),
        (status = 400, description = "A field out of range", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn update_settings(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<Settings>> {
    if let Some(tz) = &body.timezone {
        parse_timezone(tz)?;
    }
    if body
        .short_stop_threshold_s
        .is_some_and(|t| !(1..=86_400).contains(&t))
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "short_stop_threshold_s must be 1 to 86400",
        ));
    }
    let retention_days = body.retention_days.as_ref().map(retention).transpose()?;
    let target_bp = body
        .target_availability
        .as_ref()
        .map(|raw| match raw {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_f64()
                .map_or_else(target_refused, |t| {
                    super::assets::target_bp(t, "target_availability")
                })
                .map(Some),
            _ => target_refused().map(Some),
        })
        .transpose()?;
    let change = SettingsChange {
        timezone: body.timezone,
        threshold_s: body.short_stop_threshold_s,
        retention_days,
        target_bp,
    };
    state
        .store
        .update_settings(user.tenant_id(), change)
        .await?;
    show_settings(State(state), user).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OnParams {
    /// A local day, `YYYY-MM-DD`: the calendar that applies on it (default today, in the
    /// tenant's time zone).
    on: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FromParams {
    /// The first local day the calendar applies on, `YYYY-MM-DD` (default today, in the
    /// tenant's time zone). The days before keep the calendar they had.
    from: Option<String>,
}

/// A local day as the calendar parameters take it; absent: today in the tenant's zone.
async fn day_param(
    state: &AppState,
    tenant_id: crate::domain::TenantId,
    raw: Option<&str>,
    name: &str,
) -> Result<chrono::NaiveDate> {
    let Some(raw) = raw else {
        let settings = state.store.settings(tenant_id).await?;
        let tz = parse_timezone(&settings.timezone)?;
        return Ok(calendar::local_date(tz, crate::store::now_ms()));
    };
    raw.parse::<chrono::NaiveDate>()
        .ok()
        .filter(|d| (1970..=2200).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} must be a day, YYYY-MM-DD like 2026-12-07 (years 1970 to 2200)"),
            )
        })
}

/// The weekly shift calendar that applies on a day (empty: every hour is planned).
#[utoipa::path(
    get,
    path = "/api/v1/shifts",
    tag = "settings",
    security(("user_token" = [])),
    params(OnParams),
    responses(
        (status = 200, description = "The shifts", body = Vec<Shift>),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn show_shifts(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<OnParams>,
) -> Result<Json<Vec<Shift>>> {
    let day = day_param(&state, user.tenant_id(), p.on.as_deref(), "on").await?;
    let calendars = state.store.shifts(user.tenant_id()).await?;
    Ok(Json(calendars.on(day).shifts().to_vec()))
}

/// Sets the shift calendar from a day on (admins only); the days before keep theirs, and a
/// calendar that was to apply from that day or later is replaced.
#[utoipa::path(
    put,
    path = "/api/v1/shifts",
    tag = "settings",
    security(("user_token" = [])),
    params(FromParams),
    request_body = Vec<Shift>,
    responses(
        (status = 200, description = "The shifts", body = Vec<Shift>),
        (status = 400, description = "A calendar rule, or a bad day", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn update_shifts(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiQuery(p): ApiQuery<FromParams>,
    ApiJsonList(shifts): ApiJsonList<Shift>,
) -> Result<Json<Vec<Shift>>> {
    let from = day_param(&state, user.tenant_id(), p.from.as_deref(), "from").await?;
    let calendar =
        Calendar::parse(shifts).map_err(|e| ApiError::bad_request("invalid_shifts", e))?;
    let answer = calendar.shifts().to_vec();
    let calendars = state
        .store
        .shifts(user.tenant_id())
        .await?
        .applying_from(from, calendar)
        .map_err(|e| ApiError::bad_request("invalid_shifts", e))?;
    state.store.set_shifts(user.tenant_id(), calendars).await?;
    Ok(Json(answer))
}

/// The shift under way and the next one.
#[derive(serde::Serialize, ToSchema)]
struct CurrentShift {
    /// The server's time of the answer, epoch ms.
    now: i64,
    /// The shift occurrence under way now (null: none, e.g. between shifts or without a calendar).
    shift: Option<ShiftStretch>,
    /// The next shift to start (null: none in the coming week).
    next: Option<ShiftStretch>,
}

/// The shift under way now and the next one, by the calendar of their days (the board's shift).
#[utoipa::path(
    get,
    path = "/api/v1/shifts/current",
    tag = "settings",
    security(("user_token" = [])),
    responses((status = 200, description = "The shift now and the next", body = CurrentShift))
)]
async fn current_shift(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<CurrentShift>> {
    let settings = state.store.settings(user.tenant_id()).await?;
    let tz = parse_timezone(&settings.timezone)?;
    let calendars = state.store.shifts(user.tenant_id()).await?;
    let now = crate::store::now_ms();
    const DAY: i64 = 86_400_000;
    let occurrences = calendar::occurrences(&calendars, tz, now - 2 * DAY, now + 8 * DAY);
    let stretch = |o: &calendar::Occurrence| ShiftStretch::from(o.clone());
    Ok(Json(CurrentShift {
        now,
        shift: occurrences
            .iter()
            .find(|o| o.span.contains(now))
            .map(stretch),
        next: occurrences.iter().find(|o| o.span.start > now).map(stretch),
    }))
}

/// Every shift calendar the tenant has had and will have, oldest first, each with the day it
/// applies from.
#[utoipa::path(
    get,
    path = "/api/v1/shift-calendars",
    tag = "settings",
    security(("user_token" = [])),
    responses((status = 200, description = "The calendars", body = Vec<DatedShifts>))
)]
async fn list_calendars(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<DatedShifts>>> {
    let calendars = state.store.shifts(user.tenant_id()).await?;
    Ok(Json(
        calendars.versions().iter().map(DatedShifts::from).collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WindowParams {
    /// RFC 3339 or epoch ms: only downtime ending after this.
    from: Option<String>,
    /// RFC 3339 or epoch ms: only downtime starting before this.
    to: Option<String>,
}

/// Planned downtime, optionally only that overlapping a window.
#[utoipa::path(
    get,
    path = "/api/v1/planned-downtime",
    tag = "settings",
    security(("user_token" = [])),
    params(WindowParams),
    responses(
        (status = 200, description = "The planned downtime", body = Vec<PlannedDowntime>),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_downtime(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<WindowParams>,
) -> Result<Json<Vec<PlannedDowntime>>> {
    let from = p
        .from
        .as_deref()
        .map(|s| super::parse_time_param(s, "from"))
        .transpose()?;
    let to =
        p.to.as_deref()
            .map(|s| super::parse_time_param(s, "to"))
            .transpose()?;
    Ok(Json(
        state
            .store
            .planned_downtime(user.tenant_id(), from, to)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DowntimeBody {
    /// One asset; absent or null: all of them.
    #[schema(value_type = Option<i64>)]
    asset_id: Option<AssetId>,
    /// Once: its start (required). Weekly: the first time it may apply (default now).
    #[schema(value_type = Option<TimeSchema>)]
    from: Option<Value>,
    /// Once: its end (required). Weekly: when it stops (default: for good).
    #[schema(value_type = Option<TimeSchema>)]
    to: Option<Value>,
    #[serde(default)]
    note: String,
    /// Every week on these days from `start` to `end` (local time, 24 h), e.g. every Friday
    /// 13:00–14:00; absent or null: once, from `from` to `to`.
    weekly: Option<Weekly>,
}

/// A time in a JSON body: RFC 3339 text or epoch milliseconds.
fn body_time(v: &Value, name: &str) -> Result<i64> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    super::parse_time_param(&text, name).map_err(|e| match e {
        ApiError::Client { message, .. } => ApiError::bad_request("invalid_field", message),
        other => other,
    })
}

/// Plans downtime, for one asset or all (admins only); at most 400 days.
#[utoipa::path(
    post,
    path = "/api/v1/planned-downtime",
    tag = "settings",
    security(("user_token" = [])),
    request_body = DowntimeBody,
    responses(
        (status = 201, description = "The planned downtime", body = PlannedDowntime),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    )
)]
async fn add_downtime(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<DowntimeBody>,
) -> Result<(StatusCode, Json<PlannedDowntime>)> {
    let time = |v: &Option<Value>, name: &str| v.as_ref().map(|v| body_time(v, name)).transpose();
    let (from, to) = (time(&body.from, "from")?, time(&body.to, "to")?);
    let weekly = body
        .weekly
        .as_ref()
        .map(|w| {
            w.checked()
                .map_err(|e| ApiError::bad_request("invalid_field", format!("weekly: {e}")))
        })
        .transpose()?;
    let (from, to) = match (&weekly, from, to) {
        (None, Some(from), Some(to)) => {
            if to - from > crate::analytics::MAX_WINDOW_MS {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "planned downtime is limited to 400 days",
                ));
            }
            (from, to)
        }
        (None, _, _) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "planned downtime needs from and to, or weekly for one that repeats",
            ));
        }
        (Some(_), from, to) => (
            from.unwrap_or_else(crate::store::now_ms),
            to.unwrap_or(i64::MAX),
        ),
    };
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_field",
            "from must be before to",
        ));
    }
    let note = Comment::parse(&body.note, "note", 500)?.into_string();
    let created = state
        .store
        .add_planned_downtime(user.tenant_id(), body.asset_id, (from, to), note, weekly)
        .await
        .map_err(not_found_as("asset"))?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Deletes planned downtime (admins only).
#[utoipa::path(
    delete,
    path = "/api/v1/planned-downtime/{id}",
    tag = "settings",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The planned downtime's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn delete_downtime(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let id = parse_id(&raw, "planned downtime")?;
    state
        .store
        .delete_planned_downtime(user.tenant_id(), id)
        .await
        .map_err(not_found_as("planned downtime"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's downtime reasons.
#[utoipa::path(
    get,
    path = "/api/v1/reasons",
    tag = "settings",
    security(("user_token" = [])),
    responses((status = 200, description = "The reasons", body = Vec<Reason>))
)]
async fn list_reasons(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<Reason>>> {
    Ok(Json(state.store.reasons(user.tenant_id()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    category: Option<String>,
    name: Option<String>,
}

/// Adds a downtime reason (admins only); both fields are needed.
#[utoipa::path(
    post,
    path = "/api/v1/reasons",
    tag = "settings",
    security(("user_token" = [])),
    request_body = ReasonBody,
    responses(
        (status = 201, description = "The reason", body = Reason),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "That reason exists", body = ErrorBody),
    )
)]
async fn add_reason(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<(StatusCode, Json<Reason>)> {
    let category =
        Name::parse(body.category.as_deref().unwrap_or_default(), "category").map(String::from)?;
    let name = Name::parse(body.name.as_deref().unwrap_or_default(), "name").map(String::from)?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .store
                .add_reason(user.tenant_id(), category, name)
                .await?,
        ),
    ))
}

/// Renames a reason or moves it to another category (admins only).
#[utoipa::path(
    put,
    path = "/api/v1/reasons/{id}",
    tag = "settings",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The reason's id")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The reason", body = Reason),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "That reason exists", body = ErrorBody),
    )
)]
async fn update_reason(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<Reason>> {
    let id = parse_id(&raw, "reason")?;
    let category = body
        .category
        .as_deref()
        .map(|c| Name::parse(c, "category").map(String::from))
        .transpose()?;
    let name = body
        .name
        .as_deref()
        .map(|n| Name::parse(n, "name").map(String::from))
        .transpose()?;
    let reason = state
        .store
        .update_reason(user.tenant_id(), id, category, name)
        .await
        .map_err(not_found_as("reason"))?;
    Ok(Json(reason))
}

/// Deletes a reason; the stops it named become unassigned (admins only).
#[utoipa::path(
    delete,
    path = "/api/v1/reasons/{id}",
    tag = "settings",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The reason's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn delete_reason(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let id = parse_id(&raw, "reason")?;
    state
        .store
        .delete_reason(user.tenant_id(), id)
        .await
        .map_err(not_found_as("reason"))?;
    Ok(StatusCode::NO_CONTENT)
}
