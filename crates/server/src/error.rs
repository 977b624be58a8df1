//! The one error type of the HTTP layer.
//!
//! Client errors answer `{"error":{"code","message"}}` with their status; internal errors are
//! logged with their cause chain and answered as a bare 500 that reveals nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::analytics::AnalyticsError;
use crate::domain::Refusal;
use crate::ingest::IngestError;
use crate::store::StoreError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// `Retry-After` of a write refused by a cap on pending loggers: they change only when an admin
/// claims or releases one.
const PENDING_RETRY_AFTER_S: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// A refusal the client should retry later, answered with `Retry-After` (a limit, a busy
    /// server).
    #[error("{message}")]
    Later {
        status: StatusCode,
        code: &'static str,
        message: String,
        retry_after_s: u64,
    },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `429` with `Retry-After`.
    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after_s: u64) -> Self {
        Self::Later {
            status: StatusCode::TOO_MANY_REQUESTS,
            code,
            message: message.into(),
            retry_after_s,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("resource"),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            // Retried by the logger (a 429, like a busy server): a real device keeps its events
            // until an admin claims it.
            StoreError::PendingFull { what, limit } => {
                Self::too_many(what.code(), what.message(limit), PENDING_RETRY_AFTER_S)
            }
            // 507: the server is fine, its disk has no room; the client keeps what it sent (a
            // logger its unacknowledged events) and tries again later.
            StoreError::Full(reason) => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                format!("nothing was stored: {reason}"),
            ),
            StoreError::Unavailable(_) => Self::Later {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "database_unavailable",
                message: "the database cannot be reached: try again shortly".into(),
                retry_after_s: 1,
            },
            // Met twice in a row (`ingest` reads the credentials again after the first):
            // they are being changed right now; the logger tries again.
            StoreError::CredentialsChanged => Self::Later {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "credentials_changed",
                message: "the logger's credentials changed meanwhile: try again".into(),
                retry_after_s: 1,
            },
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<crate::limits::QueriesBusy> for ApiError {
    fn from(e: crate::limits::QueriesBusy) -> Self {
        Self::Later {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "busy",
            message: e.to_string(),
            retry_after_s: e.waited.as_secs().max(1),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        Self::bad_request(r.code, r.message)
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Refused(r) => r.into(),
            IngestError::TooMany => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                e.to_string(),
            ),
            IngestError::UnknownLogger | IngestError::WrongKey => Self::unauthorized(e.to_string()),
            IngestError::Store(e) => e.into(),
        }
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::Refused(r) => r.into(),
            AnalyticsError::NotFound(what) => Self::not_found(what),
            AnalyticsError::InvalidReason(m) => Self::bad_request("invalid_reason", m),
            AnalyticsError::Store(e) => e.into(),
            AnalyticsError::Internal(e) => Self::Internal(e),
        }
    }
}

/// Maps a store's NotFound to a 404 that names the thing; other errors as usual.
pub fn not_found_as(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Client {
                status,
                code,
                message,
            } => (status, code, message),
            Self::Later {
                status,
                code,
                message,
                retry_after_s,
            } => {
                let body = Json(json!({ "error": { "code": code, "message": message } }));
                let retry_after = [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())];
                return (status, retry_after, body).into_response();
            }
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error".to_owned(),
                )
            }
        };
        (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
}
