//! The extractors every handler shares. They turn every malformed request into our JSON error
//! (axum's own rejections answer plain text) and find the caller: a user by token, or a device
//! by key.

use crate::domain::{TenantId, UserId};
use assetlog_core::wire::ObjectOnly;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::MAX_BODY_BYTES;
use crate::AppState;
use crate::error::{ApiError, Result};
use crate::secrets::hash_secret;
use crate::store::{Role, Session, User};

/// A JSON body, read whatever the Content-Type (the original firmware does not always send one).
/// Written out rather than derived over `axum::Json`, which refuses a body without
/// `Content-Type: application/json`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    /// Only an object: serde would also take a struct's fields as a positional list
    /// (`["a@x.y", "password"]`), which no client means.
    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = body(req, state).await?;
        decode::<ObjectOnly<T>>(&bytes).map(|o| ApiJson(o.0))
    }
}

/// A JSON body that is a list (the one endpoint that takes one: the shift calendar).
pub struct ApiJsonList<T>(pub Vec<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJsonList<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = body(req, state).await?;
        decode::<Vec<ObjectOnly<T>>>(&bytes)
            .map(|list| ApiJsonList(list.into_iter().map(|o| o.0).collect()))
    }
}

async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes> {
    axum::body::Bytes::from_request(req, state)
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
        })
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let code = if e.is_data() {
            "invalid_field"
        } else {
            "malformed_json"
        };
        ApiError::bad_request(code, format!("invalid JSON body: {e}"))
    })
}

/// Query parameters with JSON errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

/// Path parameters with JSON errors (e.g. an id that is not valid UTF-8 once decoded).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), "invalid_path", r.body_text())
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
    pub fn tenant_id(&self) -> TenantId {
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
        let session = session_for(state, token).await?;
        // A wall screen's token reads and never writes, whatever the route would let a viewer do.
        if session.user.role == Role::Display
            && !matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD
            )
        {
            return Err(ApiError::forbidden(
                "a display token only reads: sign in as a person to change anything",
            ));
        }
        Ok(CurrentUser(session))
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

/// What a display's token starts with (a session's token starts with `alt_`).
pub const DISPLAY_TOKEN_PREFIX: &str = "ald_";

pub async fn session_for(state: &AppState, token: &str) -> Result<Session> {
    if token.starts_with(DISPLAY_TOKEN_PREFIX) {
        let (display, tenant) = state
            .store
            .display_session(hash_secret(token))
            .await?
            .ok_or_else(|| ApiError::unauthorized("the display token is invalid or revoked"))?;
        // A display acts as a user of its own: an id no person has, the role that only reads.
        return Ok(Session {
            user: User {
                id: UserId(-display.id),
                email: format!("Display: {}", display.name),
                role: Role::Display,
                tenant_id: tenant.id,
            },
            tenant,
            expires_at: i64::MAX,
        });
    }
    state
        .store
        .session(hash_secret(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is invalid, expired or revoked"))
}
