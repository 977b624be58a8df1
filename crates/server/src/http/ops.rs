//! Operations: health and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::store::StorageHealth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
}

/// 200 when the database answers and writes reach the disk; else 503 with the reason: the
/// database does not answer, writes fail (the disk is full, or failing), or the server started
/// read-only on a full disk.
/// `ok`, or what is wrong and why.
#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`, `database unavailable`, `storage full`, `storage failing` or `read-only`.
    #[schema(value_type = String)]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Whether the server can read and write its store.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The store cannot be read or written", body = Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let health = |status, reason| axum::Json(Health { status, reason });
    if !state.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            health("database unavailable", None),
        );
    }
    let (status, reason) = match state.store.storage_health() {
        StorageHealth::Ok => return (StatusCode::OK, health("ok", None)),
        StorageHealth::Full { reason } => ("storage full", reason),
        StorageHealth::Failing { reason } => ("storage failing", reason),
        StorageHealth::ReadOnly { reason } => ("read-only", reason),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        health(status, Some(reason)),
    )
}

/// Prometheus metrics, in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "The metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"))
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
