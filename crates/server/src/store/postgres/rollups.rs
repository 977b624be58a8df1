//! The day rollups analytics keeps (see store/sqlite/rollups.rs for the rules).

use super::super::{NewDays, Result, StoreError, StoredDays};
use super::Pg;
use crate::domain::{AssetId, TenantId};

impl Pg {
    pub async fn day_rollups(&self, _tenant_id: TenantId, _asset_ids: Vec<AssetId>, _from: i64, _to: i64) -> Result<Vec<StoredDays>> {
        Err(StoreError::Unavailable("day_rollups: not on PostgreSQL yet".into()))
    }

    pub async fn save_day_rollups(&self, _tenant_id: TenantId, _assets: Vec<NewDays>) -> Result<usize> {
        Err(StoreError::Unavailable("save_day_rollups: not on PostgreSQL yet".into()))
    }
}
