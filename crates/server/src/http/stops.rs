//! The stops of the tenant's machines: listed (`GET /api/v1/stops`, JSON or CSV), given a reason
//! and a comment by operators, and split where two reasons follow each other.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::params::Question;
use super::analytics::params::StopsParams;
use super::openapi::ErrorBody;
use super::{ApiJson, ApiPath, Operator, parse_time_param};
use crate::AppState;
use crate::analytics::{self, StopFilter, StopId, StopView};
use crate::domain::Comment;
use crate::error::{ApiError, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(annotate))
        .routes(routes!(split))
}

/// The stops of the window, each part of a split stop on its own; CSV with `format=csv`.
#[utoipa::path(
    get,
    path = "/api/v1/stops",
    tag = "analytics",
    security(("user_token" = [])),
    params(StopsParams),
    responses(
        (status = 200, description = "The stops (JSON), or CSV with `format=csv`", content(
            (Vec<StopView> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Invalid query, or too many stops asked for", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<AppState>,
    Question { params, scope }: Question,
) -> Result<Response> {
    if params.bucket.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "stops take no bucket",
        ));
    }
    let filter = StopFilter {
        min_duration_ms: params.min_duration_ms,
        unassigned: params.unassigned,
    };
    let _slot = state.queries.enter().await?;
    let max = usize::try_from(state.config.stops_max).unwrap_or(usize::MAX);
    let views = analytics::stops(&state.store, &scope, filter, max).await?;
    if params.csv {
        return Ok(super::csv::response(&analytics::export::stops(&views)));
    }
    Ok(Json(views).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AnnotateBody {
    reason_id: Option<i64>,
    #[serde(default)]
    comment: String,
}

/// Sets a stop part's reason and comment (operators and admins).
#[utoipa::path(
    put,
    path = "/api/v1/stops/{id}",
    tag = "analytics",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "A stop part's id, `{asset_id}-{stop_start}-{part_start}`")),
    request_body = AnnotateBody,
    responses(
        (status = 204, description = "Annotated"),
        (status = 403, description = "A viewer", body = ErrorBody),
    )
)]
async fn annotate(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<AnnotateBody>,
) -> Result<StatusCode> {
    let id = StopId::parse(&raw)?;
    let comment = Comment::parse(&body.comment, "comment", 1000)?;
    analytics::annotate(&state.store, user.tenant_id(), id, body.reason_id, comment).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SplitBody {
    #[schema(value_type = super::openapi::TimeSchema)]
    at: Value,
}

/// The ids of the two parts a split made.
#[derive(Serialize, ToSchema)]
struct SplitAnswer {
    parts: [String; 2],
}

/// Splits a stop part in two at a time inside it (operators and admins).
#[utoipa::path(
    post,
    path = "/api/v1/stops/{id}/split",
    tag = "analytics",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "A stop part's id, `{asset_id}-{stop_start}-{part_start}`")),
    request_body = SplitBody,
    responses(
        (status = 200, description = "Split", body = SplitAnswer),
        (status = 403, description = "A viewer", body = ErrorBody),
    )
)]
async fn split(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<SplitBody>,
) -> Result<Json<SplitAnswer>> {
    let id = StopId::parse(&raw)?;
    let at = match &body.at {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_time_param(s, "at").ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_field",
            "the split time (at) is a date and time, RFC 3339 like 2026-12-03T14:05:00Z, or epoch milliseconds",
        )
    })?;
    let parts = analytics::split(&state.store, user.tenant_id(), id, at).await?;
    Ok(Json(SplitAnswer {
        parts: parts.map(|p| p.to_string()),
    }))
}
