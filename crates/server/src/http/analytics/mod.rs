//! `GET /api/v1/analytics`: the parameters parsed into a question for [`crate::analytics`],
//! the answer written as JSON ([`json`]) or CSV.

mod json;
pub(super) mod params;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::analytics;
use crate::error::{ApiError, Result};
use crate::http::openapi::{AnalyticsAnswer, ErrorBody};
use params::{AnalyticsParams, Question};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(figures))
        .route("/api/analytics", get(figures))
}

/// Availability, MTBF, MTTR, stops and down time by reason over a window, per asset and in
/// total, optionally per bucket; CSV with `format=csv`. docs/ANALYTICS.md says what each means.
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "analytics",
    security(("user_token" = [])),
    params(AnalyticsParams),
    responses(
        (status = 200, description = "The figures (JSON), or CSV with `format=csv`", content(
            (AnalyticsAnswer = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Invalid query, or more work than one request may ask", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    )
)]
async fn figures(
    State(state): State<AppState>,
    Question { params, scope }: Question,
) -> Result<Response> {
    scope.check_work(params.bucket, state.config.analytics_max_figures)?;
    // Held while the answer is computed and written (CSV) or sent (JSON).
    let slot = state.queries.enter().await?;
    let answer = analytics::figures(&state, &scope, params.bucket).await?;
    if params.csv {
        return Ok(super::csv::response(&analytics::export::figures(&answer)));
    }
    json::answer(answer, slot).map_err(|e| ApiError::Internal(e.into()))
}
