//! `GET /api/v1/timeline`: each machine's states over a window with the planned time and the
//! shifts, as the timeline chart draws them (`analytics::timeline`).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::params::{Question, TimelineParams};
use super::openapi::ErrorBody;
use crate::AppState;
use crate::analytics::timeline::{self, Timeline};
use crate::error::{ApiError, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show))
}

/// Each machine's states over the window (at most 8 days), its planned time and planned
/// downtime, and the window's shifts: the same inputs the figures are computed from.
#[utoipa::path(
    get,
    path = "/api/v1/timeline",
    tag = "analytics",
    security(("user_token" = [])),
    params(TimelineParams),
    responses(
        (status = 200, description = "The timeline", body = Timeline),
        (status = 400, description = "Invalid query, a window over 8 days, or too many spans", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    Question { params, scope }: Question,
) -> Result<Json<Timeline>> {
    if params.bucket.is_some()
        || params.csv
        || params.min_duration_ms.is_some()
        || params.unassigned
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "a timeline takes from, to and asset_id only",
        ));
    }
    let _slot = state.queries.enter().await?;
    Ok(Json(timeline::timeline(&state.store, &scope).await?))
}
