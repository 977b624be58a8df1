//! CSV answers (`Accept: text/csv` or `format=csv`); the tables and their writing are
//! `analytics::export`'s, shared with the shift reports' attachments.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::analytics::export::Table;
use crate::error::ApiError;

/// Whether the client asked for CSV (`Accept: text/csv`).
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// A CSV answer.
pub fn response(table: &Table) -> Response {
    match table.to_csv() {
        Ok(body) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response(),
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}
