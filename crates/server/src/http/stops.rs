//! The stops of the tenant's machines: listed (`GET /api/v1/stops`, JSON or CSV), given a reason
//! and a comment by operators, and split where two reasons follow each other.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::analytics::params::Question;
use super::{ApiJson, ApiPath, Operator, parse_time_param};
use crate::AppState;
use crate::analytics::{self, StopFilter, StopId};
use crate::domain::Comment;
use crate::error::{ApiError, Result};
use crate::live::rfc3339;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stops", get(list))
        .route("/api/v1/stops/{id}", put(annotate))
        .route("/api/v1/stops/{id}/split", post(split))
}

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
        let header = [
            "id",
            "asset_id",
            "start",
            "end",
            "duration_ms",
            "ongoing",
            "short",
            "reason_id",
            "comment",
        ];
        let rows = views
            .iter()
            .map(|v| {
                vec![
                    v.id.clone(),
                    v.asset_id.to_string(),
                    rfc3339(v.start),
                    rfc3339(v.end),
                    v.duration_ms.to_string(),
                    v.ongoing.to_string(),
                    v.short.to_string(),
                    v.reason_id.map(|r| r.to_string()).unwrap_or_default(),
                    v.comment.clone(),
                ]
            })
            .collect();
        return Ok(super::csv::response(&header, rows));
    }
    Ok(Json(views).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotateBody {
    reason_id: Option<i64>,
    #[serde(default)]
    comment: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitBody {
    at: Value,
}

async fn split(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<SplitBody>,
) -> Result<Json<Value>> {
    let id = StopId::parse(&raw)?;
    let at = match &body.at {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_time_param(s, "at").ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request("invalid_field", "at must be RFC 3339 or epoch milliseconds")
    })?;
    let parts = analytics::split(&state.store, user.tenant_id(), id, at).await?;
    Ok(Json(json!({ "parts": parts.map(|p| p.to_string()) })))
}
