//! What several servers share of presence (replicas.rs): the contacts each heard, and the
//! online flags the leader decides.

use tokio_postgres::types::ToSql;

use super::super::Result;
use super::{Pg, Scope, begin};
use crate::domain::{LoggerRow, TenantId};

impl Pg {
    /// Every live logger that ever made contact: row, hardware id, tenant, last contact, online.
    pub async fn presence_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, i64, bool)>> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, logger_id, tenant_id, last_seen, online FROM loggers
                 WHERE deleted_at IS NULL AND last_seen IS NOT NULL",
            )
            .await?;
        let rows = tx
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        tx.commit().await?;
        Ok(rows)
    }

    /// Records contacts heard (the latest wins, whichever server heard it), leaving the online
    /// flags to the leader.
    pub async fn record_last_seen(&self, contacts: Vec<(LoggerRow, i64)>) -> Result<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        let mut contacts = contacts;
        contacts.sort_unstable();
        let (rows, seen): (Vec<LoggerRow>, Vec<i64>) = contacts.into_iter().unzip();
        let mut client = self.client().await?;
        let tx = begin(&mut client, Scope::System).await?;
        // Locked in id order first, as the ingest locks loggers: an update's own order is the
        // join's, and two writers locking in different orders deadlock.
        let lock = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            )
            .await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers l SET last_seen = GREATEST(l.last_seen, u.last_seen)
                 FROM unnest($1::bigint[], $2::bigint[]) AS u(id, last_seen)
                 WHERE l.id = u.id",
            )
            .await?;
        // Sent together; PostgreSQL runs them in order.
        let (lock_params, update_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 2]) =
            ([&rows], [&rows, &seen]);
        tokio::try_join!(
            tx.query(&lock, &lock_params),
            tx.execute(&stmt, &update_params)
        )?;
        tx.commit().await?;
        Ok(())
    }
}
