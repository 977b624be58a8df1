//! Loggers, assets and events as their tenant sees them; presence's contacts and offline spans.

use super::super::{Asset, Event, EventQuery, Logger, LoggerUpdate, Result, StoreError};
use super::Pg;
use crate::domain::{AssetId, LoggerRow, TenantId};

impl Pg {
    pub async fn loggers(&self, _tenant_id: TenantId) -> Result<Vec<Logger>> {
        Err(StoreError::Unavailable(
            "loggers: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn logger(&self, _tenant_id: TenantId, _id: LoggerRow) -> Result<Logger> {
        Err(StoreError::Unavailable(
            "logger: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn logger_row_by_hardware_id(
        &self,
        _tenant_id: TenantId,
        _logger_id: String,
    ) -> Result<LoggerRow> {
        Err(StoreError::Unavailable(
            "logger_row_by_hardware_id: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn update_logger(
        &self,
        _tenant_id: TenantId,
        _id: LoggerRow,
        _update: LoggerUpdate,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "update_logger: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn delete_logger(
        &self,
        _tenant_id: TenantId,
        _id: LoggerRow,
        _purge: bool,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "delete_logger: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn rotate_key(
        &self,
        _tenant_id: TenantId,
        _id: LoggerRow,
        _new_key: String,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "rotate_key: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn claim(
        &self,
        _tenant_id: TenantId,
        _logger_id: String,
        _claim_code: String,
    ) -> Result<LoggerRow> {
        Err(StoreError::Unavailable(
            "claim: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn assets(&self, _tenant_id: TenantId) -> Result<Vec<Asset>> {
        Err(StoreError::Unavailable(
            "assets: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn asset(&self, _tenant_id: TenantId, _id: AssetId) -> Result<Asset> {
        Err(StoreError::Unavailable(
            "asset: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn update_asset(
        &self,
        _tenant_id: TenantId,
        _id: AssetId,
        _name: Option<String>,
        _threshold_s: Option<Option<i64>>,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "update_asset: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn first_event_ts(&self, _tenant_id: TenantId) -> Result<Option<i64>> {
        Err(StoreError::Unavailable(
            "first_event_ts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn events(&self, _tenant_id: TenantId, _q: EventQuery) -> Result<Vec<Event>> {
        Err(StoreError::Unavailable(
            "events: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn logger_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>> {
        Err(StoreError::Unavailable(
            "logger_contacts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn save_contacts(&self, _contacts: Vec<(LoggerRow, i64, bool)>) -> Result<()> {
        Err(StoreError::Unavailable(
            "save_contacts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn open_offline(&self, _logger_row: LoggerRow, _since: i64) -> Result<()> {
        Err(StoreError::Unavailable(
            "open_offline: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn close_offline(&self, _logger_row: LoggerRow, _at: i64) -> Result<()> {
        Err(StoreError::Unavailable(
            "close_offline: not on PostgreSQL yet".into(),
        ))
    }
}
