//! Time zone, shifts, planned downtime, reasons, stop notes, and the histories analytics reads.

use super::super::{
    HistoryAsk, HistoryRows, PlannedDowntime, Reason, Result, Settings, StopPart, StoreError,
};
use super::Pg;
use crate::calendar::Calendar;
use crate::domain::{AssetId, TenantId};

impl Pg {
    pub async fn settings(&self, _tenant_id: TenantId) -> Result<Settings> {
        Err(StoreError::Unavailable(
            "settings: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn update_settings(
        &self,
        _tenant_id: TenantId,
        _timezone: Option<String>,
        _threshold_s: Option<i64>,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "update_settings: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn shifts(&self, _tenant_id: TenantId) -> Result<Calendar> {
        Err(StoreError::Unavailable(
            "shifts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn set_shifts(&self, _tenant_id: TenantId, _calendar: Calendar) -> Result<()> {
        Err(StoreError::Unavailable(
            "set_shifts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn add_planned_downtime(
        &self,
        _tenant_id: TenantId,
        _asset_id: Option<AssetId>,
        _from: i64,
        _to: i64,
        _note: String,
    ) -> Result<PlannedDowntime> {
        Err(StoreError::Unavailable(
            "add_planned_downtime: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn planned_downtime(
        &self,
        _tenant_id: TenantId,
        _from: Option<i64>,
        _to: Option<i64>,
    ) -> Result<Vec<PlannedDowntime>> {
        Err(StoreError::Unavailable(
            "planned_downtime: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn delete_planned_downtime(&self, _tenant_id: TenantId, _id: i64) -> Result<()> {
        Err(StoreError::Unavailable(
            "delete_planned_downtime: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn reasons(&self, _tenant_id: TenantId) -> Result<Vec<Reason>> {
        Err(StoreError::Unavailable(
            "reasons: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn add_reason(
        &self,
        _tenant_id: TenantId,
        _category: String,
        _name: String,
    ) -> Result<Reason> {
        Err(StoreError::Unavailable(
            "add_reason: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn update_reason(
        &self,
        _tenant_id: TenantId,
        _id: i64,
        _category: Option<String>,
        _name: Option<String>,
    ) -> Result<Reason> {
        Err(StoreError::Unavailable(
            "update_reason: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn delete_reason(&self, _tenant_id: TenantId, _id: i64) -> Result<()> {
        Err(StoreError::Unavailable(
            "delete_reason: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn stop_parts(
        &self,
        _tenant_id: TenantId,
        _asset_id: AssetId,
        _from: i64,
        _to: i64,
    ) -> Result<Vec<StopPart>> {
        Err(StoreError::Unavailable(
            "stop_parts: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn annotate_stop(&self, _tenant_id: TenantId, _part: StopPart) -> Result<()> {
        Err(StoreError::Unavailable(
            "annotate_stop: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn split_stop(
        &self,
        _tenant_id: TenantId,
        _asset_id: AssetId,
        _stop_start: i64,
        _at: i64,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "split_stop: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn histories(
        &self,
        _tenant_id: TenantId,
        _asks: Vec<HistoryAsk>,
        _now: i64,
    ) -> Result<Vec<HistoryRows>> {
        Err(StoreError::Unavailable(
            "histories: not on PostgreSQL yet".into(),
        ))
    }
}
