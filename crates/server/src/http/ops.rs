//! Operations: health and metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::store::StorageHealth;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// 200 when the database answers and writes reach the disk; else 503 with the reason: the
/// database does not answer, writes fail (the disk is full, or failing), or the server started
/// read-only on a full disk.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "database unavailable" })),
        );
    }
    let (status, reason) = match state.store.storage_health() {
        StorageHealth::Ok => return (StatusCode::OK, axum::Json(json!({ "status": "ok" }))),
        StorageHealth::Full { reason } => ("storage full", reason),
        StorageHealth::Failing { reason } => ("storage failing", reason),
        StorageHealth::ReadOnly { reason } => ("read-only", reason),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "status": status, "reason": reason })),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
