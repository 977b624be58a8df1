//! A tenant's loggers: list, inspect, rename, allow keyless posts, rotate keys, claim, delete.
//! The original management paths answer through the same handlers, now behind a token.

use crate::domain::LoggerRow;
use assetlog_core::LoggerId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::peer::{ClientAddr, too_many_attempts};
use super::{Admin, ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::AppState;
use crate::domain::Name;
use crate::error::{ApiError, Result, not_found_as};
use crate::secrets::new_secret;
use crate::store::{Logger, LoggerUpdate};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/loggers", get(list))
        .route("/api/v1/loggers/claim", post(claim))
        .route("/api/v1/loggers/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/loggers/{id}/rotate-key", post(rotate_key))
        // The original design's paths, same handlers.
        .route("/api/loggers", get(list))
        .route("/api/device/list", get(list))
        .route("/api/loggers/{id}", get(show).put(update).delete(remove))
        .route("/api/device/update/{id}", put(update))
        .route("/api/device/delete/{id}", axum::routing::delete(remove))
}

/// A logger named in a path: its numeric `id`, or (as the original API did) its hardware id.
async fn resolve(state: &AppState, user: &CurrentUser, raw: &str) -> Result<LoggerRow> {
    if let Ok(id) = raw.parse::<LoggerRow>()
        && state.store.logger(user.tenant_id(), id).await.is_ok()
    {
        return Ok(id);
    }
    let hardware_id = LoggerId::parse(raw).map_err(|_| ApiError::not_found("logger"))?;
    state
        .store
        .logger_row_by_hardware_id(user.tenant_id(), hardware_id.as_str().to_owned())
        .await
        .map_err(not_found_as("logger"))
}

/// Overlays what presence tracking knows: online, last contact, and UNKNOWN for offline assets.
fn with_presence(state: &AppState, mut logger: Logger) -> Logger {
    if let Some((last_seen, online)) = state.presence.get(logger.id) {
        logger.last_seen = Some(last_seen);
        logger.online = online;
    } else {
        logger.online = false;
    }
    logger.assets = std::mem::take(&mut logger.assets)
        .into_iter()
        .map(|asset| super::assets::with_presence(state, asset))
        .collect();
    logger
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Vec<Logger>>> {
    let loggers = state.store.loggers(user.tenant_id()).await?;
    Ok(Json(
        loggers
            .into_iter()
            .map(|l| with_presence(&state, l))
            .collect(),
    ))
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Logger>> {
    let id = resolve(&state, &user, &raw).await?;
    let logger = state
        .store
        .logger(user.tenant_id(), id)
        .await
        .map_err(not_found_as("logger"))?;
    Ok(Json(with_presence(&state, logger)))
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(alias = "logger_name")]
    name: Option<String>,
    allow_keyless: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Logger>> {
    let id = resolve(&state, &user, &raw).await?;
    let name = body
        .name
        .as_deref()
        .map(|n| Name::parse(n, "name").map(String::from))
        .transpose()?;
    let update = LoggerUpdate {
        name,
        allow_keyless: body.allow_keyless,
    };
    state
        .store
        .update_logger(user.tenant_id(), id, update)
        .await
        .map_err(not_found_as("logger"))?;
    let logger = state
        .store
        .logger(user.tenant_id(), id)
        .await
        .map_err(not_found_as("logger"))?;
    Ok(Json(with_presence(&state, logger)))
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    purge: bool,
}

async fn remove(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode> {
    let id = resolve(&state, &user, &raw).await?;
    state
        .store
        .delete_logger(user.tenant_id(), id, query.purge)
        .await
        .map_err(not_found_as("logger"))?;
    state.presence.forget(id);
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_key(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Value>> {
    let id = resolve(&state, &user, &raw).await?;
    let key = new_secret("ald_");
    state
        .store
        .rotate_key(user.tenant_id(), id, key.clone())
        .await
        .map_err(not_found_as("logger"))?;
    Ok(Json(json!({ "id": id, "device_key": key })))
}

#[derive(Deserialize)]
struct ClaimBody {
    logger_id: String,
    claim_code: String,
}

async fn claim(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Admin(user): Admin,
    ApiJson(body): ApiJson<ClaimBody>,
) -> Result<Json<Logger>> {
    let logger_id = LoggerId::parse(body.logger_id.trim())
        .map_err(|e| ApiError::bad_request("invalid_logger_id", e.to_string()))?;
    let code = body.claim_code.trim().to_owned();
    // Claim codes are short enough to guess: wrong ones count, per address and per admin.
    let account = format!("user:{}", user.0.user.id);
    state
        .auth
        .attempt(client, Some(&account))
        .map_err(too_many_attempts)?;
    let id = state
        .store
        .claim(user.tenant_id(), logger_id.as_str().to_owned(), code)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                ApiError::not_found("pending logger with that id and claim code")
            }
            other => other.into(),
        })?;
    state.auth.succeeded(client, Some(&account));
    tracing::info!(logger = %logger_id, tenant = %user.tenant_id(), "logger claimed");
    if let Some(status) = state.presence.set_tenant(id, user.tenant_id()) {
        crate::ingest::publish_status(&state, &status);
    }
    let logger = state.store.logger(user.tenant_id(), id).await?;
    Ok(Json(with_presence(&state, logger)))
}
