//! A tenant's assets (machines) with their current state, and its event history.

use crate::domain::AssetId;
use assetlog_core::RunState;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{Admin, ApiJson, ApiPath, ApiQuery, CurrentUser, parse_id, parse_time_param};
use crate::AppState;
use crate::analytics::export::Table;
use crate::domain::Name;
use crate::error::{ApiError, Result, not_found_as};
use crate::store::{Asset, AssetChange, Event, EventQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, update))
        .routes(routes!(events))
        .route("/api/events", get(events))
}

/// An asset of an offline logger is UNKNOWN since the logger's last contact.
pub(super) fn with_presence(state: &AppState, mut asset: Asset) -> Asset {
    match state.presence.get(asset.logger_row) {
        Some((_, true)) => {}
        other => {
            asset.state = RunState::Unknown;
            asset.since = other.map(|(last_seen, _)| last_seen);
        }
    }
    asset
}

/// The tenant's assets with their current state.
#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "assets",
    security(("user_token" = [])),
    responses((status = 200, description = "The assets", body = Vec<Asset>))
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Vec<Asset>>> {
    let assets = state.store.assets(user.tenant_id()).await?;
    Ok(Json(
        assets
            .into_iter()
            .map(|a| with_presence(&state, a))
            .collect(),
    ))
}

/// One asset.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "The asset", body = Asset))
)]
async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Asset>> {
    let id = parse_id(&raw, "asset")?;
    let asset = state
        .store
        .asset(user.tenant_id(), id)
        .await
        .map_err(not_found_as("asset"))?;
    Ok(Json(with_presence(&state, asset)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    /// A number sets the asset's own threshold; null falls back to the tenant's.
    #[schema(minimum = 1, maximum = 86400)]
    #[serde(default, deserialize_with = "present")]
    short_stop_threshold_s: Option<Option<i64>>,
    /// The production line (1 to 50 characters); null clears it.
    #[serde(default, deserialize_with = "present")]
    line: Option<Option<String>>,
    /// The area of the plant (1 to 50 characters); null clears it.
    #[serde(default, deserialize_with = "present")]
    area: Option<Option<String>>,
    /// Its own target availability, more than 0 and at most 1; null falls back to the tenant's.
    #[schema(minimum = 0, maximum = 1)]
    #[serde(default, deserialize_with = "present")]
    target_availability: Option<Option<f64>>,
}

/// Tells a field set to null (Some(None)) from a field left out (None).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// A target availability as the API takes it (a ratio above 0, at most 1), in basis points.
pub(super) fn target_bp(ratio: f64, field: &str) -> Result<i64> {
    if ratio.is_finite() && ratio > 0.0 && ratio <= 1.0 {
        return Ok((ratio * 10_000.0).round().max(1.0) as i64);
    }
    Err(ApiError::bad_request(
        "invalid_field",
        format!("{field} is a share of the planned time: more than 0 and at most 1 (0.85 is 85 %)"),
    ))
}

/// Renames an asset, or sets its short-stop threshold, line, area or target (admins only).
#[utoipa::path(
    put,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The asset's id")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The asset", body = Asset),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Asset>> {
    let id = parse_id(&raw, "asset")?;
    let name = body
        .name
        .as_deref()
        .map(|n| Name::parse(n, "name").map(String::from))
        .transpose()?;
    if let Some(Some(t)) = body.short_stop_threshold_s
        && !(1..=86_400).contains(&t)
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "short_stop_threshold_s must be 1 to 86400",
        ));
    }
    let text = |raw: Option<Option<String>>, field: &str| -> Result<Option<Option<String>>> {
        raw.map(|v| {
            v.map(|t| Name::parse_max(&t, field, 50).map(|n| n.as_str().to_owned()))
                .transpose()
        })
        .transpose()
        .map_err(Into::into)
    };
    let change = AssetChange {
        name,
        threshold_s: body.short_stop_threshold_s,
        line: text(body.line, "line")?,
        area: text(body.area, "area")?,
        target_bp: body
            .target_availability
            .map(|t| t.map(|t| target_bp(t, "target_availability")).transpose())
            .transpose()?,
    };
    state
        .store
        .update_asset(user.tenant_id(), id, change)
        .await
        .map_err(not_found_as("asset"))?;
    show(State(state), user, ApiPath(raw)).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsParams {
    #[param(value_type = Option<i64>)]
    asset_id: Option<AssetId>,
    /// A logger's hardware id.
    logger_id: Option<String>,
    /// RFC 3339 or epoch ms, 1970 to 2100.
    from: Option<String>,
    /// RFC 3339 or epoch ms, after `from`.
    to: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// A page of events, newest first; `next_cursor` asks for the next one (null on the last).
#[derive(Serialize, ToSchema)]
struct EventsPage {
    events: Vec<Event>,
    next_cursor: Option<String>,
}

pub const DEFAULT_PAGE: i64 = 100;
pub const MAX_PAGE: i64 = 1000;

/// The stored events, newest first, a page at a time; CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "assets",
    security(("user_token" = [])),
    params(EventsParams),
    responses(
        (status = 200, description = "A page of events (JSON), or CSV with `format=csv`", content(
            (EventsPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    )
)]
async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiQuery(p): ApiQuery<EventsParams>,
) -> Result<axum::response::Response> {
    let csv = match p.format.as_deref() {
        None | Some("json") => super::csv::wants_csv(&headers),
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown format {other:?}: use json or csv"),
            ));
        }
    };
    let limit = p.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let from = p
        .from
        .as_deref()
        .map(|s| parse_time_param(s, "from"))
        .transpose()?;
    let to =
        p.to.as_deref()
            .map(|s| parse_time_param(s, "to"))
            .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from must be before to",
        ));
    }
    let before = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('_')
                .and_then(|(ts, id)| Some((ts.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "cursor is not one this server gave")
                })?,
        ),
    };
    if let Some(asset_id) = p.asset_id {
        state
            .store
            .asset(user.tenant_id(), asset_id)
            .await
            .map_err(not_found_as("asset"))?;
    }
    let query = EventQuery {
        asset_id: p.asset_id,
        logger_id: p.logger_id,
        from,
        to,
        limit,
        before,
    };
    let events = state.store.events(user.tenant_id(), query).await?;
    let next_cursor = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| format!("{}_{}", e.ts, e.id)))
        .flatten();
    if csv {
        let header = vec![
            "id",
            "asset_id",
            "logger_id",
            "pin",
            "state",
            "ts",
            "received_at",
            "seq",
        ];
        let rows = events
            .iter()
            .map(|e| {
                vec![
                    e.id.to_string(),
                    e.asset_id.to_string(),
                    e.logger_id.clone(),
                    e.pin.to_string(),
                    e.state.to_string(),
                    crate::live::rfc3339(e.ts),
                    crate::live::rfc3339(e.received_at),
                    e.seq.map(|s| s.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        return Ok(super::csv::response(&Table { header, rows }));
    }
    Ok(Json(EventsPage {
        events,
        next_cursor,
    })
    .into_response())
}
