//! Displays: wall screens' read-only tokens (as store/sqlite/displays.rs).

use tokio_postgres::Row;

use super::super::{Display, Result, StoreError, Tenant, now_ms};
use super::{Pg, Scope};
use crate::domain::TenantId;

fn display_from_row(r: &Row) -> Result<Display> {
    Ok(Display {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Pg {
    pub async fn add_display(
        &self,
        tenant_id: TenantId,
        name: String,
        token_hash: String,
    ) -> Result<Display> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO displays (tenant_id, name, token_hash, created_at)
                 VALUES ($1, $2, $3, $4) RETURNING id, name, created_at",
            )
            .await?;
        let row = tx
            .query_one(&stmt, &[&tenant_id, &name, &token_hash, &now_ms()])
            .await?;
        let display = display_from_row(&row)?;
        tx.commit().await?;
        Ok(display)
    }

    pub async fn displays(&self, tenant_id: TenantId) -> Result<Vec<Display>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, name, created_at FROM displays WHERE tenant_id = $1 ORDER BY id",
            )
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id]).await?;
        tx.commit().await?;
        rows.iter().map(display_from_row).collect()
    }

    pub async fn delete_display(&self, tenant_id: TenantId, id: i64) -> Result<String> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "DELETE FROM displays WHERE id = $1 AND tenant_id = $2 RETURNING token_hash",
            )
            .await?;
        let row = tx.query_opt(&stmt, &[&id, &tenant_id]).await?;
        tx.commit().await?;
        row.map(|r| r.get(0)).ok_or(StoreError::NotFound)
    }

    pub async fn display_session(&self, token_hash: String) -> Result<Option<(Display, Tenant)>> {
        let mut client = self.client().await?;
        // The token names the tenant: looked up across them, as a session is.
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT d.id, d.name, d.created_at, t.id AS tenant_id, t.name AS tenant_name
                 FROM displays d JOIN tenants t ON t.id = d.tenant_id WHERE d.token_hash = $1",
            )
            .await?;
        let row = tx.query_opt(&stmt, &[&token_hash]).await?;
        tx.commit().await?;
        row.map(|r| {
            Ok((
                display_from_row(&r)?,
                Tenant {
                    id: r.try_get("tenant_id")?,
                    name: r.try_get("tenant_name")?,
                },
            ))
        })
        .transpose()
    }
}
