//! A tenant's assets (machines) with their current state, and its event history.

use crate::domain::AssetId;
use assetlog_core::RunState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, ApiJson, ApiPath, ApiQuery, CurrentUser, parse_id, parse_time_param};
use crate::AppState;
use crate::domain::Name;
use crate::error::{ApiError, Result, not_found_as};
use crate::store::{Asset, EventQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/assets", get(list))
        .route("/api/v1/assets/{id}", get(show).put(update))
        .route("/api/v1/events", get(events))
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

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Vec<Asset>>> {
    let assets = state.store.assets(user.tenant_id()).await?;
    Ok(Json(
        assets
            .into_iter()
            .map(|a| with_presence(&state, a))
            .collect(),
    ))
}

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

#[derive(Deserialize)]
struct UpdateBody {
    name: Option<String>,
    /// A number sets the asset's own threshold; null falls back to the tenant's.
    #[serde(default, deserialize_with = "present")]
    short_stop_threshold_s: Option<Option<i64>>,
}

/// Tells a field set to null (Some(None)) from a field left out (None).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<i64>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

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
    state
        .store
        .update_asset(user.tenant_id(), id, name, body.short_stop_threshold_s)
        .await
        .map_err(not_found_as("asset"))?;
    show(State(state), user, ApiPath(raw)).await
}

#[derive(Deserialize)]
struct EventsParams {
    asset_id: Option<AssetId>,
    logger_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

pub const DEFAULT_PAGE: i64 = 100;
pub const MAX_PAGE: i64 = 1000;

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
        let header = [
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
        return Ok(super::csv::response(&header, rows));
    }
    Ok(Json(json!({ "events": events, "next_cursor": next_cursor })).into_response())
}
