//! Loggers, assets and events as their tenant sees them; presence's contacts and offline spans
//! (the rules are those of store/sqlite/fleet.rs).
//!
//! Names are ordered `COLLATE "C"`: byte order, as SQLite's BINARY collation, whatever the
//! database's own collation.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::{
    Asset, AssetChange, BackendError, Event, EventQuery, Logger, LoggerUpdate, Result, StoreError,
    now_ms, state_of, target_of,
};
use super::{Pg, Scope};
use crate::domain::{AssetId, LoggerRow, TenantId};
use crate::secrets::hash_secret;

const LOGGER_COLUMNS: &str =
    "id, logger_id, tenant_id, name, allow_keyless, firmware_version, ip_address, rssi,
     free_heap, uptime_s, queued_events, dropped_events, last_seen, online, acked_seq";

fn logger_from_row(r: &Row) -> Result<Logger> {
    let tenant_id: Option<TenantId> = r.try_get("tenant_id")?;
    Ok(Logger {
        id: r.try_get("id")?,
        logger_id: r.try_get("logger_id")?,
        name: r.try_get("name")?,
        status: if tenant_id.is_some() {
            "claimed"
        } else {
            "pending"
        },
        online: r.try_get("online")?,
        last_seen: r.try_get("last_seen")?,
        firmware_version: r.try_get("firmware_version")?,
        ip_address: r.try_get("ip_address")?,
        rssi: r.try_get("rssi")?,
        free_heap: r.try_get("free_heap")?,
        uptime_s: r.try_get("uptime_s")?,
        queued_events: r.try_get("queued_events")?,
        dropped_events: r.try_get("dropped_events")?,
        allow_keyless: r.try_get("allow_keyless")?,
        acked_seq: r.try_get("acked_seq")?,
        assets: Vec::new(),
        tenant_id,
    })
}

/// A stored pin (SMALLINT) as the `u8` it was stored from.
pub(super) fn pin_of(stored: i16) -> Result<u8> {
    u8::try_from(stored).map_err(|_| {
        StoreError::Database(BackendError::from(format!(
            "a stored pin out of range: {stored}"
        )))
    })
}

const ASSET_SELECT: &str = "SELECT a.id, a.name, l.logger_id, a.pin, a.short_stop_threshold_s,
     a.running, a.since, a.logger_row, a.line, a.area, a.target_bp
     FROM assets a JOIN loggers l ON l.id = a.logger_row";

fn asset_from_row(r: &Row) -> Result<Asset> {
    let running: Option<bool> = r.try_get(5)?;
    Ok(Asset {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        logger_id: r.try_get(2)?,
        pin_number: pin_of(r.try_get(3)?)?,
        short_stop_threshold_s: r.try_get(4)?,
        line: r.try_get(8)?,
        area: r.try_get(9)?,
        target_availability: target_of(r.try_get(10)?),
        state: state_of(running),
        since: r.try_get(6)?,
        running,
        logger_row: r.try_get(7)?,
    })
}

async fn tenant_loggers(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    only: Option<LoggerRow>,
) -> Result<Vec<Logger>> {
    let sql = format!(
        "SELECT {LOGGER_COLUMNS} FROM loggers WHERE tenant_id = $1 AND deleted_at IS NULL
         AND ($2::BIGINT IS NULL OR id = $2) ORDER BY name COLLATE \"C\", id"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let mut loggers = tx
        .query(&stmt, &[&tenant_id, &only])
        .await?
        .iter()
        .map(logger_from_row)
        .collect::<Result<Vec<_>>>()?;
    let assets = tenant_assets(tx, tenant_id, None, false).await?;
    for logger in &mut loggers {
        logger.assets = assets
            .iter()
            .filter(|a| a.logger_row == logger.id)
            .cloned()
            .collect();
    }
    Ok(loggers)
}

/// The tenant's assets (or the one `only`); with `live`, only those on its current loggers.
async fn tenant_assets(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    only: Option<AssetId>,
    live: bool,
) -> Result<Vec<Asset>> {
    let live = if live {
        "AND l.tenant_id = $1 AND l.deleted_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "{ASSET_SELECT} WHERE a.tenant_id = $1 AND ($2::BIGINT IS NULL OR a.id = $2) {live}
         ORDER BY l.name COLLATE \"C\", a.pin, a.id"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    tx.query(&stmt, &[&tenant_id, &only])
        .await?
        .iter()
        .map(asset_from_row)
        .collect()
}

/// The hardware id of a live logger of the tenant, else NotFound. Its row stays locked until
/// the transaction ends (`FOR UPDATE` when it is about to be deleted, else `FOR NO KEY UPDATE`,
/// which reports referencing it do not wait for), so it is still the tenant's live logger when
/// the caller changes it.
async fn owned_logger(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    id: LoggerRow,
    for_delete: bool,
) -> Result<String> {
    let lock = if for_delete {
        "FOR UPDATE"
    } else {
        "FOR NO KEY UPDATE"
    };
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT logger_id FROM loggers WHERE id = $1 AND tenant_id = $2
             AND deleted_at IS NULL {lock}"
        ))
        .await?;
    Ok(tx
        .query_opt(&stmt, &[&id, &tenant_id])
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)?)
}

/// Locks a logger's row (`FOR NO KEY UPDATE`), so that presence's steps for one logger from
/// several replicas take turns (one open offline span at a time).
async fn lock_logger(tx: &Transaction<'_>, logger_row: LoggerRow) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM loggers WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    tx.query_opt(&stmt, &[&logger_row]).await?;
    Ok(())
}

impl Pg {
    pub async fn loggers(&self, tenant_id: TenantId) -> Result<Vec<Logger>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let loggers = tenant_loggers(&tx, tenant_id, None).await?;
        tx.commit().await?;
        Ok(loggers)
    }

    pub async fn logger(&self, tenant_id: TenantId, id: LoggerRow) -> Result<Logger> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let logger = tenant_loggers(&tx, tenant_id, Some(id)).await?.pop();
        tx.commit().await?;
        logger.ok_or(StoreError::NotFound)
    }

    pub async fn logger_row_by_hardware_id(
        &self,
        tenant_id: TenantId,
        logger_id: String,
    ) -> Result<LoggerRow> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE logger_id = $1 AND tenant_id = $2
                 AND deleted_at IS NULL",
            )
            .await?;
        let row = tx.query_opt(&stmt, &[&logger_id, &tenant_id]).await?;
        tx.commit().await?;
        Ok(row.ok_or(StoreError::NotFound)?.try_get(0)?)
    }

    pub async fn update_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        update: LoggerUpdate,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        owned_logger(&tx, tenant_id, id, false).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers SET name = COALESCE($1, name),
                 allow_keyless = COALESCE($2, allow_keyless) WHERE id = $3 AND tenant_id = $4",
            )
            .await?;
        tx.execute(
            &stmt,
            &[&update.name, &update.allow_keyless, &id, &tenant_id],
        )
        .await?;
        tx.commit().await?;
        self.forget_devices();
        Ok(())
    }

    pub async fn delete_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        purge: bool,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        // FOR UPDATE when purging: a report that inserted events for the logger commits
        // before the lock is granted, so the deletes below see its events.
        owned_logger(&tx, tenant_id, id, purge).await?;
        if purge {
            // Everything that names the logger or its assets goes with it; the tenant filter
            // stays on the tables that have one.
            let of_assets = "asset_id IN (SELECT id FROM assets WHERE logger_row = $1
                             AND tenant_id = $2)";
            for sql in [
                format!("DELETE FROM stop_parts WHERE tenant_id = $2 AND {of_assets}"),
                format!("DELETE FROM day_rollups WHERE tenant_id = $2 AND {of_assets}"),
                format!("DELETE FROM planned_downtime WHERE tenant_id = $2 AND {of_assets}"),
                // Through the assets, as in SQLite (the events' index is by asset and time).
                format!("DELETE FROM events WHERE tenant_id = $2 AND {of_assets}"),
            ] {
                let stmt = tx.prepare_cached(&sql).await?;
                tx.execute(&stmt, &[&id, &tenant_id]).await?;
            }
            for sql in [
                "DELETE FROM logger_offline WHERE logger_row = $1",
                "DELETE FROM seq_runs WHERE logger_row = $1",
            ] {
                let stmt = tx.prepare_cached(sql).await?;
                tx.execute(&stmt, &[&id]).await?;
            }
            for sql in [
                "DELETE FROM assets WHERE logger_row = $1 AND tenant_id = $2",
                "DELETE FROM loggers WHERE id = $1 AND tenant_id = $2",
            ] {
                let stmt = tx.prepare_cached(sql).await?;
                tx.execute(&stmt, &[&id, &tenant_id]).await?;
            }
        } else {
            let stmt = tx
                .prepare_cached(
                    "UPDATE loggers SET deleted_at = $1, online = false
                     WHERE id = $2 AND tenant_id = $3",
                )
                .await?;
            tx.execute(&stmt, &[&now_ms(), &id, &tenant_id]).await?;
        }
        tx.commit().await?;
        self.forget_devices();
        Ok(())
    }

    pub async fn rotate_key(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        new_key: String,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        owned_logger(&tx, tenant_id, id, false).await?;
        let stmt = tx
            .prepare_cached("UPDATE loggers SET key_hash = $1 WHERE id = $2 AND tenant_id = $3")
            .await?;
        tx.execute(&stmt, &[&hash_secret(&new_key), &id, &tenant_id])
            .await?;
        tx.commit().await?;
        self.forget_devices();
        Ok(())
    }

    pub async fn claim(
        &self,
        tenant_id: TenantId,
        logger_id: String,
        claim_code: String,
    ) -> Result<LoggerRow> {
        let mut client = self.client().await?;
        // System scope: the logger is pending (no tenant), so the tenant's scope cannot see it.
        let tx = super::begin(&mut client, Scope::System).await?;
        // FOR NO KEY UPDATE: of two racing claims (or a claim and a release), the second waits
        // for the first, then finds the logger no longer pending: NotFound. A registration of
        // the logger holds the same lock, so its new assets get the tenant it read.
        let find = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE logger_id = $1 AND claim_code = $2
                 AND tenant_id IS NULL AND deleted_at IS NULL FOR NO KEY UPDATE",
            )
            .await?;
        let row: LoggerRow = tx
            .query_opt(&find, &[&logger_id, &claim_code.to_ascii_uppercase()])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)?;
        for sql in [
            "UPDATE loggers SET tenant_id = $1 WHERE id = $2 AND tenant_id IS NULL",
            "UPDATE assets SET tenant_id = $1 WHERE logger_row = $2",
            // Through the assets, as in SQLite (the events' index is by asset and time).
            "UPDATE events SET tenant_id = $1
             WHERE asset_id IN (SELECT id FROM assets WHERE logger_row = $2)",
        ] {
            let stmt = tx.prepare_cached(sql).await?;
            tx.execute(&stmt, &[&tenant_id, &row]).await?;
        }
        tx.commit().await?;
        self.forget_device(&logger_id);
        Ok(row)
    }

    pub async fn assets(&self, tenant_id: TenantId) -> Result<Vec<Asset>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let assets = tenant_assets(&tx, tenant_id, None, true).await?;
        tx.commit().await?;
        Ok(assets)
    }

    pub async fn asset(&self, tenant_id: TenantId, id: AssetId) -> Result<Asset> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let asset = tenant_assets(&tx, tenant_id, Some(id), false).await?.pop();
        tx.commit().await?;
        asset.ok_or(StoreError::NotFound)
    }

    pub async fn update_asset(
        &self,
        tenant_id: TenantId,
        id: AssetId,
        change: AssetChange,
    ) -> Result<()> {
        let AssetChange {
            name,
            threshold_s,
            line,
            area,
            target_bp,
        } = change;
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE assets SET name = COALESCE($1, name),
                 short_stop_threshold_s = CASE WHEN $2::BOOLEAN THEN $3::BIGINT
                                          ELSE short_stop_threshold_s END,
                 line = CASE WHEN $4::BOOLEAN THEN $5::TEXT ELSE line END,
                 area = CASE WHEN $6::BOOLEAN THEN $7::TEXT ELSE area END,
                 target_bp = CASE WHEN $8::BOOLEAN THEN $9::BIGINT ELSE target_bp END
                 WHERE id = $10 AND tenant_id = $11",
            )
            .await?;
        let changed = tx
            .execute(
                &stmt,
                &[
                    &name,
                    &threshold_s.is_some(),
                    &threshold_s.flatten(),
                    &line.is_some(),
                    &line.flatten(),
                    &area.is_some(),
                    &area.flatten(),
                    &target_bp.is_some(),
                    &target_bp.flatten(),
                    &id,
                    &tenant_id,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        if threshold_s.is_some() {
            super::rollups::forget_asset_days(&tx, id, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn first_event_ts(&self, tenant_id: TenantId) -> Result<Option<i64>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached("SELECT MIN(ts) FROM events WHERE tenant_id = $1")
            .await?;
        let first = tx.query_one(&stmt, &[&tenant_id]).await?.try_get(0)?;
        tx.commit().await?;
        Ok(first)
    }

    pub async fn events(&self, tenant_id: TenantId, q: EventQuery) -> Result<Vec<Event>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let (before_ts, before_id) = q.before.unzip();
        let stmt = tx
            .prepare_cached(
                "SELECT e.id, e.asset_id, l.logger_id, e.pin, e.running, e.ts, e.received_at, e.seq
                 FROM events e JOIN loggers l ON l.id = e.logger_row
                 WHERE e.tenant_id = $1
                   AND ($2::BIGINT IS NULL OR e.asset_id = $2)
                   AND ($3::TEXT IS NULL OR l.logger_id = $3)
                   AND ($4::BIGINT IS NULL OR e.ts >= $4)
                   AND ($5::BIGINT IS NULL OR e.ts < $5)
                   AND ($6::BIGINT IS NULL OR e.ts < $6 OR (e.ts = $6 AND e.id < $7::BIGINT))
                 ORDER BY e.ts DESC, e.id DESC LIMIT $8",
            )
            .await?;
        let events = tx
            .query(
                &stmt,
                &[
                    &tenant_id,
                    &q.asset_id,
                    &q.logger_id,
                    &q.from,
                    &q.to,
                    &before_ts,
                    &before_id,
                    &q.limit,
                ],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get(0)?,
                    asset_id: r.try_get(1)?,
                    logger_id: r.try_get(2)?,
                    pin: pin_of(r.try_get(3)?)?,
                    state: state_of(Some(r.try_get(4)?)),
                    ts: r.try_get(5)?,
                    received_at: r.try_get(6)?,
                    seq: r.try_get(7)?,
                })
            })
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(events)
    }

    pub async fn logger_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, logger_id, tenant_id, last_seen FROM loggers WHERE deleted_at IS NULL",
            )
            .await?;
        let contacts = tx
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(contacts)
    }

    pub async fn save_contacts(&self, mut contacts: Vec<(LoggerRow, i64, bool)>) -> Result<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        // In row order (stable: of two contacts of one logger the later still wins), so that
        // replicas saving at once lock the rows in the same order and cannot deadlock.
        contacts.sort_by_key(|(row, _, _)| *row);
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers SET last_seen = GREATEST(last_seen, $1), online = $2 WHERE id = $3",
            )
            .await?;
        // Pipelined: sent together and run in order, without a round trip each.
        let updates = contacts.iter().map(|(row, last_seen, online)| {
            let params: [&(dyn ToSql + Sync); 3] = [last_seen, online, row];
            tx.execute_raw(&stmt, params)
        });
        futures_util::future::try_join_all(updates).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn open_offline(&self, logger_row: LoggerRow, since: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        lock_logger(&tx, logger_row).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO logger_offline (logger_row, start_ms)
                 SELECT $1::BIGINT, $2::BIGINT WHERE NOT EXISTS
                   (SELECT 1 FROM logger_offline WHERE logger_row = $1 AND end_ms IS NULL)",
            )
            .await?;
        tx.execute(&stmt, &[&logger_row, &since]).await?;
        super::rollups::forget_logger_days(&tx, logger_row, since).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn close_offline(&self, logger_row: LoggerRow, at: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        lock_logger(&tx, logger_row).await?;
        let open = tx
            .prepare_cached(
                "SELECT MIN(start_ms) FROM logger_offline WHERE logger_row = $1 AND end_ms IS NULL",
            )
            .await?;
        let start: Option<i64> = tx.query_one(&open, &[&logger_row]).await?.try_get(0)?;
        let Some(start) = start else {
            tx.commit().await?;
            return Ok(());
        };
        let close = tx
            .prepare_cached(
                "UPDATE logger_offline SET end_ms = GREATEST(start_ms, $2)
                 WHERE logger_row = $1 AND end_ms IS NULL",
            )
            .await?;
        tx.execute(&close, &[&logger_row, &at]).await?;
        super::rollups::forget_logger_days(&tx, logger_row, start).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Against a real PostgreSQL (`ASSETLOG_TEST_DATABASE_URL`, a role that may create databases):
/// each test in a database of its own, dropped after. Skipped when the variable is unset.
#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio_postgres::NoTls;

    use super::super::super::{PendingLimit, PendingLimits, Registration, RegistrationOutcome};
    use super::super::Options;
    use super::*;
    use crate::store::Role;

    /// Runs `test` against a fresh database, dropped after (also when the test panics).
    async fn with_database<F, Fut>(test: F)
    where
        F: FnOnce(Pg) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Ok(url) = std::env::var("ASSETLOG_TEST_DATABASE_URL") else {
            eprintln!("ASSETLOG_TEST_DATABASE_URL is unset: skipped");
            return;
        };
        let (admin, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let name = format!("assetlog_u_{}", hex::encode(rand::random::<[u8; 8]>()));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (url.as_str(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("a URL with a database");
        let pg = Pg::connect(&format!("{server}/{name}{query}"), Options::default())
            .await
            .unwrap();
        let outcome = tokio::spawn(test(pg.clone())).await;
        pg.close().await;
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    fn registration(logger_id: &str, key: Option<&str>, pins: &[u8]) -> Registration {
        Registration {
            logger_id: logger_id.into(),
            logger_name: None,
            firmware_version: Some("1.0".into()),
            ip_address: Some("10.0.0.7".into()),
            assets: pins.iter().map(|p| (*p, format!("M{p}"))).collect(),
            key: key.map(str::to_owned),
            new_key: format!("key-of-{logger_id}"),
            new_claim_code: "CODE42".into(),
            auto_claim: false,
            remote_address: Some("192.0.2.1".into()),
        }
    }

    /// Rows of `table` that a transaction of `scope` sees without any filter of its own.
    async fn visible(pg: &Pg, scope: Scope, table: &str) -> i64 {
        let mut client = pg.client().await.unwrap();
        let tx = super::super::begin(&mut client, scope).await.unwrap();
        let n = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        tx.commit().await.unwrap();
        n
    }

    #[tokio::test]
    async fn postgres_signup_to_claimed_logger_and_the_tenant_wall() {
        with_database(|pg| async move {
            // Accounts.
            let (admin, a) = pg
                .signup("A".into(), "a@example.com".into(), "h".into(), true)
                .await
                .unwrap()
                .expect("the first sign-up wins");
            assert_eq!(admin.role, Role::Admin);
            assert!(
                pg.signup("X".into(), "x@example.com".into(), "h".into(), true)
                    .await
                    .unwrap()
                    .is_none()
            );
            let (_, b) = pg
                .signup("B".into(), "b@example.com".into(), "h".into(), false)
                .await
                .unwrap()
                .unwrap();
            assert!(pg.has_users().await.unwrap());
            assert_eq!(pg.tenant_ids().await.unwrap(), vec![a.id, b.id]);
            let op = pg
                .create_user(a.id, "op@example.com".into(), "h".into(), Role::Operator)
                .await
                .unwrap();
            let again = pg
                .create_user(a.id, "op@example.com".into(), "h".into(), Role::Viewer)
                .await;
            assert!(
                matches!(&again, Err(StoreError::Conflict(m)) if m == "this email is already one of your people"),
                "{again:?}"
            );
            let elsewhere = pg
                .create_user(b.id, "op@example.com".into(), "h".into(), Role::Viewer)
                .await;
            assert!(
                matches!(&elsewhere, Err(StoreError::Conflict(m)) if m.contains("sign in")),
                "{elsewhere:?}"
            );
            let users = pg.list_users(a.id).await.unwrap();
            assert_eq!(
                users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
                ["a@example.com", "op@example.com"]
            );
            assert!(pg.list_users(b.id).await.unwrap().iter().all(|u| u.tenant_id == b.id));
            assert!(matches!(
                pg.set_user_role(a.id, admin.id, Role::Viewer).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                pg.delete_user(a.id, admin.id).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                pg.set_user_role(b.id, op.id, Role::Admin).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(
                pg.set_user_role(a.id, op.id, Role::Admin).await.unwrap().role,
                Role::Admin
            );
            let (login, tenant, hash) = pg
                .user_for_login("a@example.com".into())
                .await
                .unwrap()
                .unwrap();
            assert_eq!((login.id, tenant.id, hash.as_str()), (admin.id, a.id, "h"));
            pg.create_session(admin.id, "tok".into(), now_ms() + 60_000)
                .await
                .unwrap();
            let session = pg.session("tok".into()).await.unwrap().unwrap();
            assert_eq!((session.user.id, session.tenant.name.as_str()), (admin.id, "A"));
            pg.delete_session("tok".into()).await.unwrap();
            assert!(pg.session("tok".into()).await.unwrap().is_none());

            // A logger registers, pending; its key proves it afterwards.
            let created = pg.register(registration("L1", None, &[0, 1])).await.unwrap();
            let RegistrationOutcome::Created { device, claim_code } = created else {
                panic!("{created:?}");
            };
            assert_eq!((device.tenant_id, claim_code.as_str()), (None, "CODE42"));
            assert!(matches!(
                pg.register(registration("L1", None, &[])).await.unwrap(),
                RegistrationOutcome::Rejected
            ));
            let known = pg
                .register(registration("L1", Some("key-of-L1"), &[2]))
                .await
                .unwrap();
            assert!(
                matches!(&known, RegistrationOutcome::Known { claim_code, .. } if claim_code == "CODE42"),
                "{known:?}"
            );
            let auth = pg.device("L1").await.unwrap().unwrap();
            assert!(auth.accepts(Some("key-of-L1")) && !auth.accepts(Some("other")));
            let pending = pg.pending_loggers().await.unwrap();
            assert_eq!(
                pending.iter().map(|p| (p.logger_id.as_str(), p.assets)).collect::<Vec<_>>(),
                [("L1", 3)]
            );
            // Pending, it is no tenant's.
            assert!(pg.loggers(a.id).await.unwrap().is_empty());
            assert_eq!(visible(&pg, Scope::Tenant(a.id), "loggers").await, 0);

            // Claimed by A (the code in any case), not by B after.
            let row = pg
                .claim(a.id, "L1".into(), "code42".into())
                .await
                .unwrap();
            assert_eq!(row, device.row);
            assert!(matches!(
                pg.claim(b.id, "L1".into(), "CODE42".into()).await,
                Err(StoreError::NotFound)
            ));
            assert!(pg.pending_loggers().await.unwrap().is_empty());
            let loggers = pg.loggers(a.id).await.unwrap();
            assert_eq!(loggers.len(), 1);
            assert_eq!((loggers[0].status, loggers[0].name.as_str()), ("claimed", "L1"));
            assert_eq!(
                loggers[0].assets.iter().map(|a| (a.pin_number, a.name.as_str())).collect::<Vec<_>>(),
                [(0, "M0"), (1, "M1"), (2, "M2")]
            );
            let assets = pg.assets(a.id).await.unwrap();
            assert_eq!(assets.len(), 3);
            assert_eq!(pg.logger(a.id, row).await.unwrap().id, row);
            assert_eq!(
                pg.logger_row_by_hardware_id(a.id, "L1".into()).await.unwrap(),
                row
            );

            // Tenant B sees none of it, by filter and by the wall.
            assert!(pg.loggers(b.id).await.unwrap().is_empty());
            assert!(pg.assets(b.id).await.unwrap().is_empty());
            assert!(matches!(pg.logger(b.id, row).await, Err(StoreError::NotFound)));
            assert!(matches!(
                pg.asset(b.id, assets[0].id).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.logger_row_by_hardware_id(b.id, "L1".into()).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.update_logger(b.id, row, LoggerUpdate::default()).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.rotate_key(b.id, row, "stolen".into()).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.update_asset(b.id, assets[0].id, AssetChange { name: Some("mine".into()), ..Default::default() }).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.delete_logger(b.id, row, true).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(visible(&pg, Scope::Tenant(b.id), "loggers").await, 0);
            assert_eq!(visible(&pg, Scope::Tenant(b.id), "assets").await, 0);
            assert_eq!(visible(&pg, Scope::Tenant(a.id), "loggers").await, 1);
            assert_eq!(visible(&pg, Scope::Tenant(a.id), "assets").await, 3);

            // The tenant manages it.
            pg.update_asset(a.id, assets[0].id, AssetChange { name: Some("Press".into()), threshold_s: Some(Some(60)), line: Some(Some("Line 1".into())), ..Default::default() })
                .await
                .unwrap();
            let press = pg.asset(a.id, assets[0].id).await.unwrap();
            assert_eq!((press.name.as_str(), press.short_stop_threshold_s), ("Press", Some(60)));
            pg.update_asset(a.id, assets[0].id, AssetChange { threshold_s: Some(None), ..Default::default() }).await.unwrap();
            assert_eq!(pg.asset(a.id, assets[0].id).await.unwrap().short_stop_threshold_s, None);
            pg.update_logger(
                a.id,
                row,
                LoggerUpdate {
                    name: Some("Hall".into()),
                    allow_keyless: Some(true),
                },
            )
            .await
            .unwrap();
            assert!(pg.device("L1").await.unwrap().unwrap().accepts(None));
            pg.rotate_key(a.id, row, "new".into()).await.unwrap();
            let auth = pg.device("L1").await.unwrap().unwrap();
            assert!(auth.accepts(Some("new")) && !auth.accepts(Some("key-of-L1")));
            pg.heartbeat(
                &auth,
                crate::store::Heartbeat {
                    rssi: Some(-60),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            pg.save_contacts(vec![(row, 1_000, true)]).await.unwrap();
            let hall = pg.logger(a.id, row).await.unwrap();
            assert_eq!(
                (hall.name.as_str(), hall.rssi, hall.last_seen, hall.online),
                ("Hall", Some(-60), Some(1_000), true)
            );
            assert!(pg.logger_contacts().await.unwrap().contains(&(
                row,
                "L1".into(),
                Some(a.id),
                Some(1_000)
            )));
            pg.open_offline(row, 1_000).await.unwrap();
            pg.open_offline(row, 2_000).await.unwrap();
            pg.close_offline(row, 500).await.unwrap();
            pg.close_offline(row, 9_000).await.unwrap();
            assert_eq!(visible(&pg, Scope::System, "logger_offline").await, 1);
            assert_eq!(pg.first_event_ts(a.id).await.unwrap(), None);
            let page = EventQuery {
                logger_id: Some("L1".into()),
                limit: 10,
                ..Default::default()
            };
            assert!(pg.events(a.id, page).await.unwrap().is_empty());

            // Deleted, it leaves the board and its key stops working.
            pg.delete_logger(a.id, row, false).await.unwrap();
            assert!(pg.loggers(a.id).await.unwrap().is_empty());
            assert!(pg.assets(a.id).await.unwrap().is_empty());
            assert!(pg.device("L1").await.unwrap().is_none());
            assert_eq!(pg.asset(a.id, assets[0].id).await.unwrap().name, "Press");
        })
        .await;
    }

    #[tokio::test]
    async fn postgres_pending_caps_release_expiry_and_purge() {
        with_database(|pg| async move {
            let (_, a) = pg
                .signup("A".into(), "a@example.com".into(), "h".into(), true)
                .await
                .unwrap()
                .unwrap();
            pg.set_pending_limits(PendingLimits {
                loggers: 2,
                events: 10,
                assets: 1,
            });
            let too_many = pg.register(registration("P0", None, &[0, 1])).await;
            assert!(
                matches!(
                    too_many,
                    Err(StoreError::PendingFull {
                        what: PendingLimit::Assets,
                        limit: 1
                    })
                ),
                "{too_many:?}"
            );
            assert!(
                pg.device("P0").await.unwrap().is_none(),
                "nothing of it stored"
            );
            pg.register(registration("P1", None, &[0])).await.unwrap();
            pg.register(registration("P2", None, &[0])).await.unwrap();
            let full = pg.register(registration("P3", None, &[])).await;
            assert!(
                matches!(
                    full,
                    Err(StoreError::PendingFull {
                        what: PendingLimit::Loggers,
                        limit: 2
                    })
                ),
                "{full:?}"
            );
            // A claimed logger pays nothing for the caps.
            let auto = Registration {
                auto_claim: true,
                ..registration("C1", None, &[0, 1, 2])
            };
            let RegistrationOutcome::Created { device, .. } = pg.register(auto).await.unwrap()
            else {
                panic!("not created");
            };
            assert_eq!(device.tenant_id, Some(a.id));
            assert_eq!(pg.loggers(a.id).await.unwrap()[0].assets.len(), 3);

            let released = pg.release_pending("P1".into()).await.unwrap();
            assert!(matches!(
                pg.release_pending("P1".into()).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.release_pending("C1".into()).await,
                Err(StoreError::NotFound)
            ));
            assert!(pg.device("P1").await.unwrap().is_none());
            let expired = pg.expire_pending(now_ms() + 1).await.unwrap();
            assert_eq!(
                expired
                    .iter()
                    .map(|(_, id)| id.as_str())
                    .collect::<Vec<_>>(),
                ["P2"]
            );
            assert_ne!(expired[0].0, released);
            assert!(pg.pending_loggers().await.unwrap().is_empty());

            pg.delete_logger(a.id, device.row, true).await.unwrap();
            assert_eq!(visible(&pg, Scope::System, "loggers").await, 0);
            assert_eq!(visible(&pg, Scope::System, "assets").await, 0);
            // The hardware id is free again.
            assert!(matches!(
                pg.register(registration("C1", None, &[])).await.unwrap(),
                RegistrationOutcome::Created { .. }
            ));
        })
        .await;
    }

    #[tokio::test]
    async fn postgres_racing_writes_decide_as_one_writer_would() {
        with_database(|pg| async move {
            // Racing first sign-ups: one wins.
            let signups = (0..4).map(|i| {
                pg.signup(
                    format!("T{i}"),
                    format!("{i}@example.com"),
                    "h".into(),
                    true,
                )
            });
            let won = futures_util::future::join_all(signups).await;
            assert_eq!(
                won.iter().filter(|w| matches!(w, Ok(Some(_)))).count(),
                1,
                "{won:?}"
            );
            assert!(won.iter().all(Result::is_ok), "{won:?}");
            let tenant = pg.tenant_ids().await.unwrap()[0];
            let (_, other) = pg
                .add_user_to_named_tenant(
                    "T9".into(),
                    "z@example.com".into(),
                    "h".into(),
                    Role::Admin,
                )
                .await
                .unwrap();
            let other = other.id;

            // Racing first registrations of one hardware id: one logger, the others refused.
            let registrations = (0..4).map(|_| pg.register(registration("R1", None, &[0])));
            let outcomes = futures_util::future::join_all(registrations).await;
            let created = outcomes
                .iter()
                .filter(|o| matches!(o, Ok(RegistrationOutcome::Created { .. })))
                .count();
            let rejected = outcomes
                .iter()
                .filter(|o| matches!(o, Ok(RegistrationOutcome::Rejected)))
                .count();
            assert_eq!((created, rejected), (1, 3), "{outcomes:?}");

            // Racing claims of it by two tenants: one gets it.
            let (first, second) = tokio::join!(
                pg.claim(tenant, "R1".into(), "CODE42".into()),
                pg.claim(other, "R1".into(), "CODE42".into()),
            );
            assert_eq!(
                [&first, &second].iter().filter(|c| c.is_ok()).count(),
                1,
                "{first:?} {second:?}"
            );
            let owner = if first.is_ok() { tenant } else { other };
            assert_eq!(pg.assets(owner).await.unwrap().len(), 1);

            // Two admins demoting each other at once: one stays admin.
            let second_admin = pg
                .create_user(tenant, "second@example.com".into(), "h".into(), Role::Admin)
                .await
                .unwrap();
            let first_admin = pg.list_users(tenant).await.unwrap()[0].clone();
            let (x, y) = tokio::join!(
                pg.set_user_role(tenant, first_admin.id, Role::Viewer),
                pg.set_user_role(tenant, second_admin.id, Role::Viewer),
            );
            assert_eq!(
                [&x, &y].iter().filter(|r| r.is_ok()).count(),
                1,
                "{x:?} {y:?}"
            );
            let admins = pg
                .list_users(tenant)
                .await
                .unwrap()
                .into_iter()
                .filter(|u| u.role == Role::Admin)
                .count();
            assert_eq!(admins, 1);
        })
        .await;
    }
}
