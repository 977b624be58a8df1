//! What loggers do besides reporting: register, send heartbeats, and prove who they are.

use std::sync::Arc;

use super::super::{DeviceAuth, Heartbeat, Registration, RegistrationOutcome, Result, StoreError};
use super::Pg;
use crate::domain::LoggerRow;

impl Pg {
    pub async fn device(&self, _logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        Err(StoreError::Unavailable(
            "device: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn register(&self, _reg: Registration) -> Result<RegistrationOutcome> {
        Err(StoreError::Unavailable(
            "register: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn heartbeat(&self, _logger_row: LoggerRow, _hb: Heartbeat) -> Result<()> {
        Err(StoreError::Unavailable(
            "heartbeat: not on PostgreSQL yet".into(),
        ))
    }
}
