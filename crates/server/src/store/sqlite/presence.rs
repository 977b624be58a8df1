//! What several servers share of presence (replicas.rs). A SQLite server is alone, but answers
//! the same questions, so the seam is one.

use rusqlite::params;

use super::{Result, Sqlite};
use crate::domain::{LoggerRow, TenantId};

impl Sqlite {
    /// Every live logger that ever made contact: row, hardware id, tenant, last contact, online.
    pub async fn presence_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, i64, bool)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, logger_id, tenant_id, last_seen, online FROM loggers
                 WHERE deleted_at IS NULL AND last_seen IS NOT NULL",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records contacts heard (the latest wins), leaving the online flags to the leader.
    pub async fn record_last_seen(&self, contacts: Vec<(LoggerRow, i64)>) -> Result<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE loggers SET last_seen = MAX(COALESCE(last_seen, ?1), ?1) WHERE id = ?2",
            )?;
            for (row, last_seen) in contacts {
                stmt.execute(params![last_seen, row])?;
            }
            Ok(())
        })
        .await
    }
}
