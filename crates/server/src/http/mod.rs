//! The HTTP API, split by domain; each module has its own `router()`, merged in [`router`].
//! Handlers parse, authorise, call a service (`ingest`, `analytics`, the store) and answer.
//!
//! # Layout
//! - [`extract`]: the extractors every handler shares (JSON errors; the caller by token or key).
//! - `accounts`, `displays`, `alerts`, `device`, `loggers`, `assets`, `settings`, `analytics/`, `stops`, `timeline`, `live`, `ops`,
//!   `web`: one domain each.
//! - `csv`, `stream`: CSV answers, and JSON answers streamed while they are written.
//! - [`openapi`]: the OpenAPI document, generated from the handlers' annotations as their
//!   routers register them; served at `/api/v1/openapi.json`.

mod accounts;
mod alerts;
mod analytics;
mod assets;
mod csv;
mod device;
mod displays;
mod extract;
mod live;
mod loggers;
pub mod openapi;
mod ops;
mod peer;
mod pending;
mod reports;
mod settings;
mod stops;
mod stream;
mod timeline;
mod web;

pub use extract::{
    Admin, ApiJson, ApiJsonList, ApiPath, ApiQuery, CurrentUser, DISPLAY_TOKEN_PREFIX, Operator,
    bearer, session_for,
};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, Result};

/// Largest request body accepted (a full 1000-event batch fits).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route with its documentation ([`openapi`]), before the fallbacks and layers.
fn documented() -> utoipa_axum::router::OpenApiRouter<AppState> {
    openapi::api()
        .merge(accounts::router())
        .merge(displays::router())
        .merge(device::router())
        .merge(loggers::router())
        .merge(pending::router())
        .merge(assets::router())
        .merge(live::router())
        .merge(ops::router())
        .merge(settings::router())
        .merge(analytics::router())
        .merge(stops::router())
        .merge(timeline::router())
        .merge(alerts::router())
        .merge(reports::router())
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = documented().split_for_parts();
    routes
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
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.config.tls_cert.is_some(),
            strict_transport,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// `nosniff` on every answer (a browser never guesses another type than the one sent), and no
/// caching of API answers (a sign-in's token, a tenant's data) by browsers or proxies.
async fn security_headers(request: Request, next: axum::middleware::Next) -> Response {
    use axum::http::{HeaderValue, header};
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// With TLS on, HSTS: a browser that has been here over HTTPS never comes back over plain HTTP
/// (a year; subdomains are the plant's, not ours, so they are left out).
async fn strict_transport(
    axum::extract::State(tls): axum::extract::State<bool>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{HeaderValue, header};
    let mut response = next.run(request).await;
    if tls {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
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
pub fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
