//! The HTTP API, split by domain; each module has its own `router()`, merged in [`router`].
//!
//! Also here: the extractors every handler shares. They turn every malformed request into our
//! JSON error (axum's own rejections answer plain text) and find the caller: a user by token,
//! or a device by key.

mod accounts;
mod analytics;
pub use accounts::{check_password, parse_email};
mod assets;
mod device;
pub use device::{publish_status, store_and_publish, touch};
mod live;
mod loggers;
mod ops;
mod settings;
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
        .merge(assets::router())
        .merge(live::router())
        .merge(ops::router())
        .merge(settings::router())
        .merge(analytics::router())
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

/// One CSV field, quoted when it must be (RFC 4180). Text that a spreadsheet would run as a
/// formula (names and comments come from devices and people) gets a leading `'`.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '@', '\t', '\r'])
        || (s.starts_with('-') && s[1..].parse::<f64>().is_err());
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn csv_response(header: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut body = header.join(",");
    body.push_str("\r\n");
    for row in rows {
        body.push_str(
            &row.iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        body.push_str("\r\n");
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

/// A JSON answer whose bulk is one array, sent while it is written: `head`, then `items` as a
/// JSON array, then `tail`. The items are written on blocking threads, one contiguous share per
/// CPU, and sent in order: a big answer (a year of 500 assets by day is 46 MB) neither holds an
/// async worker nor waits to be whole before its first byte leaves. If writing fails, the
/// connection is cut rather than the answer left looking complete.
pub fn streamed_json_array<T: WriteJson + Send + 'static>(
    head: Vec<u8>,
    items: Vec<T>,
    tail: Vec<u8>,
) -> Response {
    use futures_util::StreamExt;
    let shares: Vec<_> = crate::shares::per_cpu(items, 1)
        .into_iter()
        .enumerate()
        .map(|(i, mine)| {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Chunk>();
            tokio::task::spawn_blocking(move || {
                let mut out = Chunks::new(sender);
                if let Err(e) = write_items(&mut out, &mine, i > 0) {
                    tracing::debug!(error = %e, "a streamed answer was cut short");
                    let _ = out.sender.send(Err(e));
                }
            });
            receiver
        })
        .collect();
    let shares = futures_util::stream::iter(shares).flat_map(|receiver| {
        futures_util::stream::unfold(
            receiver,
            |mut r| async move { r.recv().await.map(|c| (c, r)) },
        )
    });
    let mut head = head;
    head.push(b'[');
    let mut tail = tail;
    tail.insert(0, b']');
    let body = futures_util::stream::once(async move { Ok(head.into()) })
        .chain(shares)
        .chain(futures_util::stream::once(async move { Ok(tail.into()) }));
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A value that writes itself as JSON text, for answers too big for serde's generic path.
pub trait WriteJson {
    fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()>;
}

/// Writes `items` as the inside of a JSON array (with a comma first when they follow others).
fn write_items<T: WriteJson>(
    out: &mut Chunks,
    items: &[T],
    lead_comma: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    for (i, item) in items.iter().enumerate() {
        if lead_comma || i > 0 {
            out.write_all(b",")?;
        }
        item.write_json(out)?;
    }
    out.flush()
}

/// A piece of a streamed body, or the error that cuts it.
type Chunk = std::result::Result<axum::body::Bytes, std::io::Error>;

/// Hands written text to a streamed body in chunks of about [`Chunks::SIZE`] bytes.
struct Chunks {
    buf: Vec<u8>,
    sender: tokio::sync::mpsc::UnboundedSender<Chunk>,
}

impl Chunks {
    const SIZE: usize = 256 * 1024;

    fn new(sender: tokio::sync::mpsc::UnboundedSender<Chunk>) -> Self {
        Self {
            buf: Vec::with_capacity(Self::SIZE),
            sender,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::SIZE));
        self.sender
            .send(Ok(full.into()))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= Self::SIZE {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

/// Whether the client asked for CSV (`Accept: text/csv`).
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// A name (of an asset, a logger, a reason, …): trimmed, 1 to 100 printable characters.
pub fn name_text(raw: &str, field: &str) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > 100 || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be 1 to 100 printable characters"),
        ));
    }
    Ok(text.to_owned())
}

/// An id in a path; anything that is not one names nothing (404).
pub fn parse_id(raw: &str, what: &str) -> Result<i64> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(String);

    impl WriteJson for Item {
        fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
            Ok(serde_json::to_writer(out, &self.0)?)
        }
    }

    async fn body_of(head: &str, items: Vec<String>, tail: &str) -> serde_json::Value {
        let items = items.into_iter().map(Item).collect();
        let response = streamed_json_array(head.into(), items, tail.into());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_streamed_array_is_the_whole_answer_in_order() {
        // Long enough that each share is sent in several chunks.
        let long = |i: usize| format!("{i:0>9000}");
        for n in [0, 1, 2, 3, 7, 100] {
            let items: Vec<String> = (0..n).map(long).collect();
            let answer = body_of(r#"{"a":1,"list":"#, items.clone(), "}").await;
            assert_eq!(
                answer,
                serde_json::json!({ "a": 1, "list": items }),
                "{n} items"
            );
        }
    }
}
