//! The HTTP API, split by domain; each module has its own `router()`, merged in [`router`].
//!
//! Also here: the extractors every handler shares. They turn every malformed request into our
//! JSON error (axum's own rejections answer plain text) and find the caller: a user by token,
//! or a device by key.

mod accounts;
mod analytics;
mod assets;
mod csv;
mod device;
mod live;
mod loggers;
mod ops;
mod peer;
mod pending;
mod settings;
mod stops;
mod stream;
mod web;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::secrets::hash_secret;
use crate::store::{Role, Session};

/// Largest request body accepted (a full 1000-event batch fits).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(accounts::router())
        .merge(device::router())
        .merge(loggers::router())
        .merge(pending::router())
        .merge(assets::router())
        .merge(live::router())
        .merge(ops::router())
        .merge(settings::router())
        .merge(analytics::router())
        .merge(stops::router())
        .fallback(fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Unknown paths: the dashboard for GET/HEAD outside `/api`, else the API's JSON 404.
async fn fallback(request: Request) -> Response {
    if web::serves(request.method(), request.uri().path()) {
        return web::serve(&request);
    }
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").into_response()
}

/// The log span of a request: method and path only. Never the query, which may carry a token.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// A JSON body, read whatever the Content-Type (the original firmware does not always send one).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "body_too_large",
                        format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::new(status, "bad_body", rejection.body_text())
                }
            })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            let code = if e.is_data() {
                "invalid_field"
            } else {
                "malformed_json"
            };
            ApiError::bad_request(code, format!("invalid JSON body: {e}"))
        })
    }
}

/// Query parameters with JSON errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from(query).map(ApiQuery)
    }
}

fn serde_urlencoded_from<T: DeserializeOwned>(query: &str) -> Result<T> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_query", "bad query string"))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// Path parameters with JSON errors (e.g. an id that is not valid UTF-8 once decoded).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r| ApiError::new(r.status(), "invalid_path", r.body_text()))
    }
}

/// The bearer credential of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The signed-in user of a request (`Authorization: Bearer <token>`); 401 without one.
pub struct CurrentUser(pub Session);

impl CurrentUser {
    pub fn tenant_id(&self) -> i64 {
        self.0.tenant.id
    }

    /// 403 unless the user has at least this role.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.0.user.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("sign in first: no bearer token"))?;
        session_for(state, token).await.map(CurrentUser)
    }
}

/// A signed-in admin; checked before the body is read, so a viewer learns 403 whatever they send.
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.require(Role::Admin)?;
        Ok(Self(user))
    }
}

/// A signed-in operator or admin (who annotate stops); checked before the body is read.
pub struct Operator(pub CurrentUser);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.require(Role::Operator)?;
        Ok(Self(user))
    }
}

pub async fn session_for(state: &AppState, token: &str) -> Result<Session> {
    state
        .store
        .session(hash_secret(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is invalid, expired or revoked"))
}

/// RFC 3339 or epoch milliseconds, from a query parameter.
pub fn parse_time_param(raw: &str, name: &str) -> Result<i64> {
    let ms = match raw.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| t.timestamp_millis())
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("{name} must be RFC 3339 or epoch milliseconds"),
                )
            })?,
    };
    // Far outside any history, and keeps window arithmetic clear of overflow.
    if !(0..=LATEST_TIME_MS).contains(&ms) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} must lie between 1970 and 2100"),
        ));
    }
    Ok(ms)
}

/// 2100-01-01T00:00:00Z: the latest time a query or a planned stop may name.
pub const LATEST_TIME_MS: i64 = 4_102_444_800_000;

/// An id in a path; anything that is not one names nothing (404).
pub fn parse_id(raw: &str, what: &str) -> Result<i64> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
