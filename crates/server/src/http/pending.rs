//! Loggers waiting to be claimed: the list an admin claims from, and the release of a squatted
//! hardware id (store/pending.rs).
//!
//! Pending loggers belong to no tenant. An admin of any tenant sees them, since claiming means
//! finding one's own device among them, but only what a device says about itself and where it
//! came from: never its claim code (read off the device's display) nor its key.

use assetlog_core::LoggerId;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{Admin, ApiPath};
use crate::AppState;
use crate::error::{ApiError, Result, not_found_as};
use crate::store::PendingLogger;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(release))
}

/// The loggers waiting to be claimed, of the whole server (admins only); never their codes.
#[utoipa::path(
    get,
    path = "/api/v1/loggers/pending",
    tag = "loggers",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The pending loggers", body = Vec<PendingLogger>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Json<Vec<PendingLogger>>> {
    let mut pending = state.store.pending_loggers().await?;
    for logger in &mut pending {
        if let Some((last_seen, _)) = state.presence.get(logger.row) {
            logger.last_seen = Some(last_seen);
        }
    }
    Ok(Json(pending))
}

/// Deletes a pending logger with all it stored: the real device can then register afresh and
/// gets a new key and claim code.
/// Forgets a pending logger, so the real device can register that hardware id (admins only).
#[utoipa::path(
    delete,
    path = "/api/v1/loggers/pending/{logger_id}",
    tag = "loggers",
    security(("user_token" = [])),
    params(("logger_id" = String, Path, description = "The pending logger's hardware id")),
    responses(
        (status = 204, description = "Released"),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn release(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let logger_id = LoggerId::parse(&raw).map_err(|_| ApiError::not_found("pending logger"))?;
    let row = state
        .store
        .release_pending(logger_id.as_str().to_owned())
        .await
        .map_err(not_found_as("pending logger"))?;
    state.presence.forget(row);
    crate::mqtt::removed(&state, logger_id.as_str()).await;
    tracing::info!(logger = %logger_id, by = %admin.0.user.id, tenant = %admin.tenant_id(), "pending logger released");
    Ok(StatusCode::NO_CONTENT)
}
