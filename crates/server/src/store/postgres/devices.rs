//! What loggers do besides reporting: register, send heartbeats, and prove who they are (the
//! rules are those of store/sqlite/devices.rs).
//!
//! Credentials are read from the database at every request: SQLite's cache of them has no twin
//! here, since another replica may have rotated a key or claimed the logger meanwhile.

use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::super::{
    DeviceAuth, Heartbeat, PendingLimit, PendingLimits, Registration, RegistrationOutcome, Result,
    StoreError, now_ms,
};
use super::{Pg, Scope};
use crate::domain::{AssetId, LoggerRow, TenantId};
use crate::secrets::hash_secret;

/// Advisory lock held by a registration that makes a new logger: it re-reads the hardware id and
/// counts the pending loggers under it, so two racing first registrations of one id make one
/// logger (the second is then a known one, as on SQLite), and racing new loggers cannot pass the
/// cap on pending loggers together.
const NEW_LOGGER_LOCK: i64 = 0x6173_7365_746e_6577; // "assetnew"

const DEVICE_SELECT: &str = "SELECT id, logger_id, name, tenant_id, allow_keyless, key_hash
     FROM loggers WHERE logger_id = $1 AND deleted_at IS NULL";

fn device_from_row(r: &Row) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        row: r.try_get("id")?,
        logger_id: r.try_get("logger_id")?,
        name: r.try_get("name")?,
        tenant_id: r.try_get("tenant_id")?,
        allow_keyless: r.try_get("allow_keyless")?,
        key_hash: r.try_get("key_hash")?,
    })
}

/// The credentials of the live logger with this hardware id. With `lock`, its row stays locked
/// (`FOR NO KEY UPDATE`) until the transaction ends, so a claim, key rotation or deletion waits
/// for this transaction, and what it read of the logger (its tenant, key) stays true meanwhile;
/// reports, which only reference the row, do not wait.
pub(super) async fn load_device(
    tx: &Transaction<'_>,
    logger_id: &str,
    lock: bool,
) -> Result<Option<DeviceAuth>> {
    let stmt = if lock {
        tx.prepare_cached(&format!("{DEVICE_SELECT} FOR NO KEY UPDATE"))
            .await?
    } else {
        tx.prepare_cached(DEVICE_SELECT).await?
    };
    tx.query_opt(&stmt, &[&logger_id])
        .await?
        .as_ref()
        .map(device_from_row)
        .transpose()
}

/// Pending loggers registered now (the cap of new registrations).
pub(super) async fn count_pending(tx: &Transaction<'_>) -> Result<i64> {
    let stmt = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM loggers WHERE tenant_id IS NULL AND deleted_at IS NULL",
        )
        .await?;
    Ok(tx.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// The asset on `pin` of the logger, made if it has none yet (named `name`, else
/// `"{logger_name} pin {pin}"`), as SQLite's `reports::ensure_asset`. With `max_assets` (a
/// pending logger), refuses to make one past that many.
///
/// The caller holds the logger's row lock (`load_device(.., true)`), so the count of assets
/// cannot be passed by a racing transaction; a racing insert of the same pin is met by the
/// unique key and answered with the asset it made.
pub(super) async fn ensure_asset(
    tx: &Transaction<'_>,
    logger_row: LoggerRow,
    tenant_id: Option<TenantId>,
    logger_name: &str,
    pin: u8,
    name: Option<&str>,
    max_assets: Option<i64>,
) -> Result<AssetId> {
    let find = tx
        .prepare_cached("SELECT id FROM assets WHERE logger_row = $1 AND pin = $2")
        .await?;
    let pin_sql = i16::from(pin);
    if let Some(found) = tx.query_opt(&find, &[&logger_row, &pin_sql]).await? {
        return Ok(found.try_get(0)?);
    }
    if let Some(max) = max_assets {
        let count = tx
            .prepare_cached("SELECT COUNT(*) FROM assets WHERE logger_row = $1")
            .await?;
        if tx
            .query_one(&count, &[&logger_row])
            .await?
            .try_get::<_, i64>(0)?
            >= max
        {
            return Err(StoreError::PendingFull {
                what: PendingLimit::Assets,
                limit: max,
            });
        }
    }
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{logger_name} pin {pin}"));
    let insert = tx
        .prepare_cached(
            "INSERT INTO assets (logger_row, tenant_id, pin, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (logger_row, pin) DO NOTHING RETURNING id",
        )
        .await?;
    match tx
        .query_opt(&insert, &[&logger_row, &tenant_id, &pin_sql, &name])
        .await?
    {
        Some(made) => Ok(made.try_get(0)?),
        // Made meanwhile by a transaction that committed since (the insert waited for it).
        None => Ok(tx
            .query_one(&find, &[&logger_row, &pin_sql])
            .await?
            .try_get(0)?),
    }
}

impl Pg {
    pub async fn device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let device = load_device(&tx, logger_id, false).await?;
        tx.commit().await?;
        Ok(device.map(Arc::new))
    }

    pub async fn register(&self, reg: Registration) -> Result<RegistrationOutcome> {
        let caps = self.pending_limits();
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let outcome = register(&tx, reg, caps).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub async fn heartbeat(&self, logger_row: LoggerRow, hb: Heartbeat) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers SET uptime_s = COALESCE($1, uptime_s), rssi = COALESCE($2, rssi),
                 free_heap = COALESCE($3, free_heap), queued_events = COALESCE($4, queued_events),
                 firmware_version = COALESCE($5, firmware_version),
                 dropped_events = COALESCE($6, dropped_events) WHERE id = $7",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &hb.uptime_s,
                &hb.rssi,
                &hb.free_heap,
                &hb.queued_events,
                &hb.firmware_version,
                &hb.dropped_events,
                &logger_row,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn register(
    tx: &Transaction<'_>,
    reg: Registration,
    caps: PendingLimits,
) -> Result<RegistrationOutcome> {
    if let Some(device) = load_device(tx, &reg.logger_id, true).await? {
        return known(tx, device, &reg, caps).await;
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&NEW_LOGGER_LOCK])
        .await?;
    // Registered meanwhile (READ COMMITTED: this statement sees what committed before the lock).
    if let Some(device) = load_device(tx, &reg.logger_id, true).await? {
        return known(tx, device, &reg, caps).await;
    }
    let tenant_id: Option<TenantId> = if reg.auto_claim {
        let first = tx.prepare_cached("SELECT MIN(id) FROM tenants").await?;
        tx.query_one(&first, &[]).await?.try_get(0)?
    } else {
        None
    };
    if tenant_id.is_none() && count_pending(tx).await? >= caps.loggers {
        return Err(StoreError::PendingFull {
            what: PendingLimit::Loggers,
            limit: caps.loggers,
        });
    }
    let name = reg
        .logger_name
        .clone()
        .unwrap_or_else(|| reg.logger_id.clone());
    let key_hash = hash_secret(&reg.new_key);
    let insert = tx
        .prepare_cached(
            "INSERT INTO loggers (logger_id, tenant_id, name, key_hash, claim_code,
                 firmware_version, ip_address, created_at, remote_address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .await?;
    let row: LoggerRow = tx
        .query_one(
            &insert,
            &[
                &reg.logger_id,
                &tenant_id,
                &name,
                &key_hash,
                &reg.new_claim_code,
                &reg.firmware_version,
                &reg.ip_address,
                &now_ms(),
                &reg.remote_address,
            ],
        )
        .await?
        .try_get(0)?;
    let device = DeviceAuth {
        row,
        logger_id: reg.logger_id.clone(),
        name: name.clone(),
        tenant_id,
        allow_keyless: false,
        key_hash,
    };
    let max_assets = tenant_id.is_none().then_some(caps.assets);
    for (pin, asset_name) in &reg.assets {
        ensure_asset(
            tx,
            device.row,
            tenant_id,
            &name,
            *pin,
            Some(asset_name),
            max_assets,
        )
        .await?;
    }
    Ok(RegistrationOutcome::Created {
        device,
        claim_code: reg.new_claim_code,
    })
}

/// A registration of a logger that exists (its row locked by the caller).
async fn known(
    tx: &Transaction<'_>,
    device: DeviceAuth,
    reg: &Registration,
    caps: PendingLimits,
) -> Result<RegistrationOutcome> {
    if !device.accepts(reg.key.as_deref()) {
        return Ok(RegistrationOutcome::Rejected);
    }
    let update = tx
        .prepare_cached(
            "UPDATE loggers SET firmware_version = COALESCE($1, firmware_version),
             ip_address = COALESCE($2, ip_address),
             remote_address = COALESCE($3, remote_address) WHERE id = $4
             RETURNING claim_code",
        )
        .await?;
    let claim_code: String = tx
        .query_one(
            &update,
            &[
                &reg.firmware_version,
                &reg.ip_address,
                &reg.remote_address,
                &device.row,
            ],
        )
        .await?
        .try_get(0)?;
    let max_assets = device.tenant_id.is_none().then_some(caps.assets);
    for (pin, name) in &reg.assets {
        ensure_asset(
            tx,
            device.row,
            device.tenant_id,
            &device.name,
            *pin,
            Some(name),
            max_assets,
        )
        .await?;
    }
    Ok(RegistrationOutcome::Known { device, claim_code })
}
