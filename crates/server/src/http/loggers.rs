//! A tenant's loggers: list, inspect, rename, allow keyless posts, rotate keys, claim, delete.
//! The original management paths answer through the same handlers, now behind a token.

use crate::domain::LoggerRow;
use assetlog_core::LoggerId;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::put;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::peer::{ClientAddr, too_many_attempts};
use super::{Admin, ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::AppState;
use crate::domain::Name;
use crate::error::{ApiError, Result, not_found_as};
use crate::secrets::new_secret;
use crate::store::{Logger, LoggerUpdate};

pub fn router() -> OpenApiRouter<AppState> {
    use axum::routing::get;
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(claim))
        .routes(routes!(show, update, remove))
        .routes(routes!(rotate_key))
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

/// The tenant's loggers, with their assets and presence.
#[utoipa::path(
    get,
    path = "/api/v1/loggers",
    tag = "loggers",
    security(("user_token" = [])),
    responses((status = 200, description = "The loggers", body = Vec<Logger>))
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Vec<Logger>>> {
    let loggers = state.store.loggers(user.tenant_id()).await?;
    Ok(Json(
        loggers
            .into_iter()
            .map(|l| with_presence(&state, l))
            .collect(),
    ))
}

/// One logger.
#[utoipa::path(
    get,
    path = "/api/v1/loggers/{id}",
    tag = "loggers",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The logger's `id`, or its hardware `logger_id`")),
    responses((status = 200, description = "The logger", body = Logger))
)]
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

#[derive(Deserialize, ToSchema)]
struct UpdateBody {
    #[serde(alias = "logger_name")]
    name: Option<String>,
    allow_keyless: Option<bool>,
}

/// Renames a logger, or allows or refuses keyless posts (admins only).
#[utoipa::path(
    put,
    path = "/api/v1/loggers/{id}",
    tag = "loggers",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The logger's `id`, or its hardware `logger_id`")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The logger", body = Logger),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Also delete its assets and their history.
    #[serde(default)]
    purge: bool,
}

/// Deletes a logger (admins only); `purge=true` deletes its history too.
#[utoipa::path(
    delete,
    path = "/api/v1/loggers/{id}",
    tag = "loggers",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The logger's `id`, or its hardware `logger_id`"), DeleteQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The query does not parse", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode> {
    let id = resolve(&state, &user, &raw).await?;
    let logger = state
        .store
        .logger(user.tenant_id(), id)
        .await
        .map_err(not_found_as("logger"))?;
    state
        .store
        .delete_logger(user.tenant_id(), id, query.purge)
        .await
        .map_err(not_found_as("logger"))?;
    state.presence.forget(id);
    crate::mqtt::removed(&state, &logger.logger_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A logger's new device key; the old one stops working.
#[derive(Serialize, ToSchema)]
struct RotatedKey {
    id: crate::domain::LoggerRow,
    device_key: String,
}

/// Gives a logger a new device key (admins only).
#[utoipa::path(
    post,
    path = "/api/v1/loggers/{id}/rotate-key",
    tag = "loggers",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The logger's `id`, or its hardware `logger_id`")),
    responses(
        (status = 200, description = "The new key", body = RotatedKey),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn rotate_key(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<RotatedKey>> {
    let id = resolve(&state, &user, &raw).await?;
    let key = new_secret("ald_");
    state
        .store
        .rotate_key(user.tenant_id(), id, key.clone())
        .await
        .map_err(not_found_as("logger"))?;
    let logger = state
        .store
        .logger(user.tenant_id(), id)
        .await
        .map_err(not_found_as("logger"))?;
    crate::mqtt::keyed(&state, &logger.logger_id, &key).await;
    Ok(Json(RotatedKey {
        id,
        device_key: key,
    }))
}

#[derive(Deserialize, ToSchema)]
struct ClaimBody {
    logger_id: String,
    claim_code: String,
}

/// Claims a pending logger for the tenant with the code it shows (admins only).
#[utoipa::path(
    post,
    path = "/api/v1/loggers/claim",
    tag = "loggers",
    security(("user_token" = [])),
    request_body = ClaimBody,
    responses(
        (status = 200, description = "The claimed logger", body = Logger),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No pending logger with that id and claim code", body = ErrorBody),
        (status = 429, description = "Too many wrong codes (`Retry-After`)", body = ErrorBody),
    )
)]
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
        .attempt(client, &account)
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
    state.auth.succeeded(client, &account);
    tracing::info!(logger = %logger_id, tenant = %user.tenant_id(), "logger claimed");
    if let Some(status) = state.presence.set_tenant(id, user.tenant_id()) {
        crate::ingest::publish_status(&state, &status);
    }
    let logger = state.store.logger(user.tenant_id(), id).await?;
    Ok(Json(with_presence(&state, logger)))
}
