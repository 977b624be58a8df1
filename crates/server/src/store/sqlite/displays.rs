//! Displays: wall screens' read-only tokens (the kiosk), kept as their hashes.

use rusqlite::{OptionalExtension, params};

use super::{Display, Result, Sqlite, StoreError, Tenant, now_ms};
use crate::domain::TenantId;

fn display_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Display> {
    Ok(Display {
        id: r.get("id")?,
        name: r.get("name")?,
        created_at: r.get("created_at")?,
    })
}

impl Sqlite {
    pub async fn add_display(
        &self,
        tenant_id: TenantId,
        name: String,
        token_hash: String,
    ) -> Result<Display> {
        self.write(move |conn| {
            let created_at = now_ms();
            conn.execute(
                "INSERT INTO displays (tenant_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![tenant_id, name, token_hash, created_at],
            )?;
            Ok(Display {
                id: conn.last_insert_rowid(),
                name,
                created_at,
            })
        })
        .await
    }

    pub async fn displays(&self, tenant_id: TenantId) -> Result<Vec<Display>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, created_at FROM displays WHERE tenant_id = ?1 ORDER BY id",
            )?;
            let all = stmt
                .query_map([tenant_id], display_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(all)
        })
        .await
    }

    pub async fn delete_display(&self, tenant_id: TenantId, id: i64) -> Result<String> {
        self.write(move |conn| {
            let hash: Option<String> = conn
                .query_row(
                    "DELETE FROM displays WHERE id = ?1 AND tenant_id = ?2 RETURNING token_hash",
                    params![id, tenant_id],
                    |r| r.get(0),
                )
                .optional()?;
            hash.ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn display_session(&self, token_hash: String) -> Result<Option<(Display, Tenant)>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT d.id, d.name, d.created_at, t.id AS tenant_id, t.name AS tenant_name
                     FROM displays d JOIN tenants t ON t.id = d.tenant_id WHERE d.token_hash = ?1",
                )?
                .query_row([token_hash], |r| {
                    Ok((
                        display_from_row(r)?,
                        Tenant {
                            id: r.get("tenant_id")?,
                            name: r.get("tenant_name")?,
                        },
                    ))
                })
                .optional()?)
        })
        .await
    }
}
