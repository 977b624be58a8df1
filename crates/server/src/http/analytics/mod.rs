//! `GET /api/v1/analytics`: the parameters parsed into a question for [`crate::analytics`],
//! the answer written as JSON ([`json`]) or CSV.

mod json;
pub(super) mod params;

use assetlog_core::kpi::Figures;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::analytics::{self, Answer};
use crate::error::{ApiError, Result};
use crate::http::openapi::{AnalyticsAnswer, ErrorBody};
use crate::live::rfc3339;
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
        return Ok(csv(&answer));
    }
    json::answer(answer, slot).map_err(|e| ApiError::Internal(e.into()))
}

const FIGURE_COLUMNS: [&str; 10] = [
    "run_ms",
    "down_ms",
    "unknown_ms",
    "unplanned_ms",
    "availability",
    "stops",
    "short_stops",
    "long_stops",
    "mtbf_ms",
    "mttr_ms",
];

fn figure_cells(f: &Figures) -> Vec<String> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        f.run_ms.to_string(),
        f.down_ms.to_string(),
        f.unknown_ms.to_string(),
        f.unplanned_ms.to_string(),
        f.availability
            .map(|a| format!("{a:.6}"))
            .unwrap_or_default(),
        f.stops.to_string(),
        f.short_stops.to_string(),
        f.long_stops.to_string(),
        opt(f.mtbf_ms),
        opt(f.mttr_ms),
    ]
}

/// The answer as CSV: per asset, a line for the window, then one per bucket.
fn csv(answer: &Answer) -> Response {
    let mut header = vec!["asset_id", "asset_name", "start", "end"];
    header.extend(FIGURE_COLUMNS);
    let mut lines = Vec::new();
    for asset in &answer.assets {
        let line = |start: i64, end: i64, f: &Figures| {
            let mut cells = vec![
                asset.asset_id.to_string(),
                asset.asset_name.clone(),
                rfc3339(start),
                rfc3339(end),
            ];
            cells.extend(figure_cells(f));
            cells
        };
        lines.push(line(answer.from, answer.to, &asset.row.figures));
        for (b, f) in answer.buckets.iter().zip(&asset.row.buckets) {
            lines.push(line(b.start, b.end, f));
        }
    }
    super::csv::response(&header, lines)
}
