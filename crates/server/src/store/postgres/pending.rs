//! Pending loggers: listed, released, expired.

use super::super::{PendingLogger, Result, StoreError};
use super::Pg;
use crate::domain::LoggerRow;

impl Pg {
    pub async fn pending_loggers(&self) -> Result<Vec<PendingLogger>> {
        Err(StoreError::Unavailable(
            "pending_loggers: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn release_pending(&self, _logger_id: String) -> Result<LoggerRow> {
        Err(StoreError::Unavailable(
            "release_pending: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn expire_pending(
        &self,
        _registered_before: i64,
    ) -> Result<Vec<(LoggerRow, String)>> {
        Err(StoreError::Unavailable(
            "expire_pending: not on PostgreSQL yet".into(),
        ))
    }
}
